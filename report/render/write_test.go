package render

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/report/reporttest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// fixture is a deterministic run: 3 pods, a 1 s outage after a pod kill,
// then a delay fault.
func fixture() *report.Result {
	inject := t0.Add(10 * time.Second)
	delayAt, delayEnd := t0.Add(20*time.Second), t0.Add(25*time.Second)
	ss := synth(100, 30*time.Second, 42, func(i int, at time.Time, r *rand.Rand) report.Sample {
		pod := []string{"app-a", "app-b", "app-c"}[i%3]
		switch {
		case !at.Before(inject) && at.Before(inject.Add(time.Second)):
			return report.Sample{Error: "connection refused"}
		case !at.Before(delayAt) && at.Before(delayEnd):
			return report.Sample{Status: 200, Latency: 205 * time.Millisecond, Pod: pod}
		}
		return report.Sample{Status: 200, Latency: 3 * time.Millisecond, Pod: pod, Reused: i%2 == 0}
	})
	rec := record(500*time.Millisecond, ss)
	yes := true
	return report.Analyze(rec, report.Input{
		Scenario: "golden", Seed: 42, NodeImage: "aftershock/node:test", Cluster: "aftershock-test",
		Info:  map[string]string{"node-monitor-grace-period": "20s"},
		Start: t0, End: t0.Add(30 * time.Second),
		SLO: report.SLO{Availability: 0.99, P99: report.Duration(500 * time.Millisecond), Recovery: report.Duration(5 * time.Second), Jain: 0.9},
		Faults: []report.Fault{
			{ID: "pod-kill-1", Type: "pod-kill", Target: "app-b", Inject: inject, Landed: &yes, Evidence: "pod app-b deleted"},
			{ID: "delay-1", Type: "network-delay", Target: "app-a", Method: "userspace proxy", Inject: delayAt, Revert: delayEnd, ExpectedDelay: report.Duration(200 * time.Millisecond)},
		},
		Timeline:  []report.Event{{At: inject, Fault: "pod-kill-1", Kind: "inject", Detail: "delete pod app-b"}, {At: delayAt, Fault: "delay-1", Kind: "inject"}},
		ReadyPods: []string{"app-a", "app-b", "app-c"},
	})
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./report -run %s -update to create it", t.Name())
	assert.Equal(t, string(want), string(got), "differs from %s (run with -update to accept)", path)
}

func TestJUnitGolden(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteJUnit(&b, fixture()))
	golden(t, "junit.xml", b.Bytes())
	assert.Contains(t, b.String(), `<testsuite name="golden"`)
	assert.Contains(t, b.String(), `<failure message="error budget`)
}

func TestMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteMarkdown(&b, fixture()))
	golden(t, "report.md", b.Bytes())
}

func TestJSONRoundTrip(t *testing.T) {
	r := fixture()
	var b bytes.Buffer
	require.NoError(t, report.WriteJSON(&b, r))
	back, err := report.ReadJSON(&b)
	require.NoError(t, err)
	assert.Equal(t, r.Verdict, back.Verdict)
	assert.Equal(t, r.Faults[0].Recovery, back.Faults[0].Recovery)
	assert.Equal(t, r.Phases[0].Latency, back.Phases[0].Latency)
	assert.Len(t, back.Windows, len(r.Windows))
	// re-rendering from result.json gives the same Markdown
	var m1, m2 bytes.Buffer
	require.NoError(t, WriteMarkdown(&m1, r))
	require.NoError(t, WriteMarkdown(&m2, back))
	assert.Equal(t, m1.String(), m2.String())

	_, err = report.ReadJSON(strings.NewReader(`{"schema":"other/v9"}`))
	require.ErrorContains(t, err, `schema "other/v9"`)
}

func TestHTMLIsWellFormedWithPlots(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteHTML(&b, fixture()))
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	require.NoError(t, err)
	ids := map[string]bool{}
	svgs := 0
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if n.Data == "svg" {
				svgs++
			}
			for _, a := range n.Attr {
				if a.Key == "id" {
					ids[a.Val] = true
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	assert.Equal(t, 7, svgs, "availability, p99, error classes, per-pod traffic, and share plots for the 3 phases")
	assert.Equal(t, svgs, strings.Count(b.String(), "<figcaption>"), "every figure says what it shows")
	for _, id := range []string{"title", "checks", "plot-availability", "plot-p99", "plot-errors", "plot-pods", "plot-shares"} {
		assert.True(t, ids[id], "element #%s", id)
	}
	for _, bad := range []string{"<script", `src="http`, `href="http`, "@import"} {
		assert.False(t, strings.Contains(b.String(), bad), "self-contained: found %q", bad)
	}
	assert.Equal(t, 8, strings.Count(b.String(), "fill-opacity"), "two translucent fault bands in each of the four time plots")
	for _, label := range []string{">app-a<", ">app-b<", ">app-c<", ">refused<", "requests per 1s", "failed per 1s"} {
		assert.Contains(t, b.String(), label, "plot text")
	}
	assert.NotContains(t, b.String(), ">100.0<", "tick labels without needless decimals")
	assert.NotContains(t, b.String(), "+-", "signed offsets")
}

func TestWriteDirAndReadFile(t *testing.T) {
	dir := t.TempDir()
	r := fixture()
	require.NoError(t, WriteDir(dir, r))
	for _, f := range []string{report.FileJSON, report.FileJUnit, report.FileMarkdown, report.FileHTML} {
		fi, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Positive(t, fi.Size(), f)
	}
	back, err := report.ReadFile(dir)
	require.NoError(t, err)
	assert.Equal(t, r.Scenario, back.Scenario)
	assert.Contains(t, Summary(back), "FAIL")
}

// TestIntegrationHTMLInChromium opens the report in headless Chromium and
// checks that it renders the plots without console errors.
func TestIntegrationHTMLInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Chromium; skipped under -short")
	}
	dir := t.TempDir()
	require.NoError(t, WriteDir(dir, fixture()))
	reporttest.CheckReport(t, filepath.Join(dir, report.FileHTML), 7)
}

// A deploy event gets its own table (change, time to complete, what it
// cost clients) and its band spans the event to its rollout complete.
func TestDeployEventsTableAndBand(t *testing.T) {
	inject, done := t0.Add(5*time.Second), t0.Add(17*time.Second)
	ss := synth(100, 30*time.Second, 7, func(i int, at time.Time, r *rand.Rand) report.Sample {
		if at.After(inject.Add(2*time.Second)) && at.Before(inject.Add(2100*time.Millisecond)) {
			return report.Sample{Error: "read: connection reset by peer"}
		}
		return report.Sample{Status: 200, Latency: 3 * time.Millisecond, Pod: []string{"a", "b"}[i%2]}
	})
	res := report.Analyze(record(500*time.Millisecond, ss), report.Input{
		Scenario: "deploy", Start: t0, End: t0.Add(30 * time.Second),
		SLO: report.SLO{Availability: 0.99, Rollout: &report.RolloutSLO{Errors: 0}},
		Faults: []report.Fault{
			{ID: "rollout-1", Type: "rollout", Deploy: true, Target: "deployment/web", Method: "env V=2", Inject: inject, LandedAt: &done},
			{ID: "rollback-1", Type: "rollback", Deploy: true, Target: "deployment/web", Inject: t0.Add(20 * time.Second)},
		},
	})
	var md bytes.Buffer
	require.NoError(t, WriteMarkdown(&md, res))
	assert.Contains(t, md.String(), "## Deploy events")
	assert.Contains(t, md.String(), "| rollout-1 | rollout | deployment/web | env V=2 | 12s | 9 | reset 9 |")
	assert.Contains(t, md.String(), "| rollback-1 | rollback | deployment/web |  | NOT COMPLETE | 0 | - |")
	var h bytes.Buffer
	require.NoError(t, WriteHTML(&h, res))
	assert.Contains(t, h.String(), "<h2>Deploy events</h2>")
	assert.Contains(t, h.String(), "<td>12s</td><td>9</td><td>reset 9</td>")
	assert.Equal(t, [2]float64{5, 17}, faultBands(res)[0], "from the event to its rollout complete")
}

// Held connections (WebSocket load) get their own section: where they
// were, and per fault which dropped, why, how soon they were back and
// where; the reconnect check is among the checks.
func TestHeldConnectionsSection(t *testing.T) {
	inject := t0.Add(5 * time.Second)
	ss := synth(100, 20*time.Second, 7, func(i int, at time.Time, r *rand.Rand) report.Sample {
		return report.Sample{Status: 200, Latency: 3 * time.Millisecond, Pod: []string{"a", "b"}[i%2]}
	})
	ev := func(ms, c int, up bool, pod, why string) report.ConnEvent {
		return report.ConnEvent{At: t0.Add(time.Duration(ms) * time.Millisecond), Conn: c, Up: up, Pod: pod, Reason: why}
	}
	res := report.Analyze(record(500*time.Millisecond, ss), report.Input{
		Scenario: "ws", Start: t0, End: t0.Add(20 * time.Second),
		SLO:    report.SLO{Availability: 0.99, Reconnect: report.Duration(time.Second)},
		Faults: []report.Fault{{ID: "pod-kill-1", Type: "pod-kill", Inject: inject}},
		Conns: []report.ConnEvent{ev(1, 0, true, "a", ""), ev(2, 1, true, "b", ""), ev(3, 2, true, "b", ""),
			ev(5200, 1, false, "b", "close 1001 (going away)"), ev(5300, 2, false, "b", "close 1001 (going away)"),
			ev(5270, 1, true, "a", ""), ev(5400, 2, true, "c", "")},
	})
	var md bytes.Buffer
	require.NoError(t, WriteMarkdown(&md, res))
	assert.Contains(t, md.String(), "## Held connections\n\n3 held. On the pods at first: b 2, a 1; when the load stopped: a 2, c 1.")
	assert.Contains(t, md.String(), "| pod-kill-1 | 2 | b 2 | close 1001 (going away) 2 | 2 of 2 | 100ms | a 1, c 1 |")
	assert.Contains(t, md.String(), "| reconnect pod-kill-1 | pass | 2 of 2 dropped connection(s) back, slowest 100ms | <= 1s |")
	var h bytes.Buffer
	require.NoError(t, WriteHTML(&h, res))
	assert.Contains(t, h.String(), "<td>pod-kill-1</td><td>2</td><td>b 2</td><td>close 1001 (going away) 2</td><td>2 of 2</td><td>100ms</td><td>a 1, c 1</td>")
	assert.Contains(t, h.String(), `<figure id="plot-connections"><svg`)
	assert.Contains(t, h.String(), "Held connections per pod")
}

// A run with a rollout draws each version's share of the traffic over
// time; one without a deploy event does not (TestHTMLIsWellFormedWithPlots).
func TestHTMLVersionSharePlot(t *testing.T) {
	r := fixture()
	start := r.Start
	r.Faults = append(r.Faults, report.FaultResult{Fault: report.Fault{ID: "rollout-restart-9", Type: "rollout-restart", Deploy: true, Inject: start.Add(time.Second)}})
	n := len(r.Windows)
	for i := range r.Windows {
		w := &r.Windows[i]
		w.Pods = map[string]report.PodCount{}
		switch {
		case i < n/3:
			w.Pods["web-111-aaaaa"] = report.PodCount{New: 10}
		case i < 2*n/3:
			w.Pods["web-111-aaaaa"] = report.PodCount{New: 5}
			w.Pods["web-222-bbbbb"] = report.PodCount{New: 5}
		default:
			w.Pods["web-222-bbbbb"] = report.PodCount{New: 10}
		}
	}
	var b bytes.Buffer
	require.NoError(t, WriteHTML(&b, r))
	out := b.String()
	assert.Contains(t, out, `id="plot-versions"`)
	assert.Contains(t, out, "Share of traffic per version (ReplicaSet)")
	assert.Contains(t, out, ">web-111 (first)<")
	assert.Contains(t, out, ">web-222<")
}

// Pods told to stop during the run: a table in both reports.
func TestRetiredPodsTable(t *testing.T) {
	r := fixture()
	d := report.Duration(2500 * time.Millisecond)
	r.Retired = []report.Retirement{{Pod: "app-old-1", Stop: r.Start.Add(10 * time.Second), ServedFor: &d, Requests: 123, Precision: report.Duration(100 * time.Millisecond)}}
	var m, h bytes.Buffer
	require.NoError(t, WriteMarkdown(&m, r))
	require.NoError(t, WriteHTML(&h, r))
	assert.Contains(t, m.String(), "## Pods told to stop during the run")
	assert.Contains(t, m.String(), "| app-old-1 | +10s | 2.5s (±100ms) | 123 |")
	assert.Contains(t, h.String(), `<table id="retired">`)
	assert.Contains(t, h.String(), "<td>app-old-1</td>")
}
