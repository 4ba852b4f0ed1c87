package report

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Transport errors as Go's net/http (through vegeta) words them.
func TestErrorClass(t *testing.T) {
	for s, want := range map[Sample]string{
		{Status: 200}: "",
		{Error: `Get "http://127.0.0.1:30080/": dial tcp 127.0.0.1:30080: connect: connection refused`}:                      ClassRefused,
		{Error: `Get "http://127.0.0.1:30080/": read tcp 127.0.0.1:51234->127.0.0.1:30080: read: connection reset by peer`}:  ClassReset,
		{Error: `Get "http://127.0.0.1:30080/": EOF`}:                                                                        ClassReset,
		{Error: `Get "http://127.0.0.1:30080/": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`}: ClassTimeout,
		{Error: `Get "http://127.0.0.1:30080/": dial tcp 127.0.0.1:30080: i/o timeout`}:                                      ClassTimeout,
		{Error: `Get "http://web.ns.svc.cluster.local/": dial tcp: lookup web.ns.svc.cluster.local: no such host`}:           ClassNoRoute,
		{Error: `dial tcp 10.96.0.12:80: connect: no route to host`}:                                                         ClassNoRoute,
		{Error: "no response"}: ClassOther,
		{Error: "grpc UNAVAILABLE: connection error: desc = \"transport: Error while dialing: dial tcp 10.96.0.12:80: connect: connection refused\""}: "grpc UNAVAILABLE",
		{Error: "grpc DEADLINE_EXCEEDED: context deadline exceeded"}:                                                                                  "grpc DEADLINE_EXCEEDED",
		{Error: "websocket close 1001: draining"}:                                                                                                     "websocket close 1001",
		{Error: "websocket not connected: dial tcp 127.0.0.1:30080: connect: connection refused"}:                                                     "websocket not connected",
		{Error: "failed to get reader: failed to read frame header: EOF"}:                                                                             ClassReset,
		{Status: 503}: "http 503",
		{Status: 502}: "http 502",
		{Status: 404}: Class4xx,
		{Status: 429}: Class4xx,
		{Status: 0}:   ClassOther,
	} {
		assert.Equal(t, want, ErrorClass(s), "%+v", s)
	}
}

// Failed samples are counted by class exactly, per window, phase, fault
// and run; the fault names its dominant class.
func TestErrorClassesCountedPerPhaseAndFault(t *testing.T) {
	inject := t0.Add(10 * time.Second)
	healthy := okSample("a", "b")
	// 100/s for 30 s; in [10 s, 11 s): every 2nd refused, every 10th a
	// timeout, every 10th (other) a 503; at 20 s one reset
	ss := synth(100, 30*time.Second, 3, func(i int, at time.Time, r *rand.Rand) Sample {
		off := at.Sub(t0)
		switch {
		case off >= 10*time.Second && off < 11*time.Second && i%2 == 0:
			return Sample{Error: "dial tcp: connect: connection refused", Latency: time.Millisecond}
		case off >= 10*time.Second && off < 11*time.Second && i%10 == 1:
			return Sample{Error: "context deadline exceeded (Client.Timeout exceeded while awaiting headers)", Latency: time.Second}
		case off >= 10*time.Second && off < 11*time.Second && i%10 == 3:
			return Sample{Status: 503, Latency: time.Millisecond}
		case off == 20*time.Second:
			return Sample{Error: "read: connection reset by peer", Latency: time.Millisecond}
		}
		return healthy(i, at, r)
	})
	res := Analyze(record(100*time.Millisecond, ss), Input{
		Scenario: "classes", Start: t0, End: t0.Add(30 * time.Second),
		SLO:    SLO{Availability: 0.99, Recovery: Duration(5 * time.Second)},
		Faults: []Fault{{ID: "kill-1", Type: "pod-kill", Inject: inject, Revert: inject.Add(time.Second)}},
	})
	want := ErrorCounts{ClassRefused: 50, ClassTimeout: 10, "http 503": 10, ClassReset: 1}
	assert.Equal(t, want, res.Errors)
	assert.Equal(t, res.Failed, res.Errors.Total())
	require.Len(t, res.Phases, 3)
	assert.Empty(t, res.Phases[0].Errors, "baseline")
	assert.Equal(t, ErrorCounts{ClassRefused: 50, ClassTimeout: 10, "http 503": 10}, res.Phases[1].Errors)
	assert.Equal(t, ErrorCounts{ClassReset: 1}, res.Phases[2].Errors)
	require.Len(t, res.Faults, 1)
	assert.Equal(t, want, res.Faults[0].Errors, "watched to the end of the run")
	assert.Equal(t, "refused 70%, http 503 14%, timeout 14%, others 1%", res.Faults[0].Errors.String())
	sum := ErrorCounts{}
	for _, w := range res.Windows {
		sum = sum.add(w.Errors)
		assert.Equal(t, w.Requests-w.OK, w.Errors.Total(), "window at %s", w.Offset)
	}
	assert.Equal(t, want, sum)
	assert.Equal(t, "-", ErrorCounts{}.String())
	assert.Equal(t, "refused >99%, timeout <1%", ErrorCounts{ClassRefused: 999, ClassTimeout: 1}.String())
}

// result.json files written before error classes (schema v1) still read.
func TestReadsSchemaV1(t *testing.T) {
	res := Analyze(record(time.Second, synth(10, 5*time.Second, 1, okSample("a"))), Input{Scenario: "old", Start: t0, End: t0.Add(5 * time.Second), SLO: SLO{Availability: 0.99}})
	b, err := json.Marshal(res)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	m["schema"] = "aftershock.result/v1"
	delete(m, "errors")
	b, err = json.Marshal(m)
	require.NoError(t, err)
	f := filepath.Join(t.TempDir(), FileJSON)
	require.NoError(t, os.WriteFile(f, b, 0o644))
	old, err := ReadFile(f)
	require.NoError(t, err)
	assert.Equal(t, "old", old.Scenario)
	assert.Empty(t, old.Errors)
	m["schema"] = "aftershock.result/v9"
	b, _ = json.Marshal(m)
	require.NoError(t, os.WriteFile(f, b, 0o644))
	_, err = ReadFile(f)
	require.ErrorContains(t, err, `schema "aftershock.result/v9"`)
}
