package report

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Connections is what the held connections of a WebSocket load went
// through: where they were, which dropped, and how soon each was back.
type Connections struct {
	Held int `json:"held"`
	// First is the connections per pod once each had first connected; Last
	// per pod when the load stopped (connected ones only).
	First map[string]int `json:"first"`
	Last  map[string]int `json:"last"`
	Drops []Drop         `json:"drops,omitempty"`
	// Events are every connect and drop, in time order (at most
	// MaxConnEvents: the first ones), for the plot of connections per pod
	// over time.
	Events []ConnEvent `json:"events,omitempty"`
}

// MaxConnEvents bounds the connection events a result keeps.
const MaxConnEvents = 20000

// Drop is one dropped connection and its reconnection.
type Drop struct {
	Conn   int       `json:"conn"`
	At     time.Time `json:"at"`
	Pod    string    `json:"pod,omitempty"` // the pod it was on
	Reason string    `json:"reason"`
	// Fault is the fault injected last before the drop ("" before any).
	Fault string `json:"fault,omitempty"`
	// Back is drop -> connected again, To the pod it reached; nil when it
	// was not back before the load stopped.
	Back *Duration `json:"back,omitempty"`
	To   string    `json:"to,omitempty"`
}

// connections reads the connection events (nil without any).
func connections(events []ConnEvent, faults []Fault, end time.Time) *Connections {
	if len(events) == 0 {
		return nil
	}
	evs := append([]ConnEvent(nil), events...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })
	c := &Connections{First: map[string]int{}, Last: map[string]int{}, Events: evs[:min(len(evs), MaxConnEvents)]}
	on := map[int]string{} // connection -> pod while up
	open := map[int]int{}  // connection -> its drop waiting for a reconnect (index in Drops)
	seen := map[int]bool{} // connections that have connected once
	for _, e := range evs {
		if !e.Up {
			delete(on, e.Conn)
			open[e.Conn] = len(c.Drops)
			c.Drops = append(c.Drops, Drop{Conn: e.Conn, At: e.At, Pod: e.Pod, Reason: e.Reason, Fault: faultBefore(faults, e.At)})
			continue
		}
		on[e.Conn] = e.Pod
		if !seen[e.Conn] {
			seen[e.Conn] = true
			c.First[e.Pod]++
		}
		if i, ok := open[e.Conn]; ok {
			d := Duration(e.At.Sub(c.Drops[i].At))
			c.Drops[i].Back, c.Drops[i].To = &d, e.Pod
			delete(open, e.Conn)
		}
	}
	c.Held = len(seen)
	for _, p := range on {
		c.Last[p]++
	}
	return c
}

// faultBefore is the ID of the fault injected last at or before t.
func faultBefore(faults []Fault, t time.Time) string {
	id, at := "", time.Time{}
	for _, f := range faults {
		if !f.Inject.After(t) && !f.Inject.Before(at) {
			id, at = f.ID, f.Inject
		}
	}
	return id
}

// FaultDrops sums up the drops after a fault (id "" for before any).
type FaultDrops struct {
	Fault   string
	Dropped int
	From    map[string]int // pods the dropped connections were on
	Reasons map[string]int
	Back    int            // reconnected before the load stopped
	Slowest Duration       // the longest reconnection among those back
	To      map[string]int // pods they reconnected to
}

// ByFault sums up the drops per fault, in the order of the faults' first
// drops.
func (c *Connections) ByFault() []FaultDrops {
	if c == nil {
		return nil
	}
	var out []FaultDrops
	idx := map[string]int{}
	for _, d := range c.Drops {
		i, ok := idx[d.Fault]
		if !ok {
			i = len(out)
			idx[d.Fault] = i
			out = append(out, FaultDrops{Fault: d.Fault, From: map[string]int{}, Reasons: map[string]int{}, To: map[string]int{}})
		}
		f := &out[i]
		f.Dropped++
		f.From[d.Pod]++
		f.Reasons[d.Reason]++
		if d.Back != nil {
			f.Back++
			f.Slowest = max(f.Slowest, *d.Back)
			f.To[d.To]++
		}
	}
	return out
}

// PerPod writes connections per pod, most first: "pod-a 17, pod-b 16".
func PerPod(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	ks := sortedKeys(m)
	sort.SliceStable(ks, func(i, j int) bool { return m[ks[i]] > m[ks[j]] })
	parts := make([]string, len(ks))
	for i, k := range ks {
		name := k
		if name == "" {
			name = "(unnamed)"
		}
		parts[i] = fmt.Sprintf("%s %d", name, m[k])
	}
	return strings.Join(parts, ", ")
}

// reconnectCheck: every connection a fault dropped was back within the
// limit. A drop too close to the load's end to tell is not shown either way.
func reconnectCheck(c *Connections, f FaultDrops, limit Duration, end time.Time) Check {
	ck := Check{Name: "reconnect " + f.Fault, Limit: "<= " + limit.String()}
	if f.Fault == "" {
		ck.Name = "reconnect before any fault"
	}
	late, unknown := 0, 0
	for _, d := range c.Drops {
		if d.Fault != f.Fault || d.Back != nil {
			continue
		}
		if end.Sub(d.At) < limit.D() {
			unknown++
		} else {
			late++
		}
	}
	value := fmt.Sprintf("%d of %d dropped connection(s) back, slowest %s", f.Back, f.Dropped, f.Slowest)
	switch {
	case late > 0 || f.Slowest > limit:
		ck.Status, ck.Value = StatusFail, value
		if late > 0 {
			ck.Value += fmt.Sprintf("; %d not back within %s", late, limit)
		}
	case unknown > 0:
		ck.Status, ck.Value = StatusSkipped, fmt.Sprintf("%s; %d dropped too close to the load's end to tell", value, unknown)
	default:
		ck.Status, ck.Value = StatusPass, value
	}
	return ck
}

// PerPodOverTime is the connections each pod held after each event, from
// Events: the instants and, per pod (in order of first connection), its
// count at each.
func (c *Connections) PerPodOverTime() (at []time.Time, pods []string, counts [][]int) {
	if c == nil {
		return nil, nil, nil
	}
	idx := map[string]int{}
	on := map[int]string{}
	cur := []int{}
	for _, e := range c.Events {
		if p, ok := on[e.Conn]; ok {
			cur[idx[p]]--
			delete(on, e.Conn)
		}
		if e.Up {
			i, ok := idx[e.Pod]
			if !ok {
				i = len(pods)
				idx[e.Pod] = i
				pods = append(pods, e.Pod)
				cur = append(cur, 0)
				for k := range counts {
					counts[k] = append(counts[k], 0)
				}
			}
			cur[i]++
			on[e.Conn] = e.Pod
		}
		at = append(at, e.At)
		counts = append(counts, append([]int(nil), cur...))
	}
	return at, pods, counts
}
