package scenarios_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/faults"
	"github.com/aftershock-dev/aftershock/loadgen"
	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/report/render"
	"github.com/aftershock-dev/aftershock/report/reporttest"
	"github.com/aftershock-dev/aftershock/scenarios"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

var (
	envMu sync.Mutex
	env   *scenarios.Env
)

// TestScenarios runs every scenarios/*.yaml on one shared kind cluster and
// asserts each reaches the verdict it expects (pass, or fail for the
// negative control), with every report file written. They run in parallel:
// each takes its lease (side by side, at most one per CPU core, or alone:
// Spec.Alone), as `aftershock run --parallel` does.
//
// The reports open in a real browser only after every scenario has ended
// (a Cleanup of the parent test): headless Chromium takes the machine's
// cores for a second or more, and beside a scenario's load it is a
// neighbour no lease knows of: rendering over and over beside steady-state
// it took its p99 from ~10 ms to 61.7 ms. (CI run 16 lost
// rollout-zero-downtime, alone on the cluster, to 35 timed-out requests
// with reports rendering beside it; that Chromium caused it is not shown.)
func TestScenarios(t *testing.T) {
	files, err := scenarios.Files(".")
	require.NoError(t, err)
	base := outDir(t)
	var (
		mu    sync.Mutex
		pages []browserCheck
	)
	t.Cleanup(func() { // before base's own cleanup removes it (last registered, first run)
		for _, p := range pages {
			t.Logf("%s: report.html in a browser", p.name)
			reporttest.CheckReport(t, p.html, p.svgs)
		}
	})
	// the ones that take the cluster alone first: they run one after another
	// whatever the order, and the side-by-side ones then fill every place;
	// interleaved, each alone one waits for the places to drain while one
	// scenario runs where two could (about 200 s of CI run 28's 1300)
	specs := map[string]*scenarios.Spec{}
	for _, f := range files {
		s, err := scenarios.ParseFile(f)
		require.NoError(t, err, f)
		specs[f] = s
	}
	// (those with node faults last of them: a deploy event, alone and
	// allowed no failed request, is not the one to follow a node's restart)
	rank := func(s *scenarios.Spec) int {
		switch a, _ := s.Alone(); {
		case a && !faults.AnyNodeLevel(s.Faults):
			return 0
		case a:
			return 1
		}
		return 2
	}
	sort.SliceStable(files, func(i, j int) bool { return rank(specs[files[i]]) < rank(specs[files[j]]) })
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		s := specs[f]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := sharedEnv(t)
			if s.App.Own != nil {
				_, err := clustertest.EnsureHTTPBinImage(context.Background())
				require.NoError(t, err)
			}
			out := filepath.Join(base, s.Name)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute) // the lease may wait for scenarios side by side
			defer cancel()
			res, err := scenarios.Run(ctx, s, scenarios.Options{Env: env, Out: out, Progress: clustertest.LogWriter(t)})
			require.NoError(t, err)
			t.Logf("%s", render.Summary(res))
			for _, fl := range []string{report.FileJSON, report.FileJUnit, report.FileMarkdown, report.FileHTML} {
				fi, err := os.Stat(filepath.Join(out, fl))
				require.NoError(t, err)
				assert.Positive(t, fi.Size())
			}
			// the HTML report renders, with its plots, in a real browser
			svgs := 2 // availability and p99 over time
			if res.Failed > 0 {
				svgs++ // failed requests by class
			}
			if res.Info["attribution"] != "none" {
				svgs++ // requests per pod over time
			}
			for _, ph := range res.Phases {
				if ph.New != nil || ph.Reused != nil {
					svgs++ // per-pod shares of each phase
				}
			}
			if res.Connections != nil {
				svgs++ // held connections per pod over time
			}
			if len(res.Versions()) > 0 {
				svgs++ // each version's share of the traffic over a rollout
			}
			mu.Lock()
			pages = append(pages, browserCheck{s.Name, filepath.Join(out, report.FileHTML), svgs})
			mu.Unlock()
			ok, why := res.Gate()
			assert.True(t, ok, "gate: %s; reasons: %v", why, res.Reasons)
			assert.Equal(t, s.Expect, res.Verdict, "verdict; reasons: %v", res.Reasons)
			if s.App.Own != nil {
				assertForeignApp(t, res, "httpbin-")
			}
			assert.True(t, strings.HasPrefix(res.Path, s.Load.Via+":"), "the report names its path: %q", res.Path)
			assert.Equal(t, res.Failed, res.Errors.Total(), "every failed request has a class")
			t.Logf("failed requests by class: %s", res.Errors)
			for _, f := range res.Faults {
				t.Logf("fault %s: %s", f.ID, f.Errors)
			}
			for _, j := range res.Rejoins {
				t.Logf("rejoin %s", j)
			}
			if s.Name == "pod-kill" {
				// the replacement pods became ready under load and took traffic
				require.NotEmpty(t, res.Rejoins, "timeline: %v", res.Timeline)
				for _, j := range res.Rejoins {
					assert.NotNil(t, j.FirstRequest, "%s served requests after it became ready", j.Pod)
				}
			}
			if s.Load.Via == scenarios.ViaInCluster {
				assertLoadPodsCounted(t, s, res)
			}
			if s.Load.Protocol == scenarios.ProtocolWebSocket {
				assertHeldConnections(t, s, res)
			}
			if s.App.Autoscale != nil {
				// the autoscaler answered the spike: at least twice the pods,
				// each time from the spike reported
				so := res.ScaleOut
				require.NotNil(t, so)
				t.Logf("scale-out: %+v, decision %s, ready %s, fair share %s", *so, optDur(so.Decision), optDur(so.Ready), optDur(so.FairShare))
				assert.GreaterOrEqual(t, so.Max, 2*s.App.Autoscale.Min)
				assert.NotNil(t, so.Decision)
				assert.NotNil(t, so.Ready)
				assert.NotNil(t, so.FairShare)
			}
		})
	}
}

// browserCheck is a report to open in a browser: its scenario, its
// report.html and the plots it must render.
type browserCheck struct {
	name, html string
	svgs       int
}

// outDir is where scenario reports go: $AFTERSHOCK_REPORTS or a temp dir.
func outDir(t *testing.T) string {
	if d := os.Getenv("AFTERSHOCK_REPORTS"); d != "" {
		return d
	}
	return t.TempDir()
}

// assertHeldConnections: a pod kill under WebSocket load drops exactly the
// connections the killed pod held (none before it), each is back within
// the back-off's bound, and at the end they are all held again, none on
// the killed pod.
func assertHeldConnections(t *testing.T, s *scenarios.Spec, res *report.Result) {
	t.Helper()
	c := res.Connections
	require.NotNil(t, c, "a WebSocket run reports its connections")
	assert.Equal(t, s.Load.Connections*max(s.Load.Pods, 1), c.Held)
	require.Len(t, res.Faults, 1)
	require.Len(t, res.Faults[0].Victims, 1)
	victim := res.Faults[0].Victims[0].Pod
	by := c.ByFault()
	require.Len(t, by, 1, "drops only after the fault: %+v", c.Drops)
	f := by[0]
	t.Logf("held connections: first %s; dropped %d (%s), back %d, slowest %s, to %s; at the end %s",
		report.PerPod(c.First), f.Dropped, report.PerPod(f.Reasons), f.Back, f.Slowest, report.PerPod(f.To), report.PerPod(c.Last))
	assert.Equal(t, res.Faults[0].ID, f.Fault)
	assert.Equal(t, map[string]int{victim: c.First[victim]}, f.From, "every connection of the killed pod %s dropped, no other", victim)
	assert.Equal(t, f.Dropped, f.Back, "every dropped connection back")
	assert.LessOrEqual(t, f.Slowest.D(), loadgen.WSBackoffMax, "back within the back-off's bound")
	total := 0
	for p, n := range c.Last {
		assert.NotEqual(t, victim, p)
		total += n
	}
	assert.Equal(t, c.Held, total, "all held again at the end")
}
