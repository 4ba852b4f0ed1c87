package loadgen

import (
	"fmt"
	"math"
	"time"
)

// Segment is a stretch of an attack whose rate goes linearly from From to
// To requests per second over For (constant when they are equal).
type Segment struct {
	For  time.Duration `json:"for"`
	From float64       `json:"from"`
	To   float64       `json:"to"`
}

// Shape is an attack's rate over time: its segments one after another.
// It is a vegeta.Pacer (vegeta has constant, linear and sine pacers, not
// one made of pieces): the attacker sends the n-th request when the
// integral of the rate reaches n, and stops at the shape's end.
type Shape []Segment

// Constant is rate requests per second for d.
func Constant(rate float64, d time.Duration) Shape { return Shape{{For: d, From: rate, To: rate}} }

// Duration is how long the shape lasts.
func (s Shape) Duration() time.Duration {
	var d time.Duration
	for _, g := range s {
		d += g.For
	}
	return d
}

// Peak is the highest rate the shape asks for.
func (s Shape) Peak() float64 {
	p := 0.0
	for _, g := range s {
		p = max(p, g.From, g.To)
	}
	return p
}

// Hits is how many requests the shape asks for in its first t.
func (s Shape) Hits(t time.Duration) float64 {
	h := 0.0
	for _, g := range s {
		if t <= 0 {
			break
		}
		h += g.hits(min(t, g.For))
		t -= g.For
	}
	return h
}

// Planned is how many requests the whole shape asks for.
func (s Shape) Planned() float64 { return s.Hits(s.Duration()) }

// Rate is the rate the shape asks for at t (0 past its end).
func (s Shape) Rate(t time.Duration) float64 {
	for _, g := range s {
		if t < g.For {
			return g.rate(t)
		}
		t -= g.For
	}
	return 0
}

// Scale multiplies every rate by f (a load pod's share of the total).
func (s Shape) Scale(f float64) Shape {
	out := make(Shape, len(s))
	for i, g := range s {
		out[i] = Segment{For: g.For, From: g.From * f, To: g.To * f}
	}
	return out
}

// Validate says what is wrong with the shape, if anything.
func (s Shape) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("load shape: no segment")
	}
	for i, g := range s {
		if g.For <= 0 || g.From < 0 || g.To < 0 || math.IsNaN(g.From) || math.IsNaN(g.To) || math.IsInf(g.From, 0) || math.IsInf(g.To, 0) {
			return fmt.Errorf("load shape: segment %d (%s from %g/s to %g/s): wants a positive length and rates >= 0", i+1, g.For, g.From, g.To)
		}
	}
	if s.Peak() <= 0 {
		return fmt.Errorf("load shape: every rate is 0")
	}
	return nil
}

// Pace implements vegeta.Pacer: no wait while behind the shape, otherwise
// the wait until the shape's integral reaches hits+1; stop past its end.
func (s Shape) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if float64(hits) < s.Hits(elapsed) {
		return 0, false
	}
	at, ok := s.when(float64(hits) + 1)
	if !ok {
		return 0, true
	}
	return max(at-elapsed, 0), false
}

// when is the moment the shape's integral reaches n (false: never).
func (s Shape) when(n float64) (time.Duration, bool) {
	var start time.Duration
	for _, g := range s {
		h := g.hits(g.For)
		if n <= h {
			return start + g.when(n), true
		}
		n -= h
		start += g.For
	}
	return 0, false
}

func (g Segment) slope() float64 { return (g.To - g.From) / g.For.Seconds() }

func (g Segment) rate(t time.Duration) float64 { return g.From + g.slope()*t.Seconds() }

// Hits is how many requests the segment asks for in its first t.
func (g Segment) Hits(t time.Duration) float64 { return g.hits(t) }

func (g Segment) hits(t time.Duration) float64 {
	x := t.Seconds()
	return g.From*x + g.slope()*x*x/2
}

// when is the offset into g at which its integral reaches n (0 < n <= hits(For)).
func (g Segment) when(n float64) time.Duration {
	a, b := g.From, g.slope()
	var x float64
	if math.Abs(b) < 1e-12 {
		x = n / a
	} else {
		// b/2 x² + a x - n = 0, the root in [0, For]
		x = (-a + math.Sqrt(max(a*a+2*b*n, 0))) / b
	}
	return min(time.Duration(x*float64(time.Second)), g.For)
}
