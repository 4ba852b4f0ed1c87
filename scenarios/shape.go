package scenarios

import (
	"fmt"
	"strings"
	"time"

	"github.com/aftershock-dev/aftershock/loadgen"
	"github.com/aftershock-dev/aftershock/report"
)

// rawShape is load.shape: one of a spike, a ramp or steps, each over the
// base rate load.rate for load.duration.
//
//	shape: {spike: {to: 500/s, at: 20s, for: 15s}}   # base, then 500/s for 15 s, then base again
//	shape: {ramp: {to: 500/s, at: 10s, for: 20s}}    # base, a linear ramp to 500/s, then 500/s
//	shape: {steps: [{at: 20s, rate: 300/s}, {at: 40s, rate: 100/s}]}
type rawShape struct {
	Spike *rawChange  `json:"spike"`
	Ramp  *rawChange  `json:"ramp"`
	Steps []rawChange `json:"steps"`
}

type rawChange struct {
	To   string `json:"to"`
	Rate string `json:"rate"`
	At   string `json:"at"`
	For  string `json:"for"`
}

// shape turns load.shape into the load's segments (nil without one).
func (p *parser) shape(r *rawShape, base int, d time.Duration, rampFrom int) loadgen.Shape {
	if r == nil || base <= 0 || d <= 0 {
		return nil
	}
	kinds := 0
	for _, set := range []bool{r.Spike != nil, r.Ramp != nil, len(r.Steps) > 0} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds != 1:
		p.fail("load.shape", "", "want exactly one of spike, ramp or steps")
		return nil
	case rampFrom > 0:
		p.fail("load.rampFrom", fmt.Sprint(rampFrom), "not with load.shape (a shape's ramp says where it starts: load.rate)")
		return nil
	}
	b := float64(base)
	switch {
	case r.Spike != nil:
		to, at, span, ok := p.change("load.shape.spike", *r.Spike, d, true)
		if !ok {
			return nil
		}
		return segments(loadgen.Segment{For: at, From: b, To: b}, loadgen.Segment{For: span, From: to, To: to},
			loadgen.Segment{For: d - at - span, From: b, To: b})
	case r.Ramp != nil:
		to, at, span, ok := p.change("load.shape.ramp", *r.Ramp, d, true)
		if !ok {
			return nil
		}
		return segments(loadgen.Segment{For: at, From: b, To: b}, loadgen.Segment{For: span, From: b, To: to},
			loadgen.Segment{For: d - at - span, From: to, To: to})
	}
	return p.steps(r.Steps, b, d)
}

// steps: the base rate until the first step's at, each step's rate until
// the next one's, the last one's to the end.
func (p *parser) steps(steps []rawChange, base float64, d time.Duration) loadgen.Shape {
	var out []loadgen.Segment
	last, rate := time.Duration(0), base
	for i, st := range steps {
		field := fmt.Sprintf("load.shape.steps[%d]", i)
		if st.To != "" || st.For != "" {
			p.fail(field, "", "a step has at and rate (it lasts until the next step, the last one to the end of the load)")
			return nil
		}
		r, at, _, ok := p.change(field, rawChange{To: st.Rate, At: st.At}, d, false)
		if !ok {
			return nil
		}
		if at <= last && i > 0 {
			p.fail(field+".at", st.At, fmt.Sprintf("steps go in time order: after %s", last))
			return nil
		}
		out = append(out, loadgen.Segment{For: at - last, From: rate, To: rate})
		last, rate = at, r
	}
	out = append(out, loadgen.Segment{For: d - last, From: rate, To: rate})
	return segments(out...)
}

// change reads one change's rate (to, or rate for a step), at and for,
// checking it ends within the load's duration d.
func (p *parser) change(field string, c rawChange, d time.Duration, needFor bool) (float64, time.Duration, time.Duration, bool) {
	rateField, rateV := field+".to", c.To
	if !needFor {
		rateField, rateV = field+".rate", c.Rate
		if c.Rate == "" {
			rateV = c.To
		}
	}
	if rateV == "" {
		p.fail(rateField, "", "required (like 500/s)")
		return 0, 0, 0, false
	}
	n := len(p.errs)
	rate := p.rate(rateField, rateV)
	at := p.dur(field+".at", c.At)
	span := p.dur(field+".for", c.For)
	if len(p.errs) > n {
		return 0, 0, 0, false
	}
	if rate > MaxRate {
		p.fail(rateField, rateV, fmt.Sprintf("above %d/s: more than a 2-core machine drives through kind", MaxRate))
		return 0, 0, 0, false
	}
	if needFor && span <= 0 {
		p.fail(field+".for", c.For, "required (like 15s)")
		return 0, 0, 0, false
	}
	if c.At == "" || at <= 0 || at+span > d {
		p.fail(field+".at", c.At, fmt.Sprintf("want a time after the start at which it%s ends within load.duration (%s)", map[bool]string{true: " and its for", false: ""}[needFor], d))
		return 0, 0, 0, false
	}
	return float64(rate), at, span, true
}

// segments drops the empty ones (a spike that runs to the end).
func segments(gs ...loadgen.Segment) loadgen.Shape {
	var s loadgen.Shape
	for _, g := range gs {
		if g.For > 0 {
			s = append(s, g)
		}
	}
	return s
}

// loadSegments are a shape's segments as the report checks them: each
// named by its span and rate, with the requests it asks for.
func loadSegments(s loadgen.Shape) []report.LoadSegment {
	out := make([]report.LoadSegment, len(s))
	var at time.Duration
	for i, g := range s {
		name := fmt.Sprintf("%s-%s at %.0f/s", at, at+g.For, g.From)
		if g.From != g.To {
			name = fmt.Sprintf("%s-%s from %.0f/s to %.0f/s", at, at+g.For, g.From, g.To)
		}
		out[i] = report.LoadSegment{Name: name, From: report.Duration(at), To: report.Duration(at + g.For), Planned: int(g.Hits(g.For))}
		at += g.For
	}
	return out
}

// describeShape says a shape in the scenario's words, for the report.
func describeShape(s loadgen.Shape) string {
	parts := make([]string, len(s))
	for i, g := range loadSegments(s) {
		parts[i] = g.Name
	}
	return strings.Join(parts, ", ")
}
