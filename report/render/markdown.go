package render

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aftershock-dev/aftershock/report"
)

func pct(x float64) string { return fmt.Sprintf("%.3f%%", 100*x) }

func optDur(d *report.Duration) string {
	if d == nil {
		return "-"
	}
	return d.String()
}

// Summary is a one-line summary of r.
func Summary(r *report.Result) string {
	var parts []string
	parts = append(parts, fmt.Sprintf("%-13s %-22s", strings.ToUpper(string(r.Verdict)), r.Scenario))
	parts = append(parts, fmt.Sprintf("avail %s", pct(r.Availability)))
	parts = append(parts, fmt.Sprintf("budget %.2f", r.Budget.Consumed))
	for _, f := range r.Faults {
		parts = append(parts, fmt.Sprintf("%s recovery %s", f.ID, f.ClientRecovery()))
	}
	if p := r.Baseline(); p != nil {
		if e, _ := p.Evenness(); e != nil {
			parts = append(parts, fmt.Sprintf("jain %.3f", e.Jain))
		}
	}
	return strings.Join(parts, "  ")
}

// WriteMarkdown writes a human-readable report.
func WriteMarkdown(w io.Writer, r *report.Result) error {
	var b strings.Builder
	for _, section := range mdSections {
		section(&b, r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdSections are the report's sections in order: a new section is its
// function and its place here.
var mdSections = []func(*strings.Builder, *report.Result){mdSummary, mdChecks, mdPhases, mdPodTraffic, mdFaults, mdDeploys, mdRejoins, mdRetired, mdScaleOut, mdConnections, mdTimeline}

// mdSummary is the verdict, its reasons and the run's facts.
func mdSummary(b *strings.Builder, r *report.Result) {
	fmt.Fprintf(b, "# aftershock: %s — %s\n\n", r.Scenario, strings.ToUpper(string(r.Verdict)))
	for _, why := range r.Reasons {
		fmt.Fprintf(b, "- %s\n", why)
	}
	fmt.Fprintf(b, "\n| | |\n|---|---|\n")
	fmt.Fprintf(b, "| seed | %d |\n| started | %s |\n| duration | %s |\n| window | %s |\n", r.Seed, r.Start.UTC().Format(time.RFC3339), fmtDur(r.End.Sub(r.Start)), r.Window)
	if r.NodeImage != "" {
		fmt.Fprintf(b, "| node image | `%s` |\n", r.NodeImage)
	}
	if r.Cluster != "" {
		fmt.Fprintf(b, "| cluster | %s |\n", r.Cluster)
	}
	if r.Path != "" {
		fmt.Fprintf(b, "| traffic path | %s |\n", r.Path)
	}
	for _, l := range r.LoadSources {
		fmt.Fprintf(b, "| load pod %s | on %s, asked %d/s (%d requests), achieved %.1f/s: it sent %d, %d samples arrived |\n", l.Name, l.Node, l.Rate, l.Asked, l.Achieved, l.Sent, l.Samples)
	}
	for _, g := range r.LoadSegments {
		fmt.Fprintf(b, "| load %s | %d of %d planned sent (%.0f%%) |\n", g.Name, g.Sent, g.Planned, 100*float64(g.Sent)/float64(max(g.Planned, 1)))
	}
	for _, l := range r.LostLoad {
		fmt.Fprintf(b, "| LOST LOAD | %s |\n", l)
	}
	for _, k := range sortedKeys(r.Info) {
		fmt.Fprintf(b, "| %s | %s |\n", k, r.Info[k])
	}
	fmt.Fprintf(b, "| requests | %d (%d failed) |\n| availability | %s (SLO %s) |\n", r.Requests, r.Failed, pct(r.Availability), pct(r.SLO.Availability))
	fmt.Fprintf(b, "| error budget consumed | %.2f (max burn rate %.1f) |\n", r.Budget.Consumed, r.Budget.MaxBurnRate)
	if r.Failed > 0 {
		fmt.Fprintf(b, "| failed requests by class | %s |\n", r.Errors)
	}
}

// mdChecks is every SLO check with its status.
func mdChecks(b *strings.Builder, r *report.Result) {
	fmt.Fprintf(b, "\n## Checks\n\n| check | status | value | limit |\n|---|---|---|---|\n")
	for _, c := range r.Checks {
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", c.Name, c.Status, mdEscape(c.Value), mdEscape(c.Limit))
	}
}

// mdPhases is latency, availability and evenness per phase.
func mdPhases(b *strings.Builder, r *report.Result) {
	fmt.Fprintf(b, "\n## Phases\n\n| phase | duration | requests | availability | burn rate | errors | p50 | p90 | p99 | max | Jain (new) | χ² p (new) | Jain (reused) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range r.Phases {
		fmt.Fprintf(b, "| %s | %s | %d | %s | %.2f | %s | %s | %s | %s | %s | %s | %s | %s |\n", p.Name, fmtDur(p.End.Sub(p.Start)), p.Requests, pct(p.Availability), p.BurnRate,
			p.Errors, p.Latency.P50, p.Latency.P90, p.Latency.P99, p.Latency.Max, jain(p.New), pval(p.New), jain(p.Reused))
	}
}

// mdPodTraffic is each pod's share of each phase's traffic.
func mdPodTraffic(b *strings.Builder, r *report.Result) {
	for _, p := range r.Phases {
		if p.New == nil && p.Reused == nil {
			continue
		}
		fmt.Fprintf(b, "\n### Traffic per pod, %s\n\n| pod | new | share | reused | share |\n|---|---|---|---|---|\n", p.Name)
		rows := map[string][4]string{}
		for i, e := range []*report.Evenness{p.New, p.Reused} {
			if e == nil {
				continue
			}
			for _, s := range e.Pods {
				row := rows[s.Pod]
				row[2*i], row[2*i+1] = fmt.Sprint(s.Requests), fmt.Sprintf("%.1f%%", 100*s.Share)
				rows[s.Pod] = row
			}
		}
		for _, pod := range sortedKeys(rows) {
			row := rows[pod]
			for i := range row {
				if row[i] == "" {
					row[i] = "-"
				}
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", pod, row[0], row[1], row[2], row[3])
		}
	}
}

// mdFaults is what each fault did and how clients recovered.
func mdFaults(b *strings.Builder, r *report.Result) {
	if len(r.Faults) > 0 {
		fmt.Fprintf(b, "\n## Faults\n\n| fault | type | target | method | landed | client recovery | cluster recovery | first error | disruption | longest bad run | errors |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, f := range r.Faults {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %v | %s | %s | %s | %s | %s | %s |\n", f.ID, f.Type, mdEscape(f.Target), f.Method, f.LandedVerdict,
				f.ClientRecovery(), optDur(f.ClusterRecovery), optDur(f.FirstError), f.Disruption, f.LongestBadRun, f.Errors)
		}
		for _, f := range r.Faults {
			fmt.Fprintf(b, "\n- **%s**: %s\n", f.ID, mdEscape(f.LandedWhy))
		}
	}
}

// mdDeploys is what each deploy event changed, how long its rollout took
// and what it cost clients.
func mdDeploys(b *strings.Builder, r *report.Result) {
	ds := r.DeployEvents()
	if len(ds) == 0 {
		return
	}
	fmt.Fprintf(b, "\n## Deploy events\n\n| event | type | target | change | complete in | failed requests | by class |\n|---|---|---|---|---|---|---|\n")
	for _, f := range ds {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %d | %s |\n", f.ID, f.Type, mdEscape(f.Target), mdEscape(f.Method), f.CompleteIn(), f.Errors.Total(), f.Errors.Counts())
	}
}

// mdRejoins is the pods that joined during the run.
func mdRejoins(b *strings.Builder, r *report.Result) {
	if len(r.Rejoins) > 0 {
		fmt.Fprintf(b, "\n## Pods that joined during the run\n\n| pod | ready at | first request | fair share | first requests p50 | max | steady p99 |\n|---|---|---|---|---|---|---|\n")
		for _, j := range r.Rejoins {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", j.Pod, fmtOffset(j.Ready.Sub(r.Start)), j.FirstRequestText(), j.FairShareText(),
				j.FirstLatencyP50, j.FirstLatencyMax, j.SteadyP99)
		}
	}
}

// mdRetired is the pods told to stop during the run.
func mdRetired(b *strings.Builder, r *report.Result) {
	if len(r.Retired) > 0 {
		fmt.Fprintf(b, "\n## Pods told to stop during the run\n\n| pod | told to stop at | served after | requests after |\n|---|---|---|---|\n")
		for _, p := range r.Retired {
			fmt.Fprintf(b, "| %s | %s | %s | %d |\n", p.Pod, fmtOffset(p.Stop.Sub(r.Start)), p.ServedForText(), p.Requests)
		}
	}
}

// mdScaleOut is how the autoscaler answered the spike.
func mdScaleOut(b *strings.Builder, r *report.Result) {
	so := r.ScaleOut
	if so == nil {
		return
	}
	fmt.Fprintf(b, "\n## Scale-out\n\n| spike at | replicas | first scale-up | added pods ready | at fair share | requests | failed | p99 |\n|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %d | %d | %s |\n", fmtOffset(so.SpikeAt.D()), scaleRange(so), optDur(so.Decision), optDur(so.Ready), optDur(so.FairShare), so.Requests, so.Failed, so.P99)
}

func scaleRange(so *report.ScaleOut) string {
	if so.Decision == nil {
		return "not scaled"
	}
	return fmt.Sprintf("%d -> %d", so.From, so.Max)
}

// mdConnections is what the held connections of a WebSocket load went
// through, per fault.
func mdConnections(b *strings.Builder, r *report.Result) {
	c := r.Connections
	if c == nil {
		return
	}
	fmt.Fprintf(b, "\n## Held connections\n\n%d held. On the pods at first: %s; when the load stopped: %s.\n", c.Held, report.PerPod(c.First), report.PerPod(c.Last))
	by := c.ByFault()
	if len(by) == 0 {
		fmt.Fprintf(b, "\nNone dropped.\n")
		return
	}
	fmt.Fprintf(b, "\n| fault | dropped | on pods | why | back | slowest | reconnected to |\n|---|---|---|---|---|---|---|\n")
	for _, f := range by {
		fmt.Fprintf(b, "| %s | %d | %s | %s | %d of %d | %s | %s |\n", dropsFault(f), f.Dropped, report.PerPod(f.From), mdEscape(report.PerPod(f.Reasons)), f.Back, f.Dropped, f.Slowest, report.PerPod(f.To))
	}
}

func dropsFault(f report.FaultDrops) string {
	if f.Fault == "" {
		return "(before any fault)"
	}
	return f.Fault
}

// mdTimeline is every event, offset from the load's start.
func mdTimeline(b *strings.Builder, r *report.Result) {
	if len(r.Timeline) > 0 {
		fmt.Fprintf(b, "\n## Timeline\n\n| t | fault | event | detail |\n|---|---|---|---|\n")
		for _, e := range r.Timeline {
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", fmtOffset(e.At.Sub(r.Start)), e.Fault, e.Kind, mdEscape(e.Detail))
		}
	}
}

func jain(e *report.Evenness) string {
	if e == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", e.Jain)
}

func pval(e *report.Evenness) string {
	if e == nil {
		return "-"
	}
	return fmt.Sprintf("%.3g", e.PValue)
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
