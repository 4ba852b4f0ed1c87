package scenarios_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/scenarios"
)

// One gRPC channel (pick_first through the ClusterIP) and both pods killed
// without a grace period: every call fails until the replacements serve,
// which start slowly (app.startupDelay 5s: in CI run 32 replacements
// that started at once were ready before the kubelet had stopped the old
// containers, and 1 call failed). 30 s of load: on a slow machine the
// replacements served only 12 s after the kill (session 13's CI run 34),
// and a 20 s load ended before the report could see a recovery.
// The report's figures agree with a count made here from the raw samples:
// the same requests and failures, every failure classed by its status code,
// the first error and the client-seen recovery (inject to the end of the
// last failure) within 1 s of the last failed call's start.
func TestIntegrationGRPCAbruptKillAgreesWithRawCount(t *testing.T) {
	clustertest.RequireDocker(t)
	t.Parallel()
	s := parse(t, `
name: grpc-pick-first-abrupt
seed: 7
cluster: {workers: 2}
app: {replicas: 2, startupDelay: 5s}
load: {via: inCluster, pods: 1, protocol: grpc, connections: 1, rate: 100/s, duration: 30s}
faults:
  - {type: pod-kill, at: 6s, percent: 100%, gracePeriod: 0s}
slo: {availability: 50%, recovery: 20s}
`)
	var (
		mu  sync.Mutex
		raw []report.Sample
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	res, err := scenarios.Run(ctx, s, scenarios.Options{Env: sharedEnv(t), Progress: clustertest.LogWriter(t),
		OnSample: func(smp report.Sample) { mu.Lock(); raw = append(raw, smp); mu.Unlock() }})
	require.NoError(t, err)
	require.Len(t, res.Faults, 1)
	f := res.Faults[0]

	// the run the result is from (a run confirmed alone is a second one)
	var mine []report.Sample
	failed := 0
	var first, last time.Time
	for _, smp := range raw {
		if smp.Start.Before(res.Start) || !smp.Start.Before(res.End.Add(time.Minute)) {
			continue
		}
		mine = append(mine, smp)
		if smp.OK() {
			continue
		}
		failed++
		assert.Equal(t, "grpc UNAVAILABLE", report.ErrorClass(smp), smp.Error)
		if smp.Start.Before(f.Inject) {
			continue
		}
		if first.IsZero() || smp.Start.Before(first) {
			first = smp.Start
		}
		if smp.Start.After(last) {
			last = smp.Start
		}
	}
	t.Logf("raw: %d calls, %d failed; after the kill: first failure +%s, last +%s; report: first error %s, recovery %s, errors %s",
		len(mine), failed, first.Sub(f.Inject), last.Sub(f.Inject), optDur(f.FirstError), optDur(f.Recovery), f.Errors)
	assert.Equal(t, len(mine), res.Requests, "every call counted once")
	assert.Equal(t, failed, res.Failed)
	assert.Equal(t, map[string]int{"grpc UNAVAILABLE": failed}, map[string]int(res.Errors), "classed by status code")
	require.Positive(t, failed, "killing every pod the channel can reach fails calls")
	require.NotNil(t, f.FirstError)
	assert.InDelta(t, first.Sub(f.Inject).Seconds(), f.FirstError.D().Seconds(), 0.1, "first error: the first failed call's start")
	require.NotNil(t, f.Recovery, "recovered: %s", res.Reasons)
	assert.InDelta(t, last.Sub(f.Inject).Seconds(), f.Recovery.D().Seconds(), 1.0, "client-seen recovery within 1 s of the last failed call")
}

func optDur(d *report.Duration) string {
	if d == nil {
		return "-"
	}
	return d.String()
}

// podinfo, an open-source gRPC service aftershock did not write, deployed
// from its own kustomize base (scenarios/examples/podinfo, the shipped
// scenario there): calls encoded and answers read through its server
// reflection, from a load pod over 6 channels; each answer's hostname
// field names a podinfo pod, the killed one among them until it stops,
// failures (if any) classed by gRPC status code, and the scenario passes.
func TestIntegrationGRPCOwnService(t *testing.T) {
	clustertest.RequireDocker(t)
	ictx, icancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer icancel()
	_, err := clustertest.EnsurePodinfoImage(ictx, clustertest.LogWriter(t))
	require.NoError(t, err)
	t.Parallel()
	// after t.Parallel: the wait for the package's serial tests (half an
	// hour in CI) must not use up the run's time (CI run of stop 28)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	s, err := scenarios.ParseFile("examples/podinfo/grpc-pod-kill.yaml")
	require.NoError(t, err)
	var (
		mu  sync.Mutex
		raw []report.Sample
	)
	res, err := scenarios.Run(ctx, s, scenarios.Options{Env: sharedEnv(t), Progress: clustertest.LogWriter(t),
		OnSample: func(smp report.Sample) { mu.Lock(); raw = append(raw, smp); mu.Unlock() }})
	require.NoError(t, err)
	t.Logf("verdict %s: %d calls, %d failed %v; attribution %q", res.Verdict, res.Requests, res.Failed, res.Errors, res.Info["attribution"])
	assert.Contains(t, res.Info["attribution"], "gRPC response field hostname")
	assert.Contains(t, res.Info["load"], "info.InfoService/Info")
	require.Len(t, res.Faults, 1)
	require.Len(t, res.Faults[0].Victims, 1)
	victim, inject := res.Faults[0].Victims[0].Pod, res.Faults[0].Inject

	served := map[string]int{}
	var victimLast time.Time
	for _, smp := range raw {
		if smp.Start.Before(res.Start) || smp.Start.After(res.End) || !smp.OK() {
			continue
		}
		require.True(t, strings.HasPrefix(smp.Pod, "podinfo-"), "every answered call names a podinfo pod through its hostname field, got %q", smp.Pod)
		served[smp.Pod]++
		if smp.Pod == victim && smp.Start.After(victimLast) {
			victimLast = smp.Start
		}
	}
	t.Logf("answers per pod: %v (killed: %s, its last answer +%s)", served, victim, victimLast.Sub(inject))
	assert.GreaterOrEqual(t, len(served), 2, "6 channels through the ClusterIP reach more than one of 3 pods: %v", served)
	assert.Less(t, victimLast.Sub(inject), 10*time.Second, "the killed pod %s stops answering within its shutdown (3 s) and grace", victim)
	for class := range res.Errors {
		assert.True(t, strings.HasPrefix(class, "grpc "), "failures classed by status code: %v", res.Errors)
	}
	assert.GreaterOrEqual(t, res.Requests, 1980)
	assert.Equal(t, report.Pass, res.Verdict)
}
