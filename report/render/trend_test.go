package render

import (
	"bytes"
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

// nightly is one night's run: a pod kill with a 1 s outage, baseline
// latency lat, started day days after t0.
func nightly(day int, lat time.Duration) *report.Result {
	inject := t0.Add(10 * time.Second)
	ss := synth(100, 30*time.Second, uint64(day), func(i int, at time.Time, r *rand.Rand) report.Sample {
		if !at.Before(inject) && at.Before(inject.Add(time.Second)) {
			return report.Sample{Error: "connect: connection refused", Latency: time.Millisecond}
		}
		return report.Sample{Status: 200, Latency: lat + time.Duration(r.IntN(200))*time.Microsecond, Pod: []string{"a", "b", "c"}[i%3]}
	})
	res := report.Analyze(record(100*time.Millisecond, ss), report.Input{
		Scenario: "pod-kill", Start: t0, End: t0.Add(30 * time.Second),
		SLO:    report.SLO{Availability: 0.95, Recovery: report.Duration(5 * time.Second)},
		Faults: []report.Fault{{ID: "pod-kill-1", Type: "pod-kill", Inject: inject}},
	})
	shift := time.Duration(day) * 24 * time.Hour
	res.Start, res.End = res.Start.Add(shift), res.End.Add(shift)
	return res
}

// Three nightly result files, written and read back, the third with its
// baseline p99 planted 4x higher: the trend marks that one regression and
// nothing else, in the table, the HTML and the summary.
func TestTrendMarksThePlantedRegression(t *testing.T) {
	dir := t.TempDir()
	var labels []string
	var rs []*report.Result
	// written out of order: the trend orders by start time
	for _, n := range []struct {
		day int
		lat time.Duration
	}{{3, 12 * time.Millisecond}, {1, 3 * time.Millisecond}, {2, 3 * time.Millisecond}} {
		d := filepath.Join(dir, "night-"+string(rune('0'+n.day)))
		require.NoError(t, WriteDir(d, nightly(n.day, n.lat)))
		r, err := report.ReadFile(d)
		require.NoError(t, err)
		labels, rs = append(labels, filepath.Base(d)), append(rs, r)
	}
	ts := report.NewTrends(labels, rs, report.DefaultThresholds())
	require.Len(t, ts, 1)
	require.Len(t, ts[0].Runs, 3)
	assert.Equal(t, []string{"night-1", "night-2", "night-3"}, []string{ts[0].Runs[0].Label, ts[0].Runs[1].Label, ts[0].Runs[2].Label})
	assert.Empty(t, ts[0].Runs[0].Regressions)
	assert.Empty(t, ts[0].Runs[1].Regressions, "same outage, same latency")
	assert.Equal(t, []string{"baseline p99"}, ts[0].Runs[2].Regressions)
	assert.True(t, report.LatestRegressed(ts))

	var md bytes.Buffer
	require.NoError(t, WriteTrendMarkdown(&md, ts))
	assert.Equal(t, 1, strings.Count(md.String(), "REGRESSION"), md.String())
	lines := strings.Split(md.String(), "\n")
	var night3 string
	for _, l := range lines {
		if strings.HasPrefix(l, "| night-3 ") {
			night3 = l
		}
	}
	assert.Contains(t, night3, "ms ▲ REGRESSION |", "the p99 cell of night 3")
	assert.Contains(t, md.String(), "| recovery pod-kill-1 |", "a column per fault")

	var h bytes.Buffer
	require.NoError(t, WriteTrendHTML(&h, ts))
	doc, err := html.Parse(bytes.NewReader(h.Bytes()))
	require.NoError(t, err)
	assert.NotNil(t, doc)
	assert.Equal(t, 1, strings.Count(h.String(), `class="bad"`))
	assert.Equal(t, 4, strings.Count(h.String(), "<svg"), "availability, budget, recovery, p99")
	assert.Equal(t, 4, strings.Count(h.String(), "<figcaption>"))
	assert.NotContains(t, h.String(), "<script")

	sum := TrendSummary(ts)
	assert.Contains(t, sum, "**REGRESSION** in the newest run")
	assert.Contains(t, sum, "**pod-kill**: PASS (3 runs)")
	assert.Contains(t, sum, "regressed vs the run before: baseline p99")

	// without the planted run: nothing regressed
	ts = report.NewTrends(labels[1:], rs[1:], report.DefaultThresholds())
	assert.False(t, report.LatestRegressed(ts))
	assert.Contains(t, TrendSummary(ts), "no regression in the newest runs")
}

// The trend page renders in headless Chromium: its four plots, no page
// errors.
func TestIntegrationTrendHTMLInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Chromium; skipped under -short")
	}
	var rs []*report.Result
	for day := 1; day <= 3; day++ {
		rs = append(rs, nightly(day, 3*time.Millisecond))
	}
	var h bytes.Buffer
	require.NoError(t, WriteTrendHTML(&h, report.NewTrends([]string{"n1", "n2", "n3"}, rs, report.DefaultThresholds())))
	f := filepath.Join(t.TempDir(), "trend.html")
	require.NoError(t, os.WriteFile(f, h.Bytes(), 0o644))
	dom, log := reporttest.RenderedDOM(t, f)
	assert.Equal(t, 4, strings.Count(dom, "<svg"), "rendered plots")
	assert.Contains(t, dom, "pod-kill (3 runs)")
	assert.NotContains(t, log, "Uncaught")
}
