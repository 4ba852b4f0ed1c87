package report

import "time"

// SchemaVersion names the result.json schema; bump on incompatible change.
// v2 added error classes (errors in windows, phases, faults and the run);
// v1 files are still read.
const SchemaVersion = "aftershock.result/v2"

// schemaV1 is the schema before error classes.
const schemaV1 = "aftershock.result/v1"

// Verdict is the outcome of a run.
type Verdict string

// Verdicts.
const (
	Pass         Verdict = "pass"
	Fail         Verdict = "fail"
	Inconclusive Verdict = "inconclusive"
)

// Result is everything a run measured, enough to re-render every report and
// to compare runs. It is what result.json holds.
type Result struct {
	Schema   string `json:"schema"`
	Scenario string `json:"scenario"`
	// Spec is the scenario's YAML as run, SpecFile where it was read from
	// (its own paths resolve from there): `aftershock replay` reruns it.
	Spec      string `json:"spec,omitempty"`
	SpecFile  string `json:"specFile,omitempty"`
	Seed      int64  `json:"seed"`
	NodeImage string `json:"nodeImage,omitempty"`
	Cluster   string `json:"cluster,omitempty"`
	// Path is the way the traffic took: nodePort, or inCluster with its
	// load pods.
	Path string `json:"path,omitempty"`
	// LostLoad names load sources whose samples did not all arrive.
	LostLoad []string `json:"lostLoad,omitempty"`
	// LoadSources are the load pods of in-cluster load and what each sent.
	LoadSources []LoadSource `json:"loadSources,omitempty"`
	// LoadSegments are the parts of a shaped load, each planned and sent.
	LoadSegments []LoadSegment     `json:"loadSegments,omitempty"`
	Info         map[string]string `json:"info,omitempty"` // free-form facts worth reporting (e.g. node-monitor-grace-period)
	Start        time.Time         `json:"start"`
	End          time.Time         `json:"end"`
	Window       Duration          `json:"window"`
	SLO          SLO               `json:"slo"`

	Verdict Verdict  `json:"verdict"`
	Reasons []string `json:"reasons"`
	// Expect is what the scenario was meant to reach (nil: pass); see Gate.
	Expect *Expectation `json:"expect,omitempty"`
	Checks []Check      `json:"checks"`
	// Repeats is set on the aggregate of --repeat runs (see Repeat).
	Repeats *Repeats `json:"repeats,omitempty"`

	Requests     int     `json:"requests"`
	Failed       int     `json:"failed"`
	Availability float64 `json:"availability"`
	Budget       Budget  `json:"budget"`
	// Errors counts the failed requests by class (ErrorClass).
	Errors ErrorCounts `json:"errors,omitempty"`

	Phases []Phase       `json:"phases"`
	Faults []FaultResult `json:"faults"`
	// Rejoins are the pods that became ready during the run (replacements,
	// restarts) and how they took up traffic.
	Rejoins []Rejoin `json:"rejoins,omitempty"`
	// Retired are the pods told to stop during the run (a rollout's old
	// pods, a scale-down's, a killed pod) and how long each kept serving.
	Retired []Retirement `json:"retired,omitempty"`
	// Connections are the held connections of a WebSocket load: where
	// they were, which dropped, how soon each was back.
	Connections *Connections `json:"connections,omitempty"`
	// ScaleOut is how the autoscaler answered the load's spike.
	ScaleOut *ScaleOut    `json:"scaleOut,omitempty"`
	Timeline []Event      `json:"timeline"`
	Windows  []WindowStat `json:"windows"`
}

// undisturbed reports whether p is the phase before any fault: "baseline",
// or "steady" in a run without faults.
func (p Phase) undisturbed() bool { return p.Name == "baseline" || p.Name == "steady" }

// Evenness is the phase's evenness over the connections that carried most
// of its traffic: new connections without keep-alive, reused ones with it
// (nil when neither was measured), and which it is.
func (p Phase) Evenness() (*Evenness, string) {
	switch {
	case p.New != nil && (p.Reused == nil || p.New.Requests >= p.Reused.Requests):
		return p.New, "new connections"
	case p.Reused != nil:
		return p.Reused, "reused connections"
	}
	return nil, ""
}

// Baseline is the phase before any fault (see undisturbed); nil when the
// run has none.
func (r *Result) Baseline() *Phase { return baselineOf(r.Phases) }

func baselineOf(phases []Phase) *Phase {
	for i := range phases {
		if phases[i].undisturbed() {
			return &phases[i]
		}
	}
	return nil
}

// LoadSource is one load pod: where it ran, its share of the rate, and
// how many of its samples arrived (Sent is what it says it sent; -1 when it
// never said, e.g. it died).
type LoadSource struct {
	Name     string `json:"name"`
	Node     string `json:"node"`
	Rate     int    `json:"rate"`
	Samples  int    `json:"samples"`
	Sent     int    `json:"sent"`
	Complete bool   `json:"complete"`
	// Asked is the requests it was asked to send (its share of the plan),
	// Achieved the rate it sent at over the load's duration.
	Asked    int     `json:"asked,omitempty"`
	Achieved float64 `json:"achieved,omitempty"`
}

// Check is one SLO check: one JUnit testcase.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Value  string `json:"value"`
	Limit  string `json:"limit"`
	Detail string `json:"detail,omitempty"`
}

// Status is a check's outcome.
type Status string

// Statuses of a check.
const (
	StatusPass Status = "pass"
	StatusFail Status = "fail"
	// StatusSkipped: not shown either way (no baseline traffic, a fault
	// not shown to have landed, too few repeats): never a pass.
	StatusSkipped Status = "skipped"
)

// statusOf is pass when ok, else fail.
func statusOf(ok bool) Status {
	if ok {
		return StatusPass
	}
	return StatusFail
}

// Budget is the error budget over the whole run.
type Budget struct {
	Allowed     float64 `json:"allowed"`     // (1-A) x total requests
	Consumed    float64 `json:"consumed"`    // failed / allowed; 1.0 = exactly spent
	MaxBurnRate float64 `json:"maxBurnRate"` // worst window's error rate / (1-A)
}

// Latency percentiles of a phase, from merged histograms.
type Latency struct {
	P50 Duration `json:"p50"`
	P90 Duration `json:"p90"`
	P99 Duration `json:"p99"`
	Max Duration `json:"max"`
}

// Phase is baseline, fault or recovery (or steady, with no fault).
type Phase struct {
	Name         string    `json:"name"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	Requests     int       `json:"requests"`
	Failed       int       `json:"failed"`
	Availability float64   `json:"availability"`
	BurnRate     float64   `json:"burnRate"`
	Latency      Latency   `json:"latency"`
	// StableWindows is how many windows evenness counts: the longest run of
	// windows in the phase where the ready set was not changing.
	StableWindows int         `json:"stableWindows"`
	Errors        ErrorCounts `json:"errors,omitempty"`
	New           *Evenness   `json:"newConnections,omitempty"`
	Reused        *Evenness   `json:"reusedConnections,omitempty"`
}

// Evenness is how evenly successful requests spread across pods.
type Evenness struct {
	Requests int        `json:"requests"`
	Pods     []PodShare `json:"pods"`
	MaxMin   float64    `json:"maxMin"` // max/min requests; 0 when some pod got none
	CV       float64    `json:"cv"`     // coefficient of variation of per-pod requests
	Jain     float64    `json:"jain"`   // (sum x)^2 / (n sum x^2); 1 = perfectly even
	Chi2     float64    `json:"chi2"`   // chi-square statistic against uniform
	PValue   float64    `json:"pValue"` // chi-square goodness-of-fit p-value
}

// PodShare is one pod's part of a phase's traffic.
type PodShare struct {
	Pod      string  `json:"pod"`
	Requests int     `json:"requests"`
	Share    float64 `json:"share"`
}

// FaultResult is what clients saw of one fault.
type FaultResult struct {
	Fault
	LandedVerdict bool      `json:"landedVerdict"` // shown to have landed (cluster or client evidence)
	LandedWhy     string    `json:"landedWhy"`
	Impact        bool      `json:"impact"`                     // any bad window in its observation
	Recovered     bool      `json:"recovered"`                  // impact and then W good windows
	Recovery      *Duration `json:"clientRecovery,omitempty"`   // inject -> start of the final good run
	FirstError    *Duration `json:"timeToFirstError,omitempty"` // inject -> first failed request
	Disruption    Duration  `json:"disruption"`                 // sum of bad windows
	LongestBadRun Duration  `json:"longestBadRun"`
	Observed      Duration  `json:"observed"` // how long after inject this fault was watched
	// Errors counts failed requests by class while it was watched.
	Errors ErrorCounts `json:"errors,omitempty"`
}

// ClientRecovery says what clients saw of the fault's end, never printing
// "no impact" and "not recovered" the same way: the recovery time, "no
// impact", or "NOT RECOVERED".
func (f FaultResult) ClientRecovery() string {
	switch {
	case f.Recovery != nil:
		return f.Recovery.String()
	case !f.Impact:
		return "no impact"
	default:
		return "NOT RECOVERED"
	}
}

// CompleteIn says how long a deploy event took to complete: its duration
// from the event to its rollout observed complete, or "NOT COMPLETE".
func (f FaultResult) CompleteIn() string {
	if f.LandedAt == nil {
		return "NOT COMPLETE"
	}
	return Duration(f.LandedAt.Sub(f.Inject)).String()
}

// DeployEvents are the faults that are deploy events.
func (r *Result) DeployEvents() []FaultResult {
	var out []FaultResult
	for _, f := range r.Faults {
		if f.Deploy {
			out = append(out, f)
		}
	}
	return out
}

// WindowStat is one window in result.json and the plots.
type WindowStat struct {
	Offset       Duration            `json:"offset"` // from Start
	Requests     int                 `json:"requests"`
	OK           int                 `json:"ok"`
	Availability float64             `json:"availability"`
	P50          Duration            `json:"p50"`
	P99          Duration            `json:"p99"`
	Good         bool                `json:"good"`
	Pods         map[string]PodCount `json:"pods,omitempty"`
	Errors       ErrorCounts         `json:"errors,omitempty"`
}
