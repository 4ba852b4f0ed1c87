package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// Input is what the runner knows besides the samples.
type Input struct {
	Scenario string
	// Spec is the scenario's YAML as run and SpecFile where it was read
	// from, embedded for replay.
	Spec, SpecFile string
	Seed           int64
	NodeImage      string
	Cluster        string
	Info           map[string]string
	Start          time.Time // first sample may start here
	End            time.Time // load stopped
	SLO            SLO
	Faults         []Fault
	Timeline       []Event
	// ReadyPods are the pods ready during the baseline: evenness is tested
	// against uniform over them, so a pod that got nothing counts.
	ReadyPods []string
	// Planned is how many requests the load was asked to send (rate x
	// duration); 0 means unknown. A run that delivered less than
	// MinDelivered of it cannot pass: it is inconclusive.
	Planned int
	// Segments are the parts of a shaped load (load.shape), each with its
	// own planned count: a segment that delivered less than MinDelivered
	// of it keeps the run from passing (a spike that was not sent proves
	// nothing about the spike).
	Segments []LoadSegment
	// Expect is the scenario's expectation, kept in the result for the gate.
	Expect *Expectation
	// Unattributed: responses name no pod (attribution none), so evenness
	// is not measured (reported as such, never a pass).
	Unattributed bool
	// Unstable are the times the ready set was changing (as the cluster
	// saw it, plus a settle margin for kube-proxy): evenness leaves out the
	// windows that overlap them. Availability and latency keep every window.
	Unstable []Span
	// Path is the way the traffic took (e.g. "nodePort", "inCluster: 3
	// load pods"), for the report.
	Path string
	// Conns are the held connections' changes (WebSocket load).
	Conns []ConnEvent
	// Scales are the autoscaler's decisions (app.autoscale); a run with
	// an autoscaler has Autoscaled set.
	Scales     []ScaleEvent
	Autoscaled bool
	// LostLoad names each load source whose samples did not all arrive (a
	// load pod that died), with why. Any makes the run inconclusive: what
	// it missed could change every figure, failures included.
	LostLoad []string
	// LoadSources are the load pods of in-cluster load (for the report).
	LoadSources []LoadSource
}

// Span is a time interval [From, To).
type Span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// segment accumulates per-pod counts over consecutive stable windows.
type segment struct {
	windows, requests int
	newC, reusedC     map[string]int
}

func (g *segment) add(w *Window) {
	if g.newC == nil {
		g.newC, g.reusedC = map[string]int{}, map[string]int{}
	}
	g.windows++
	for _, t := range w.Pods {
		pod, c := t.Pod, t.PodCount
		if pod == "" {
			continue // a response that named no pod
		}
		g.requests += c.New + c.Reused
		if c.New > 0 {
			g.newC[pod] += c.New
		}
		if c.Reused > 0 {
			g.reusedC[pod] += c.Reused
		}
	}
}

func (g segment) longer(o segment) segment {
	if o.requests > g.requests {
		return o
	}
	return g
}

// stable reports whether window i overlaps no unstable span.
func (a *analysis) stable(i int) bool {
	ws, we := a.rec.at(i), a.rec.at(i+1)
	for _, u := range a.in.Unstable {
		if ws.Before(u.To) && u.From.Before(we) {
			return false
		}
	}
	return true
}

// DefaultRecoveryWindows is W: how long windows must stay good to count as
// recovered.
const DefaultRecoveryWindows = 5 * time.Second

// analysis carries shared state while computing a Result.
type analysis struct {
	rec  *Recorder
	in   Input
	slo  SLO
	w    []*Window
	good []int8 // 1 good, -1 bad, 0 empty
}

// Analyze computes the metrics and the verdict of a run.
func Analyze(rec *Recorder, in Input) *Result {
	a := &analysis{rec: rec, in: in, slo: in.SLO, w: rec.Windows()}
	if a.slo.MaxBudgetConsumed == 0 {
		a.slo.MaxBudgetConsumed = 1
	}
	if a.slo.RecoveryWindows == 0 {
		a.slo.RecoveryWindows = Duration(DefaultRecoveryWindows)
	}
	a.classify()
	res := &Result{
		Schema: SchemaVersion, Scenario: in.Scenario, Spec: in.Spec, SpecFile: in.SpecFile, Seed: in.Seed, NodeImage: in.NodeImage, Cluster: in.Cluster,
		Info: in.Info, Start: in.Start, End: in.End, Window: Duration(rec.Width()), SLO: a.slo,
		Timeline: append([]Event(nil), in.Timeline...), Expect: in.Expect, Path: in.Path, LostLoad: in.LostLoad, LoadSources: in.LoadSources,
	}
	sort.SliceStable(res.Timeline, func(i, j int) bool { return res.Timeline[i].At.Before(res.Timeline[j].At) })
	for _, w := range a.w {
		res.Requests += w.Total
		res.Failed += w.Total - w.OK
		res.Errors = res.Errors.add(w.Errors)
	}
	res.Availability = ratio(res.Requests-res.Failed, res.Requests)
	res.Budget = a.budget(res.Requests, res.Failed)
	res.LoadSegments = a.segments()
	res.Phases = a.phases()
	res.Faults = a.faults(res.Phases)
	if !in.Unattributed {
		res.Rejoins = a.rejoins(res.Phases)
		res.Retired = a.retirements()
	}
	res.Connections = connections(in.Conns, in.Faults, in.End)
	if in.Autoscaled {
		res.ScaleOut = a.scaleOut(res)
	}
	res.Windows = a.windowStats()
	a.verdict(res)
	return res
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// classify marks each window good, bad or empty.
func (a *analysis) classify() {
	a.good = make([]int8, len(a.w))
	for i, w := range a.w {
		if w.Total == 0 {
			continue
		}
		if WindowBad(w, a.slo) {
			a.good[i] = -1
		} else {
			a.good[i] = 1
		}
	}
}

// BadWindowAlpha is the significance level at which a window is called bad:
// its failures (or its requests slower than the SLO's p99) must be too many
// for the SLO to explain, by a one-sided binomial test.
const BadWindowAlpha = 0.01

// WindowBad reports whether a window shows, with evidence, that the SLO was
// not met in it: P(X >= failed) < BadWindowAlpha for X ~ Binomial(total,
// 1-A), or the same test of the requests slower than the SLO's p99 against
// the 1% a p99 allows. One stray failure among a handful of requests is not
// evidence; a window where every request fails is.
func WindowBad(w *Window, slo SLO) bool {
	if w.Total == 0 {
		return false
	}
	if Significant(w.Total-w.OK, w.Total, 1-slo.Availability) {
		return true
	}
	if slo.P99 > 0 {
		slow := int(w.Latency.CountAbove(slo.P99.D()))
		return Significant(slow, w.Total, 0.01)
	}
	return false
}

// Significant reports whether k events in n trials are significantly more
// than a rate p explains: the one-sided binomial tail P(X >= k) is below
// BadWindowAlpha.
func Significant(k, n int, p float64) bool {
	if k <= 0 || n <= 0 {
		return false
	}
	if p <= 0 {
		return true
	}
	if p >= 1 {
		return false
	}
	tail := 1 - distuv.Binomial{N: float64(n), P: p}.CDF(float64(k-1))
	return tail < BadWindowAlpha
}

func (a *analysis) budget(total, failed int) Budget {
	allowed := (1 - a.slo.Availability) * float64(total)
	b := Budget{Allowed: allowed}
	if allowed > 0 {
		b.Consumed = float64(failed) / allowed
	} else if failed > 0 {
		b.Consumed = math.MaxFloat64
	}
	if a.slo.Availability < 1 {
		for _, w := range a.w {
			if w.Total == 0 {
				continue
			}
			br := (1 - ratio(w.OK, w.Total)) / (1 - a.slo.Availability)
			b.MaxBurnRate = math.Max(b.MaxBurnRate, br)
		}
	}
	return b
}

// span is a half-open range of window indices.
type span struct{ from, to int }

func (a *analysis) clamp(i int) int {
	return max(0, min(i, len(a.w)))
}

// phaseSpans splits the run: baseline before the first inject, fault until
// the last fault ends, recovery after; one "steady" phase without faults.
func (a *analysis) phaseSpans() ([]string, []span) {
	n := len(a.w)
	if len(a.in.Faults) == 0 {
		return []string{"steady"}, []span{{0, n}}
	}
	first, last := a.in.Faults[0].Inject, a.in.Faults[0].Inject
	for _, f := range a.in.Faults {
		if f.Inject.Before(first) {
			first = f.Inject
		}
		end := f.Inject
		if f.Revert.After(end) {
			end = f.Revert
		}
		if end.After(last) {
			last = end
		}
	}
	fi := a.clamp(a.rec.indexOf(first))
	li := a.clamp(a.rec.indexOf(last) + 1)
	return []string{"baseline", "fault", "recovery"}, []span{{0, fi}, {fi, li}, {li, n}}
}

func (a *analysis) phases() []Phase {
	names, spans := a.phaseSpans()
	out := make([]Phase, 0, len(spans))
	for i, s := range spans {
		p := Phase{Name: names[i], Start: a.rec.at(s.from), End: a.rec.at(s.to)}
		var h Histogram
		// evenness: over the longest stretch of windows where the ready set
		// was not changing (the whole phase when nothing changed)
		var best, cur segment
		for i, w := range a.w[s.from:s.to] {
			p.Requests += w.Total
			p.Failed += w.Total - w.OK
			p.Errors = p.Errors.add(w.Errors)
			h.Merge(&w.Latency)
			if !a.stable(s.from + i) {
				best, cur = best.longer(cur), segment{}
				continue
			}
			cur.add(w)
		}
		best = best.longer(cur)
		p.Availability = ratio(p.Requests-p.Failed, p.Requests)
		if a.slo.Availability < 1 {
			p.BurnRate = (1 - p.Availability) / (1 - a.slo.Availability)
		}
		p.Latency = Latency{P50: Duration(h.Quantile(0.5)), P90: Duration(h.Quantile(0.9)), P99: Duration(h.Quantile(0.99)), Max: Duration(h.Max())}
		var expect []string
		if p.undisturbed() {
			expect = a.in.ReadyPods
		}
		if !a.in.Unattributed {
			p.New = Even(best.newC, expect)
			p.Reused = Even(best.reusedC, expect)
		}
		p.StableWindows = best.windows
		out = append(out, p)
	}
	return out
}

// Even computes evenness of counts over pods: every pod in expect (even one
// with no requests) and every pod in counts. Nil when there are no requests.
func Even(counts map[string]int, expect []string) *Evenness {
	all := map[string]int{}
	for _, p := range expect {
		all[p] = 0
	}
	total := 0
	for p, c := range counts {
		all[p] += c
		total += c
	}
	if total == 0 {
		return nil
	}
	e := &Evenness{Requests: total}
	var sum, sumSq float64
	minC, maxC := math.MaxInt, 0
	for _, p := range sortedKeys(all) {
		c := all[p]
		e.Pods = append(e.Pods, PodShare{Pod: p, Requests: c, Share: float64(c) / float64(total)})
		x := float64(c)
		sum += x
		sumSq += x * x
		minC, maxC = min(minC, c), max(maxC, c)
	}
	n := float64(len(all))
	mean := sum / n
	e.Jain = sum * sum / (n * sumSq)
	e.CV = math.Sqrt(math.Max(0, sumSq/n-mean*mean)) / mean
	if minC > 0 {
		e.MaxMin = float64(maxC) / float64(minC)
	}
	e.PValue = 1
	if len(all) > 1 {
		for _, c := range all {
			d := float64(c) - mean
			e.Chi2 += d * d / mean
		}
		e.PValue = distuv.ChiSquared{K: n - 1}.Survival(e.Chi2)
	}
	return e
}

func (a *analysis) faults(phases []Phase) []FaultResult {
	fs := append([]Fault(nil), a.in.Faults...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Inject.Before(fs[j].Inject) })
	var baseP50 time.Duration
	if b := baselineOf(phases); b != nil {
		baseP50 = b.Latency.P50.D()
	}
	need := int(math.Ceil(float64(a.slo.RecoveryWindows.D()) / float64(a.rec.Width())))
	out := make([]FaultResult, 0, len(fs))
	for k, f := range fs {
		r := FaultResult{Fault: f}
		from := a.clamp(a.rec.indexOf(f.Inject))
		to := len(a.w)
		if k+1 < len(fs) {
			to = a.clamp(a.rec.indexOf(fs[k+1].Inject))
		}
		obsEnd := a.in.End
		if k+1 < len(fs) {
			obsEnd = fs[k+1].Inject
		}
		r.Observed = Duration(obsEnd.Sub(f.Inject))
		// bad time counts from the inject instant: the inject window is clipped
		width := a.rec.Width()
		badTime := func(i int) time.Duration {
			if st := a.rec.at(i); st.Before(f.Inject) {
				return a.rec.at(i + 1).Sub(f.Inject)
			}
			return width
		}
		lastBad := -1
		var run, longest, bad time.Duration
		for i := from; i < to; i++ {
			r.Errors = r.Errors.add(a.w[i].Errors)
			switch a.good[i] {
			case -1:
				lastBad = i
				run += badTime(i)
				bad += badTime(i)
				longest = max(longest, run)
			case 1:
				run = 0
			}
		}
		r.Disruption = Duration(bad)
		r.LongestBadRun = Duration(longest)
		for i := from; i < to; i++ {
			if fe := a.w[i].FirstErr; !fe.IsZero() {
				d := Duration(max(0, fe.Sub(f.Inject)))
				r.FirstError = &d
				break
			}
		}
		if lastBad >= 0 {
			r.Impact = true
			goodAfter := 0
			for i := lastBad + 1; i < to; i++ {
				if a.good[i] == 1 {
					goodAfter++
				}
			}
			if goodAfter >= need {
				r.Recovered = true
				d := Duration(max(0, a.rec.at(lastBad+1).Sub(f.Inject)))
				r.Recovery = &d
			}
		}
		r.LandedVerdict, r.LandedWhy = a.landed(f, r, from, to, baseP50)
		out = append(out, r)
	}
	return out
}

// landed decides whether a fault was shown to have landed.
func (a *analysis) landed(f Fault, r FaultResult, from, to int, baseP50 time.Duration) (bool, string) {
	if f.Landed != nil && !*f.Landed {
		return false, "the harness observed that it did not land: " + f.Evidence
	}
	if f.ExpectedDelay > 0 {
		end := to
		if !f.Revert.IsZero() {
			end = min(to, a.clamp(a.rec.indexOf(f.Revert)))
		}
		start := from
		if f.InPlace != nil {
			start = max(from, a.clamp(a.rec.indexOf(*f.InPlace)))
		}
		var h Histogram
		// skip the window it came in place in: it mixes before and after
		for i := min(start+1, end); i < end; i++ {
			h.Merge(&a.w[i].Latency)
		}
		if h.Count() == 0 {
			return false, "no requests completed while the delay was in place"
		}
		added := h.Quantile(0.5) - baseP50
		why := fmt.Sprintf("p50 %s during the fault vs %s baseline: +%s (expected +%s)", fmtDur(h.Quantile(0.5)), fmtDur(baseP50), fmtDur(added), f.ExpectedDelay)
		return added >= f.ExpectedDelay.D()/2, why
	}
	if f.Landed != nil {
		return true, f.Evidence
	}
	if r.Impact || r.FirstError != nil {
		return true, "clients saw it (failed requests or bad windows)"
	}
	return false, "no cluster evidence and no visible effect on clients"
}

func (a *analysis) windowStats() []WindowStat {
	out := make([]WindowStat, len(a.w))
	for i, w := range a.w {
		out[i] = WindowStat{
			Offset: Duration(time.Duration(i) * a.rec.Width()), Requests: w.Total, OK: w.OK,
			Availability: ratio(w.OK, w.Total), P50: Duration(w.Latency.Quantile(0.5)),
			P99: Duration(w.Latency.Quantile(0.99)), Good: a.good[i] >= 0, Pods: w.Pods.Map(), Errors: w.Errors,
		}
	}
	return out
}

func (a *analysis) verdict(res *Result) {
	a.checks(res)
	res.Verdict, res.Reasons = decide(res.Checks, func(c Check) string {
		for _, f := range res.Faults {
			if c.Name == "fault landed "+f.ID {
				return fmt.Sprintf("fault %s (%s) not shown to have landed: %s", f.ID, f.Type, f.LandedWhy)
			}
		}
		if c.Name == "evenness (Jain)" {
			return "evenness not measured: " + c.Value
		}
		return c.Name + " not shown: " + c.Value
	})
	if res.Verdict == Fail {
		if why := a.harnessFailures(); why != "" {
			res.Verdict = Inconclusive
			res.Reasons = append(res.Reasons, why)
		}
	}
	if len(a.in.LostLoad) > 0 {
		// a lost load source makes pass and fail alike unproven
		was := res.Verdict
		res.Verdict = Inconclusive
		res.Reasons = append(res.Reasons, fmt.Sprintf("load lost (the verdict would have been %s on the samples that arrived): %s", was, strings.Join(a.in.LostLoad, "; ")))
	}
	if res.Verdict == Pass {
		if why := a.shortLoad(res.Requests, res.LoadSegments); why != "" {
			res.Verdict = Inconclusive
			res.Reasons = append(res.Reasons, why)
		}
	}
	if res.Verdict == Pass {
		res.Reasons = append(res.Reasons, "every SLO check passed"+landedNote(res.Faults))
	}
}

// checks adds the run's SLO checks to res, each with its status.
func (a *analysis) checks(res *Result) {
	slo := a.slo
	add := func(c Check) { res.Checks = append(res.Checks, c) }
	pf := statusOf
	b := res.Budget
	add(Check{Name: "error budget", Status: pf(b.Consumed <= slo.MaxBudgetConsumed),
		Value: fmt.Sprintf("%.2f consumed (%d of %d requests failed, availability %.3f%%)", b.Consumed, res.Failed, res.Requests, 100*res.Availability),
		Limit: fmt.Sprintf("<= %.2f of a %.3f%% SLO", slo.MaxBudgetConsumed, 100*slo.Availability)})
	if slo.P99 > 0 {
		var h Histogram
		for _, w := range a.w {
			h.Merge(&w.Latency)
		}
		p99 := h.Quantile(0.99)
		add(Check{Name: "p99 latency", Status: pf(p99 <= slo.P99.D()), Value: fmtDur(p99), Limit: "<= " + slo.P99.String()})
	}
	for _, f := range res.Faults {
		if slo.Recovery == 0 {
			break
		}
		c := Check{Name: "recovery " + f.ID, Limit: "<= " + slo.Recovery.String()}
		switch {
		case !f.Impact:
			c.Status, c.Value = StatusPass, "no client-visible impact"
		case !f.Recovered:
			c.Status, c.Value = StatusFail, fmt.Sprintf("not recovered within the %s observed", f.Observed)
		default:
			c.Status, c.Value = pf(*f.Recovery <= slo.Recovery), f.Recovery.String()
		}
		add(c)
	}
	if slo.ScaleOut > 0 {
		add(scaleOutCheck(res.ScaleOut, slo.ScaleOut))
	}
	if slo.Reconnect > 0 {
		for _, f := range res.Connections.ByFault() {
			add(reconnectCheck(res.Connections, f, slo.Reconnect, a.in.End))
		}
	}
	if slo.Rollout != nil {
		for _, f := range res.DeployEvents() {
			add(rolloutCheck(f, *slo.Rollout))
		}
	}
	if slo.Jain > 0 {
		c := Check{Name: "evenness (Jain)", Limit: fmt.Sprintf(">= %.2f", slo.Jain), Status: StatusSkipped, Value: "no baseline traffic"}
		if a.in.Unattributed {
			// attribution: auto found none: not measured is not a fail
			c.Value = "responses name no pod"
		}
		if p := res.Baseline(); p != nil {
			e, kind := p.Evenness()
			if e != nil && len(e.Pods) > 0 && e.Requests < MinRequestsPerPod*len(e.Pods) {
				c.Value = fmt.Sprintf("too few requests to gate on: %d over %d pods (need %d per pod)", e.Requests, len(e.Pods), MinRequestsPerPod)
			} else if e != nil {
				c.Status = pf(e.Jain >= slo.Jain)
				c.Value = fmt.Sprintf("%.3f", e.Jain)
				c.Detail = fmt.Sprintf("%s phase, %s, %d pods, chi-square p=%.3g", p.Name, kind, len(e.Pods), e.PValue)
			}
		}
		add(c)
	}
	if slo.Rejoin > 0 {
		a.rejoinChecks(res, add)
	}
	for _, f := range res.Faults {
		st := StatusPass
		if !f.LandedVerdict {
			st = StatusSkipped
		}
		add(Check{Name: "fault landed " + f.ID, Status: st, Value: fmt.Sprint(f.LandedVerdict), Limit: "true", Detail: f.LandedWhy})
	}
}

// rolloutCheck is the zero-downtime check of one deploy event: the
// requests that failed while it was watched (from the event to the next
// one or the load's end, by class) and, with a duration limit, the time
// from the event to its rollout observed complete.
func rolloutCheck(f FaultResult, slo RolloutSLO) Check {
	n := f.Errors.Total()
	limit := fmt.Sprintf("<= %d failed", slo.Errors)
	ok := n <= slo.Errors
	value := fmt.Sprintf("%d failed", n)
	if n > 0 {
		value += " (" + f.Errors.Counts() + ")"
	}
	if f.LandedAt != nil {
		value += ", complete in " + f.CompleteIn()
	}
	if slo.Duration > 0 {
		limit += ", complete <= " + slo.Duration.String()
		if f.LandedAt == nil {
			ok = false
			value += fmt.Sprintf(", not complete within the %s watched", f.Observed)
		} else {
			ok = ok && Duration(f.LandedAt.Sub(f.Inject)) <= slo.Duration
		}
	}
	value += fmt.Sprintf(" over %s watched", f.Observed)
	return Check{Name: "rollout " + f.ID, Status: statusOf(ok), Value: value, Limit: limit}
}

// HarnessStart is how soon after the load starts failures must begin to be
// taken for the load path's, not the app's (see harnessFailures).
const HarnessStart = time.Second

// harnessFailures says why the failed requests are the harness's (""
// when they may be the app's): every one of them came in one run that
// began with the load (within HarnessStart) and ended before the first
// fault, with none after. The app was not yet disturbed, and it answered
// from then on: what failed was the path to it (Service DNS, routes from
// the load's nodes, a controller not yet synced). Never a fail of the app,
// never a pass.
func (a *analysis) harnessFailures() string {
	if len(a.in.Faults) == 0 {
		return ""
	}
	first := a.in.Faults[0].Inject
	for _, f := range a.in.Faults {
		if f.Inject.Before(first) {
			first = f.Inject
		}
	}
	from, to, failed := -1, -1, 0
	for i, w := range a.w {
		bad := w.Total - w.OK
		if bad == 0 {
			continue
		}
		if from < 0 {
			from = i
		} else if i != to+1 {
			return "" // a second run of failures
		}
		to = i
		failed += bad
	}
	if from < 0 || a.rec.at(from).Sub(a.rec.Start()) >= HarnessStart || a.rec.at(to+1).After(first) {
		return ""
	}
	path := a.in.Path
	if path == "" {
		path = "the load path"
	}
	return fmt.Sprintf("all %d failed requests came in the first %s of the load, before any fault, and none after: the load path was not ready, not the app (%s)",
		failed, a.rec.at(to+1).Sub(a.rec.Start()), path)
}

// MinRequestsPerPod is how many baseline requests per pod evenness needs
// before it gates: with m requests per pod, uniform random traffic alone
// gives a Jain index of about 1/(1+1/m), 0.98 at 50.
const MinRequestsPerPod = 50

// MinDelivered is the share of the planned requests a run must deliver to
// pass: a stalled or short load could hide an outage.
const MinDelivered = 0.95

// shortLoad says why the load cannot back a pass ("" when it can).
func (a *analysis) shortLoad(requests int, segs []LoadSegment) string {
	if requests == 0 {
		return "no samples: no request was sent, so nothing was measured"
	}
	if p := a.in.Planned; p > 0 && float64(requests) < MinDelivered*float64(p) {
		return fmt.Sprintf("load delivered %d of %d planned requests (%.0f%%, below %.0f%%): too little traffic to rule out an outage", requests, p, 100*float64(requests)/float64(p), 100*MinDelivered)
	}
	for _, g := range segs {
		if g.Planned > 0 && float64(g.Sent) < MinDelivered*float64(g.Planned) {
			return fmt.Sprintf("load segment %s delivered %d of %d planned requests (%.0f%%, below %.0f%%): the shape was not sent as asked", g.Name, g.Sent, g.Planned, 100*float64(g.Sent)/float64(g.Planned), 100*MinDelivered)
		}
	}
	return ""
}

// LoadSegment is one part of a shaped load: from From to To after the
// load's start, Planned requests asked (Sent: those that started in it).
type LoadSegment struct {
	Name    string   `json:"name"`
	From    Duration `json:"from"`
	To      Duration `json:"to"`
	Planned int      `json:"planned"`
	Sent    int      `json:"sent"`
}

// segments counts the requests sent in each segment of a shaped load
// (by the window they started in).
func (a *analysis) segments() []LoadSegment {
	out := make([]LoadSegment, len(a.in.Segments))
	for i, g := range a.in.Segments {
		g.Sent = 0
		for _, w := range a.rec.Windows() {
			if off := a.rec.at(w.Index).Sub(a.rec.Start()); off >= time.Duration(g.From) && off < time.Duration(g.To) {
				g.Sent += w.Total
			}
		}
		out[i] = g
	}
	return out
}

func landedNote(fs []FaultResult) string {
	if len(fs) == 0 {
		return ""
	}
	ids := make([]string, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	return " and every fault landed (" + strings.Join(ids, ", ") + ")"
}
