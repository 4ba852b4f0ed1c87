package render

import (
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/aftershock-dev/aftershock/report"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// trendCell is one value of the trend table and whether it regressed.
type trendCell struct {
	Text string
	Bad  bool
}

// table is the trend as rows of cells: run, started, verdict,
// availability, budget, baseline Jain, baseline p99, recovery per fault.
func table(t report.Trend) (head []string, rows [][]trendCell) {
	ids := t.FaultIDs()
	head = []string{"run", "started", "verdict", "availability", "error budget", "Jain (baseline)", "p99 (baseline)"}
	for _, id := range ids {
		head = append(head, "recovery "+id)
	}
	for _, run := range t.Runs {
		r := run.Result
		jainTxt, jainBad, p99Txt := "-", false, "-"
		if b := r.Baseline(); b != nil {
			p99Txt = b.Latency.P99.String()
			if e, _ := b.Evenness(); e != nil {
				jainTxt = fmt.Sprintf("%.3f", e.Jain)
			}
			for _, m := range run.Regressions {
				if strings.HasPrefix(m, "baseline Jain") {
					jainBad = true
				}
			}
		}
		row := []trendCell{
			{run.Label, false},
			{r.Start.UTC().Format("2006-01-02 15:04"), false},
			{strings.ToUpper(string(r.Verdict)), run.Regressed("verdict")},
			{pct(r.Availability), run.Regressed("availability")},
			{fmt.Sprintf("%.2f", r.Budget.Consumed), run.Regressed("error budget consumed")},
			{jainTxt, jainBad},
			{p99Txt, run.Regressed("baseline p99")},
		}
		for _, id := range ids {
			c := trendCell{Text: "-"}
			for _, f := range r.Faults {
				if f.ID == id {
					c = trendCell{f.ClientRecovery(), run.Regressed("recovery " + id)}
				}
			}
			row = append(row, c)
		}
		rows = append(rows, row)
	}
	return head, rows
}

// WriteTrendMarkdown writes one table per scenario; a regressed value
// (against the run before) is marked "▲ REGRESSION".
func WriteTrendMarkdown(w io.Writer, ts []report.Trend) error {
	var b strings.Builder
	b.WriteString("# aftershock trend\n")
	for _, t := range ts {
		head, rows := table(t)
		fmt.Fprintf(&b, "\n## %s (%d runs)\n\n| %s |\n|%s\n", t.Scenario, len(t.Runs), strings.Join(head, " | "), strings.Repeat("---|", len(head)))
		for _, row := range rows {
			cells := make([]string, len(row))
			for i, c := range row {
				cells[i] = mdEscape(c.Text)
				if c.Bad {
					cells[i] += " ▲ REGRESSION"
				}
			}
			fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// TrendSummary is a short Markdown verdict block for a CI job summary or a
// pull-request comment: per scenario the newest verdict and what regressed
// against the run before.
func TrendSummary(ts []report.Trend) string {
	var b strings.Builder
	status := "no regression in the newest runs"
	if report.LatestRegressed(ts) {
		status = "**REGRESSION** in the newest run"
	}
	fmt.Fprintf(&b, "### aftershock: %s\n\n", status)
	for _, t := range ts {
		if len(t.Runs) == 0 {
			continue
		}
		last := t.Runs[len(t.Runs)-1]
		r := last.Result
		fmt.Fprintf(&b, "- **%s**: %s (%d runs), availability %s, error budget %.2f", t.Scenario, strings.ToUpper(string(r.Verdict)), len(t.Runs), pct(r.Availability), r.Budget.Consumed)
		if len(last.Regressions) > 0 {
			fmt.Fprintf(&b, "; regressed vs the run before: %s", strings.Join(last.Regressions, ", "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// trendPlot draws one metric of every run of t (x: run number).
func trendPlot(t report.Trend, title, ylabel string, series []string, val func(r *report.Result, s string) (float64, bool)) (template.HTML, error) {
	p := newPlot(title, "run", ylabel)
	p.X.Min, p.X.Max = 0.5, float64(len(t.Runs))+0.5
	p.Y.Min = 0
	top := 0.0
	for i, s := range series {
		var pts plotter.XYs
		for k, run := range t.Runs {
			if v, ok := val(run.Result, s); ok {
				pts = append(pts, plotter.XY{X: float64(k + 1), Y: v})
				top = max(top, v)
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return "", err
		}
		l.Color, sc.Color = plotutil.Color(i), plotutil.Color(i)
		p.Add(l, sc)
		if len(series) > 1 {
			p.Legend.Add(s, l, sc)
		}
	}
	p.Y.Max = max(top*1.25, 1)
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return svg(p, 18*vg.Centimeter, 6*vg.Centimeter)
}

var trendTmpl = template.Must(template.New("trend").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>aftershock trend</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:62rem;color:#222;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left;font-size:.9rem}
th{background:#f3f3f3}td.bad{color:#b3261e;font-weight:600}svg{max-width:100%;height:auto;display:block;margin:.5rem 0}
</style></head><body>
<h1 id="title">aftershock trend</h1>
{{range .}}<h2>{{.Name}} ({{len .Rows}} runs)</h2>
<table class="trend"><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td{{if .Bad}} class="bad"{{end}}>{{.Text}}{{if .Bad}} ▲ regression{{end}}</td>{{end}}</tr>{{end}}
</table>
{{range .Plots}}<figure>{{.SVG}}<figcaption>{{.Caption}}</figcaption></figure>{{end}}
{{end}}
</body></html>
`))

// WriteTrendHTML writes a self-contained page: per scenario the trend table
// (regressions marked) and plots of availability, error budget, recovery
// per fault and baseline p99 over the runs.
func WriteTrendHTML(w io.Writer, ts []report.Trend) error {
	type fig struct {
		SVG     template.HTML
		Caption string
	}
	type section struct {
		Name  string
		Head  []string
		Rows  [][]trendCell
		Plots []fig
	}
	var secs []section
	for _, t := range ts {
		head, rows := table(t)
		s := section{Name: t.Scenario, Head: head, Rows: rows}
		type spec struct {
			title, ylabel, caption string
			series                 []string
			val                    func(r *report.Result, s string) (float64, bool)
		}
		one := []string{""}
		specs := []spec{
			{"Availability", "%", "Availability of each run, oldest first.", one,
				func(r *report.Result, _ string) (float64, bool) { return 100 * r.Availability, r.Requests > 0 }},
			{"Error budget consumed", "of the budget", "Share of the SLO's error budget each run consumed (1 = all of it).", one,
				func(r *report.Result, _ string) (float64, bool) { return r.Budget.Consumed, r.Requests > 0 }},
		}
		if ids := t.FaultIDs(); len(ids) > 0 {
			specs = append(specs, spec{"Client recovery per fault", "seconds", "Client-seen recovery of each fault per run (0: no impact; a missing point: not recovered).", ids,
				func(r *report.Result, id string) (float64, bool) {
					for _, f := range r.Faults {
						switch {
						case f.ID == id && f.Recovery != nil:
							return f.Recovery.D().Seconds(), true
						case f.ID == id && !f.Impact:
							return 0, true
						}
					}
					return 0, false
				}})
		}
		specs = append(specs, spec{"Baseline p99", "ms", "99th percentile latency before the first fault, per run.", one,
			func(r *report.Result, _ string) (float64, bool) {
				if b := r.Baseline(); b != nil && b.Requests > 0 {
					return b.Latency.P99.D().Seconds() * 1000, true
				}
				return 0, false
			}})
		for _, sp := range specs {
			svg, err := trendPlot(t, sp.title, sp.ylabel, sp.series, sp.val)
			if err != nil {
				return fmt.Errorf("trend plot %s: %w", sp.title, err)
			}
			s.Plots = append(s.Plots, fig{svg, sp.caption})
		}
		secs = append(secs, s)
	}
	return trendTmpl.Execute(w, secs)
}
