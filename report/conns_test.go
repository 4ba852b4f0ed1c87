package report

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Drops are given to the fault injected last before them, with how soon
// each connection was back and where; connections per pod at the start and
// the end; the reconnect check passes, fails on a slow or missing
// reconnection, and says nothing when the load ended too soon to tell.
func TestConnectionsDropsAndReconnects(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	up := func(ms, c int, pod string) ConnEvent { return ConnEvent{At: at(ms), Conn: c, Up: true, Pod: pod} }
	down := func(ms, c int, pod, why string) ConnEvent {
		return ConnEvent{At: at(ms), Conn: c, Pod: pod, Reason: why}
	}
	faults := []Fault{{ID: "kill", Inject: at(5000)}, {ID: "kill2", Inject: at(20000)}}
	events := []ConnEvent{
		up(10, 0, "a"), up(11, 1, "b"), up(12, 2, "c"), up(13, 3, "a"),
		down(5100, 0, "a", "close 1001 (going away)"), down(5101, 3, "a", "EOF"),
		up(5160, 0, "b"), up(5900, 3, "c"), // back in 60 ms and 799 ms
		down(20100, 1, "b", "EOF"), // never back, 9.9 s before the end
	}
	end := at(30000)
	c := connections(events, faults, end)
	require.NotNil(t, c)
	assert.Equal(t, 4, c.Held)
	assert.Equal(t, map[string]int{"a": 2, "b": 1, "c": 1}, c.First)
	assert.Equal(t, map[string]int{"b": 1, "c": 2}, c.Last)
	assert.Equal(t, "c 2, b 1", PerPod(c.Last))
	by := c.ByFault()
	require.Len(t, by, 2)
	k := by[0]
	assert.Equal(t, "kill", k.Fault)
	assert.Equal(t, 2, k.Dropped)
	assert.Equal(t, 2, k.Back)
	assert.Equal(t, map[string]int{"a": 2}, k.From)
	assert.Equal(t, map[string]int{"b": 1, "c": 1}, k.To)
	assert.Equal(t, Duration(799*time.Millisecond), k.Slowest)
	assert.Equal(t, 0, by[1].Back)

	assert.Equal(t, StatusPass, reconnectCheck(c, k, Duration(time.Second), end).Status)
	assert.Equal(t, StatusFail, reconnectCheck(c, k, Duration(500*time.Millisecond), end).Status, "799 ms > 500 ms")
	ck := reconnectCheck(c, by[1], Duration(time.Second), end)
	assert.Equal(t, StatusFail, ck.Status, ck.Value)
	assert.Contains(t, ck.Value, "1 not back within 1s")
	ck = reconnectCheck(c, by[1], Duration(time.Second), at(20500))
	assert.Equal(t, StatusSkipped, ck.Status, "dropped 0.4 s before the end: too soon to tell")

	times, pods, counts := c.PerPodOverTime()
	assert.Len(t, times, len(events))
	assert.Equal(t, []string{"a", "b", "c"}, pods)
	assert.Equal(t, []int{2, 1, 1}, counts[3], "after the first connects")
	assert.Equal(t, []int{0, 1, 1}, counts[5], "both of a's dropped")
	assert.Equal(t, []int{0, 2, 2}, counts[7], "back on b and c")
	assert.Equal(t, []int{0, 1, 2}, counts[8], "one of b's dropped, not back")

	assert.Nil(t, connections(nil, faults, end))
	assert.Nil(t, (*Connections)(nil).ByFault())
}
