package report

import (
	"fmt"
	"sort"
	"time"
)

// ScaleOut is how an autoscaler answered the load's spike: the times from
// the spike (the first segment of a shaped load at least 1.5x the first
// one's rate; the load's start otherwise) to its first scale-up, to every
// pod it added ready, and to every such pod at its fair share of the
// traffic; and what clients saw meanwhile.
type ScaleOut struct {
	SpikeAt Duration `json:"spikeAt"` // the spike, from the load's start
	// Observed: the spike to the load's end, how long the answer was
	// watched.
	Observed Duration  `json:"observed"`
	From     int32     `json:"from"` // replicas before the first scale-up
	Max      int32     `json:"max"`  // the most replicas asked for
	Decision *Duration `json:"decision,omitempty"`
	// Ready: spike -> the last of the added pods ready (nil: not all were
	// before the load stopped); FairShare: spike -> the last of them at its
	// fair share (nil: not all reached it).
	Ready     *Duration `json:"ready,omitempty"`
	FairShare *Duration `json:"fairShare,omitempty"`
	// Failed and P99 cover the spike to Ready (or to the load's end).
	Requests int      `json:"requests"`
	Failed   int      `json:"failed"`
	P99      Duration `json:"p99"`
}

// spikeFactor: a segment whose rate is this much of the first one's or
// more is the spike.
const spikeFactor = 1.5

// scaleOut reads the autoscaler's decisions against the spike and the pods
// that joined (res.Rejoins).
func (a *analysis) scaleOut(res *Result) *ScaleOut {
	so := &ScaleOut{}
	spike := a.in.Start
	if segs := res.LoadSegments; len(segs) > 1 {
		rate := func(g LoadSegment) float64 { return float64(g.Planned) / max((g.To-g.From).D().Seconds(), 1e-9) }
		for _, g := range segs[1:] {
			if rate(g) >= spikeFactor*rate(segs[0]) {
				spike = a.in.Start.Add(g.From.D())
				break
			}
		}
	}
	so.SpikeAt = Duration(spike.Sub(a.in.Start))
	so.Observed = Duration(a.in.End.Sub(spike))
	scales := append([]ScaleEvent(nil), a.in.Scales...)
	sort.SliceStable(scales, func(i, j int) bool { return scales[i].At.Before(scales[j].At) })
	var decided time.Time
	for _, e := range scales {
		if e.To > e.From && !e.At.Before(spike) {
			if decided.IsZero() {
				decided, so.From = e.At, e.From
				d := Duration(e.At.Sub(spike))
				so.Decision = &d
			}
			so.Max = max(so.Max, e.To)
		}
	}
	end := a.in.End
	if !decided.IsZero() {
		// the pods that became ready after the decision, in order
		var joined []Rejoin
		for _, j := range res.Rejoins {
			if !j.Ready.Before(decided) {
				joined = append(joined, j)
			}
		}
		sort.SliceStable(joined, func(i, k int) bool { return joined[i].Ready.Before(joined[k].Ready) })
		if added := int(so.Max - so.From); added > 0 && len(joined) >= added {
			joined = joined[:added]
			d := Duration(joined[added-1].Ready.Sub(spike))
			so.Ready = &d
			end = joined[added-1].Ready
			fair := time.Duration(0)
			for _, j := range joined {
				if j.FairShare == nil {
					fair = -1
					break
				}
				fair = max(fair, j.Ready.Add(j.FairShare.D()).Sub(spike))
			}
			if fair >= 0 {
				f := Duration(fair)
				so.FairShare = &f
			}
		}
	}
	var h Histogram
	for i := a.clamp(a.rec.indexOf(spike)); i < a.clamp(a.rec.indexOf(end)+1); i++ {
		so.Requests += a.w[i].Total
		so.Failed += a.w[i].Total - a.w[i].OK
		h.Merge(&a.w[i].Latency)
	}
	so.P99 = Duration(h.Quantile(0.99))
	return so
}

// scaleOutCheck: every pod the autoscaler added after the spike was ready
// within the limit. An answer not complete when the load stopped fails
// only when the load ran the limit's length after the spike; before that
// it is not shown either way.
func scaleOutCheck(so *ScaleOut, limit Duration) Check {
	c := Check{Name: "scale-out", Limit: "<= " + limit.String()}
	switch {
	case so == nil:
		c.Status, c.Value = StatusSkipped, "no autoscaler"
	case so.Ready == nil && so.Observed < limit:
		c.Status, c.Value = StatusSkipped, fmt.Sprintf("the load stopped %s after the spike, before the limit, with the scale-out not complete", so.Observed)
	case so.Decision == nil:
		c.Status, c.Value = StatusFail, "the autoscaler did not scale up after the spike"
	case so.Ready == nil:
		c.Status, c.Value = StatusFail, fmt.Sprintf("scaled %d -> %d after %s, but not every added pod was ready before the load stopped", so.From, so.Max, *so.Decision)
	default:
		c.Status = statusOf(*so.Ready <= limit)
		c.Value = fmt.Sprintf("%s to %d -> %d pods ready (first decision after %s)", *so.Ready, so.From, so.Max, *so.Decision)
	}
	return c
}
