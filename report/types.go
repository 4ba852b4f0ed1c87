package report

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Sample is one request as the client saw it.
type Sample struct {
	Start   time.Time
	Latency time.Duration
	Status  int
	Error   string // transport error; empty when a response arrived
	Pod     string // serving pod (response header), empty when unknown
	Node    string // serving node
	Reused  bool   // the request went over a reused (keep-alive) connection
}

// OK reports whether the request succeeded: 2xx/3xx and no transport error.
func (s Sample) OK() bool { return s.Error == "" && s.Status >= 200 && s.Status < 400 }

// Duration is a time.Duration that reads and writes JSON as seconds.
type Duration time.Duration

// MarshalJSON writes seconds as a number.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(time.Duration(d).Seconds(), 'f', -1, 64)), nil
}

// UnmarshalJSON reads seconds, or a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		*d = Duration(f * float64(time.Second))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want seconds or a string like \"1.5s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// D is the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return fmtDur(time.Duration(d)) }

// fmtOffset is a signed offset from the run's start: "+2.3s", "-1.8ms".
// FormatOffset is an offset from the load's start as reports print it:
// "-6.6ms", "+14.36s".
func FormatOffset(d time.Duration) string { return fmtOffset(d) }

func fmtOffset(d time.Duration) string {
	if d < 0 {
		return "-" + fmtDur(-d)
	}
	return "+" + fmtDur(d)
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

// SLO is what a scenario must meet. Zero fields are not checked, except
// MaxBudgetConsumed which defaults to 1.0.
type SLO struct {
	Availability      float64  `json:"availability"`              // e.g. 0.99
	P99               Duration `json:"p99,omitempty"`             // whole-run p99 latency limit
	Recovery          Duration `json:"recovery,omitempty"`        // per-fault client-seen recovery limit
	Jain              float64  `json:"jain,omitempty"`            // minimum Jain index over the baseline (new connections)
	Rejoin            Duration `json:"rejoin,omitempty"`          // per pod ready during the run: ready -> its fair share
	MaxBudgetConsumed float64  `json:"maxBudgetConsumed"`         // default 1.0
	RecoveryWindows   Duration `json:"recoveryWindows,omitempty"` // W as a duration: good windows needed (default 5s)
	// Reconnect: every held connection (WebSocket load) a fault dropped is
	// connected again within it, checked per fault that dropped any.
	Reconnect Duration `json:"reconnect,omitempty"`
	// ScaleOut: from the load's spike to every pod the autoscaler added
	// ready, at most this (app.autoscale).
	ScaleOut Duration `json:"scaleOut,omitempty"`
	// Rollout is checked per deploy event (Fault.Deploy); nil: not checked.
	Rollout *RolloutSLO `json:"rollout,omitempty"`
}

// RolloutSLO is the zero-downtime check of a deploy event: at most Errors
// failed requests from the event to the next event or the load's end, and
// (when set) complete within Duration.
type RolloutSLO struct {
	Errors   int      `json:"errors"`
	Duration Duration `json:"duration,omitempty"`
}

// Event is one entry of the timeline: what the harness did and what it saw.
type Event struct {
	At     time.Time `json:"at"`
	Fault  string    `json:"fault,omitempty"` // fault ID; empty for run events
	Kind   string    `json:"kind"`            // inject, revert, observed, phase, ...
	Detail string    `json:"detail,omitempty"`
}

// ConnEvent is a held connection's change (WebSocket load): connected to
// a pod, or dropped, and why. Conn numbers the client's connections (from
// 0); a reconnection keeps its number.
type ConnEvent struct {
	At     time.Time `json:"at"`
	Conn   int       `json:"conn"`
	Up     bool      `json:"up"`               // connected (true) or dropped
	Pod    string    `json:"pod,omitempty"`    // the pod it reached (Up) or had reached (dropped)
	Node   string    `json:"node,omitempty"`   // that pod's node
	Reason string    `json:"reason,omitempty"` // why it dropped: the close frame or the error
}

// ScaleEvent is a change of the autoscaled app's desired replicas: the
// autoscaler's decision, as the harness saw it.
type ScaleEvent struct {
	At       time.Time `json:"at"`
	From, To int32
}

// Victim is what a fault hit: a pod (with its node and its position among
// the ready pods on that node, by name) or a node. Node is the node's name
// without the kind cluster's prefix ("worker2"), so a replay on another
// cluster of the same shape finds the same node.
type Victim struct {
	Pod  string `json:"pod,omitempty"`
	Node string `json:"node"`
	Pos  int    `json:"pos,omitempty"`
}

// Fault is one injected fault as the harness saw it.
type Fault struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Target string `json:"target,omitempty"`
	// Victims are what it hit, for replay (aftershock replay pins them).
	Victims []Victim  `json:"victims,omitempty"`
	Method  string    `json:"method,omitempty"` // how it was injected, e.g. "tc netem", "userspace proxy"
	Inject  time.Time `json:"inject"`
	// InPlace is when its inject returned: everything it changes is in
	// place from then on (a delay on three pods can take seconds); nil
	// when the inject failed or is unknown (a report from before it).
	InPlace *time.Time `json:"inPlace,omitempty"`
	Revert  time.Time  `json:"revert"` // zero when never reverted by the schedule (e.g. pod kill)
	// Landed: true when the harness observed the fault's effect in the cluster
	// (pod gone, node NotReady, ...), false when it observed that it did not,
	// nil when it cannot tell.
	Landed   *bool  `json:"landed,omitempty"`
	Evidence string `json:"evidence,omitempty"`
	// ExpectedDelay is set for latency faults: the report checks that the
	// fault phase's p50 rose by at least half of it.
	ExpectedDelay Duration `json:"expectedDelay,omitempty"`
	// ClusterRecovery: inject to Deployment ready and endpoints back, as the
	// cluster saw it (watch); nil when unknown.
	ClusterRecovery *Duration `json:"clusterRecovery,omitempty"`
	// Deploy: a deploy event (a rollout, a scale), checked by SLO.Rollout.
	Deploy bool `json:"deploy,omitempty"`
	// LandedAt is when the harness observed it landed (a deploy event:
	// its rollout complete); nil when it did not or cannot tell.
	LandedAt *time.Time `json:"landedAt,omitempty"`
}
