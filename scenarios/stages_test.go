package scenarios

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/faults"
	"github.com/aftershock-dev/aftershock/report"
)

// fakePath is a traffic path of a test: no cluster, no network; its
// driver emits a run's samples itself, spread evenly over two pods, the
// ones between failFrom and failTo failing.
type fakePath struct{ failFrom, failTo time.Duration }

func (p fakePath) aim(_ context.Context, r *run) error {
	r.lo.URL, r.target = "http://fake/", "http://fake/"
	r.where = "fake: from the test to nowhere"
	r.drive = fakeDriver(p)
	r.defer_(func() error { r.say("fake path undone"); return nil })
	return nil
}

type fakeDriver fakePath

func (fakeDriver) begin(context.Context, *run) (time.Time, error) { return time.Now(), nil }

func (d fakeDriver) run(_, _ context.Context, r *run, sink func(report.Sample)) error {
	n := int(r.s.Load.Planned())
	step := r.s.Load.Duration / time.Duration(n)
	for i := range n {
		at := time.Duration(i) * step
		smp := report.Sample{Start: r.start.Add(at), Latency: time.Millisecond, Status: 200, Pod: fmt.Sprintf("app-%d", i%2), Node: "worker"}
		if at >= d.failFrom && at < d.failTo {
			smp.Status, smp.Pod = 503, ""
		}
		sink(smp)
	}
	r.stats.Requests, r.stats.Elapsed = uint64(n), r.s.Load.Duration
	return nil
}

// fakeRun is a run past its cluster, app and fault stages, with fakes.
func fakeRun(t *testing.T, yaml string, p trafficPath) *run {
	t.Helper()
	s, err := Parse([]byte(yaml), "fake.yaml")
	require.NoError(t, err)
	s.Load.Via = "fake"
	paths["fake"] = p
	t.Cleanup(func() { delete(paths, "fake") })
	var lines []string
	r := newRun(s, Options{Env: &Env{}})
	r.say = func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }
	t.Cleanup(func() { t.Logf("progress: %q", lines) })
	r.c = &clusters.Cluster{Name: "fake", Managed: true}
	r.ns = "as-fake"
	r.app = &deployed{ns: r.ns, request: s.App.Request, attribution: s.App.Attribution, info: map[string]string{},
		check: clusters.TrafficCheck{Pods: []string{"app-0", "app-1"}}}
	r.tl = faults.NewTimeline(nil)
	r.obs = &faults.Observer{}
	r.reverts = &faults.Reverts{}
	r.runner = &faults.Runner{Env: &faults.Env{Cluster: r.c}, Reverts: r.reverts, Timeline: r.tl}
	return r
}

// The path, load and analysis stages run with a fake path: the path aims
// the load, its driver's samples reach the recorder, the analysis gives
// the verdict the samples call for, and what the path set up is undone.
func TestStagesWithAFakePath(t *testing.T) {
	const spec = `name: fake
app: {replicas: 2}
load: {rate: 100/s, duration: 10s}
slo: {availability: 99%}
`
	for _, tc := range []struct {
		name string
		path fakePath
		want report.Verdict
	}{
		{"clean", fakePath{}, report.Pass},
		{"failing 2s", fakePath{failFrom: 4 * time.Second, failTo: 6 * time.Second}, report.Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fakeRun(t, spec, tc.path)
			ctx := context.Background()
			for _, st := range []stage{{"path", r.aim}, {"load", r.load}, {"analysis", r.analyze}} {
				require.NoError(t, st.run(ctx), st.name)
			}
			require.NotNil(t, r.res)
			assert.Equal(t, 1000, r.res.Requests)
			assert.Equal(t, "fake: from the test to nowhere", r.res.Path)
			assert.Equal(t, tc.want, r.res.Verdict, r.res.Reasons)
			if tc.want == report.Fail {
				assert.Equal(t, 200, r.res.Failed)
			}
			require.Len(t, r.cleanups, 1, "the path's undo is pushed")
			require.NoError(t, r.cleanup())
			assert.Empty(t, r.cleanups)
		})
	}
}

// Cleanups run last first, every one, their errors joined.
func TestRunCleanupsLastFirst(t *testing.T) {
	r := newRun(&Spec{Name: "x"}, Options{Env: &Env{}})
	var order []string
	for _, n := range []string{"lease", "namespace", "observer", "reverts"} {
		r.defer_(func() error {
			order = append(order, n)
			if n == "namespace" {
				return errors.New("namespace stuck")
			}
			return nil
		})
	}
	err := r.cleanup()
	assert.Equal(t, []string{"reverts", "observer", "namespace", "lease"}, order)
	assert.ErrorContains(t, err, "namespace stuck")
}

// An unknown path is an error, not a silent default.
func TestAimUnknownPath(t *testing.T) {
	r := newRun(&Spec{Name: "x", Load: LoadSpec{Via: "carrier-pigeon"}}, Options{Env: &Env{}})
	r.app = &deployed{}
	assert.ErrorContains(t, r.aim(context.Background()), `load.via "carrier-pigeon": no such traffic path`)
}

// A run notes the scenarios that hold its cluster beside it during the
// load, and its report names them; a fail seen beside them is run again
// alone (confirmAlone), whose report says what the first run saw.
func TestRunNotesWhoRanBeside(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	const spec = `name: fake
app: {replicas: 2}
load: {rate: 100/s, duration: 2s}
slo: {availability: 99%}
`
	ctx := context.Background()
	c := &clusters.Cluster{Name: "fake", Managed: true}
	other, err := c.Lease(ctx, false, nil)
	require.NoError(t, err)
	defer other.Release()
	require.NoError(t, other.Announce("pod-kill"))

	r := fakeRun(t, spec, fakePath{failFrom: 0, failTo: time.Second})
	l, err := c.Lease(ctx, false, nil)
	require.NoError(t, err)
	defer l.Release()
	require.NoError(t, l.Announce("fake"))
	r.leased = l
	for _, st := range []stage{{"path", r.aim}, {"load", r.load}, {"analysis", r.analyze}} {
		require.NoError(t, st.run(ctx), st.name)
	}
	assert.Equal(t, []string{"pod-kill"}, r.beside)
	assert.Contains(t, r.res.Info["side by side with"], "pod-kill")
	assert.Equal(t, report.Fail, r.res.Verdict)
	assert.True(t, confirmAlone(r.res, r.beside, r.opts), "a fail beside others is confirmed alone")
	assert.False(t, confirmAlone(r.res, nil, r.opts), "a fail with no one beside stands")
	assert.False(t, confirmAlone(r.res, r.beside, Options{Alone: true}), "a run alone is not run again")
	assert.False(t, confirmAlone(&report.Result{Verdict: report.Pass}, r.beside, r.opts), "a pass beside others stands")
	assert.False(t, confirmAlone(&report.Result{Verdict: report.Inconclusive}, r.beside, r.opts))

	// the confirming run: alone, its report says what the first one saw
	other.Release()
	r2 := fakeRun(t, spec, fakePath{})
	r2.opts.Alone, r2.opts.sideBySide = true, "FAIL beside pod-kill: availability"
	for _, st := range []stage{{"path", r2.aim}, {"load", r2.load}, {"analysis", r2.analyze}} {
		require.NoError(t, st.run(ctx), st.name)
	}
	assert.Empty(t, r2.beside)
	assert.Contains(t, r2.res.Info["run side by side first"], "FAIL beside pod-kill")
	assert.Equal(t, report.Pass, r2.res.Verdict)
}

// The finding for long-lived connections: pinned when the calls reached
// only some of the ready pods before any fault.
func TestConnectionsNote(t *testing.T) {
	res := &report.Result{Phases: []report.Phase{{Name: "steady", Reused: report.Even(map[string]int{"a": 100}, []string{"a", "b", "c", "d"})}}}
	assert.Equal(t, "pinned: 1 client channel(s) carried every call to 1 of 4 ready pods (steady phase); a Service balances connections, not the calls on them", connectionsNote(res, 1, false))
	res.Phases[0].Reused = report.Even(map[string]int{"a": 30, "b": 20, "c": 25, "d": 25}, []string{"a", "b", "c", "d"})
	assert.Equal(t, "1 client channel(s) carried calls to all 4 ready pods (steady phase)", connectionsNote(res, 1, false))
	assert.Empty(t, connectionsNote(&report.Result{}, 1, false), "no baseline: nothing to say")
}
