package report

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Rejoin is how a pod that became ready during the run took up traffic.
type Rejoin struct {
	Pod   string    `json:"pod"`
	Ready time.Time `json:"ready"` // when the cluster saw it ready
	// FirstRequest is ready -> the start of the first window it served in
	// (nil: it served nothing before the run ended). Window precision.
	FirstRequest *Duration `json:"firstRequest,omitempty"`
	// FairShare is ready -> the start of the first window from which it
	// held at least FairShareFraction of 1/n of the successful requests
	// (n: the pods serving then); nil when it never did.
	FairShare *Duration `json:"fairShare,omitempty"`
	// Observed is ready -> the end of the run.
	Observed Duration `json:"observed"`
	// Precision is the window width: the times above are window starts.
	Precision Duration `json:"precision"`
	// FirstLatency is the latency of its first requests (up to
	// FirstSamples of them): median and worst, against the baseline p99.
	FirstRequests   int      `json:"firstRequests"`
	FirstLatencyP50 Duration `json:"firstLatencyP50"`
	FirstLatencyMax Duration `json:"firstLatencyMax"`
	SteadyP99       Duration `json:"steadyP99"` // before the first pod rejoined
}

// FairShareFraction: a pod has its fair share when it serves at least this
// fraction of 1/n (within 20 % of an even share).
const FairShareFraction = 0.8

// FirstSamples is how many of each pod's first successful requests the
// recorder keeps the latency of.
const FirstSamples = 20

// minShareRequests is how many successful requests per serving pod a share
// is judged over: windows are joined forward until they hold this many.
const minShareRequests = 10

// FirstRequestText is the time to the first request after ready, or
// "none in the Xs watched".
func (r Rejoin) FirstRequestText() string {
	if r.FirstRequest == nil {
		return "none in the " + r.Observed.String() + " watched"
	}
	return r.within(*r.FirstRequest)
}

// FairShareText is the time to the fair share after ready, or "not reached
// in the Xs watched".
func (r Rejoin) FairShareText() string {
	if r.FairShare == nil {
		return "not reached in the " + r.Observed.String() + " watched"
	}
	return r.within(*r.FairShare)
}

// within is a time after ready at window precision: "+1.2s", or "< 100ms"
// for the window it became ready in.
func (r Rejoin) within(d Duration) string {
	if d == 0 && r.Precision > 0 {
		return "< " + r.Precision.String()
	}
	return "+" + d.String()
}

// String is one line: "pod-x: first request 0.3s, fair share 3.1s after ready; first 20 requests p50 4ms, max 40ms (steady p99 12ms)".
func (r Rejoin) String() string {
	first, fair := "none", "not reached"
	if r.FirstRequest != nil {
		first = r.FirstRequest.String()
	}
	if r.FairShare != nil {
		fair = r.FairShare.String()
	}
	s := fmt.Sprintf("%s: first request %s, fair share %s after ready (watched %s)", r.Pod, first, fair, r.Observed)
	if r.FirstRequests > 0 {
		s += fmt.Sprintf("; first %d requests p50 %s, max %s (steady p99 %s)", r.FirstRequests, r.FirstLatencyP50, r.FirstLatencyMax, r.SteadyP99)
	}
	return s
}

// rejoins finds the pods that became ready after the load started (the
// observer's pod-ready events) and measures how they took up traffic.
func (a *analysis) rejoins(phases []Phase) []Rejoin {
	var evs []Event
	for _, e := range a.in.Timeline {
		if e.Kind == "pod-ready" && e.At.After(a.in.Start) && e.At.Before(a.in.End) {
			evs = append(evs, e)
		}
	}
	if len(evs) == 0 {
		return nil
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })
	// steady: the p99 before the first pod rejoined and before any fault
	// (the baseline's when there is no whole window before it)
	end := a.clamp(a.rec.indexOf(evs[0].At))
	for _, f := range a.in.Faults {
		end = min(end, a.clamp(a.rec.indexOf(f.Inject)))
	}
	var h Histogram
	for i := 0; i < end; i++ {
		h.Merge(&a.w[i].Latency)
	}
	steady := Duration(h.Quantile(0.99))
	if b := baselineOf(phases); h.Count() == 0 && b != nil {
		steady = b.Latency.P99
	}
	var out []Rejoin
	for _, e := range evs {
		pod, _, _ := strings.Cut(e.Detail, " on ")
		r := Rejoin{Pod: pod, Ready: e.At, Observed: Duration(a.in.End.Sub(e.At)), SteadyP99: steady, Precision: Duration(a.rec.Width())}
		from := a.clamp(a.rec.indexOf(e.At))
		for i := from; i < len(a.w); i++ {
			if c := a.w[i].Pods.Get(pod); c.New+c.Reused > 0 {
				d := Duration(max(0, a.rec.at(i).Sub(e.At)))
				r.FirstRequest = &d
				break
			}
		}
		for i := from; i < len(a.w); i++ {
			if a.fairFrom(pod, i) {
				d := Duration(max(0, a.rec.at(i).Sub(e.At)))
				r.FairShare = &d
				break
			}
		}
		if lat := a.rec.first[pod]; len(lat) > 0 {
			s := append([]time.Duration(nil), lat...)
			sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
			r.FirstRequests, r.FirstLatencyP50, r.FirstLatencyMax = len(s), Duration(s[len(s)/2]), Duration(s[len(s)-1])
		}
		out = append(out, r)
	}
	return out
}

// rejoinChecks gate slo.rejoin: every pod that became ready during the run
// must reach its fair share within it. A pod watched for less than the
// limit without reaching it, or no such pod at all, is not shown either way.
func (a *analysis) rejoinChecks(res *Result, add func(Check)) {
	limit := a.slo.Rejoin
	if a.in.Unattributed {
		add(Check{Name: "rejoin", Status: StatusFail, Value: "not measured: responses name no pod (attribution none)", Limit: "<= " + limit.String()})
		return
	}
	if len(res.Rejoins) == 0 {
		add(Check{Name: "rejoin", Status: StatusSkipped, Value: "no pod became ready during the run", Limit: "<= " + limit.String()})
		return
	}
	for _, r := range res.Rejoins {
		c := Check{Name: "rejoin " + r.Pod, Limit: "<= " + limit.String(), Detail: r.String()}
		switch {
		case r.FairShare != nil:
			c.Status, c.Value = StatusPass, r.FairShare.String()
			if *r.FairShare > limit {
				c.Status = StatusFail
			}
		case r.Observed >= limit:
			c.Status, c.Value = StatusFail, fmt.Sprintf("no fair share within the %s watched", r.Observed)
		default:
			c.Status, c.Value = StatusSkipped, fmt.Sprintf("watched only %s after ready", r.Observed)
		}
		add(c)
	}
}

// fairFrom reports whether pod holds its fair share over the windows from
// i on, joined until they hold minShareRequests per serving pod.
func (a *analysis) fairFrom(pod string, i int) bool {
	counts := map[string]int{}
	total := 0
	for j := i; j < len(a.w); j++ {
		for _, t := range a.w[j].Pods {
			if p, c := t.Pod, t.PodCount; p != "" {
				counts[p] += c.New + c.Reused
				total += c.New + c.Reused
			}
		}
		if n := len(counts); n > 0 && total >= minShareRequests*n {
			if _, ok := counts[pod]; !ok {
				n++
			}
			return float64(counts[pod])/float64(total) >= FairShareFraction/float64(n)
		}
	}
	return false
}

// Retirement is how long a pod told to stop during the run kept serving:
// from the observer seeing it deleted (SIGTERM to its containers) to the
// end of the last window in which it served a request. A pod that keeps
// serving while the endpoints drop it is what a zero-downtime rollout
// needs; one that stops at once, with clients still sent to it, is the
// classic deploy outage.
type Retirement struct {
	Pod  string    `json:"pod"`
	Stop time.Time `json:"stop"`
	// ServedFor is stop -> the end of the last window it served in (nil:
	// none from the stop's window on). Window precision.
	ServedFor *Duration `json:"servedFor,omitempty"`
	// Requests are the successful requests it served in those windows.
	Requests  int      `json:"requests"`
	Precision Duration `json:"precision"`
}

// ServedForText is how long it served after the stop, or "nothing after".
func (r Retirement) ServedForText() string {
	if r.ServedFor == nil {
		return "nothing after"
	}
	return r.ServedFor.String() + " (±" + r.Precision.String() + ")"
}

// retirements finds the pods told to stop during the load (the observer's
// pod-stopping events) and how long each served after.
func (a *analysis) retirements() []Retirement {
	var out []Retirement
	for _, e := range a.in.Timeline {
		if e.Kind != "pod-stopping" || !e.At.After(a.in.Start) || !e.At.Before(a.in.End) {
			continue
		}
		pod, _, _ := strings.Cut(e.Detail, " on ")
		r := Retirement{Pod: pod, Stop: e.At, Precision: Duration(a.rec.Width())}
		for i := a.clamp(a.rec.indexOf(e.At)); i < len(a.w); i++ {
			if c := a.w[i].Pods.Get(pod); c.New+c.Reused > 0 {
				r.Requests += c.New + c.Reused
				d := Duration(max(0, a.rec.at(i).Add(a.rec.Width()).Sub(e.At)))
				r.ServedFor = &d
			}
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Stop.Before(out[j].Stop) })
	return out
}
