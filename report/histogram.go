package report

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// Histogram is a sparse, mergeable latency histogram with log-linear buckets
// (64 sub-buckets per power of two: every recorded value is reported within
// 0.8% of itself, the midpoint of a bucket 1.6% wide). It keeps only the
// buckets it has seen, as a sorted slice of 8-byte bins grown 8 at a time,
// so a window of a few hundred requests costs a few hundred bytes;
// HdrHistogram's dense arrays would cost tens of kilobytes per window, and
// a map several times more than the slice. The zero value is empty and
// ready.
type Histogram struct {
	bins []bin // by bucket, ascending
	n    uint64
	max  time.Duration
}

// bin is one bucket's count.
type bin struct {
	b uint16
	c uint32
}

const subBits = 6 // 64 sub-buckets per power of two

// bucketOf maps a latency in microseconds to its bucket index.
func bucketOf(us uint64) uint16 {
	if us < 1<<subBits {
		return uint16(us)
	}
	e := uint64(bits.Len64(us)) - subBits // >= 1
	sub := us >> (e - 1)                  // in [64, 128)
	return uint16(e<<subBits + (sub - 1<<subBits))
}

// bucketValue is the midpoint of bucket b, in microseconds.
func bucketValue(b uint16) float64 {
	if b < 1<<subBits {
		return float64(b)
	}
	e := uint64(b >> subBits)
	sub := uint64(b&(1<<subBits-1)) + 1<<subBits
	lo := sub << (e - 1)
	width := uint64(1) << (e - 1)
	return float64(lo) + float64(width-1)/2
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	if us > 1<<40 {
		us = 1 << 40
	}
	h.add(bucketOf(us), 1)
	h.n++
	if d > h.max {
		h.max = d
	}
}

// add counts c more in bucket b.
func (h *Histogram) add(b uint16, c uint32) {
	i, found := slices.BinarySearchFunc(h.bins, b, func(x bin, b uint16) int { return int(x.b) - int(b) })
	if found {
		h.bins[i].c += c
		return
	}
	if len(h.bins) == cap(h.bins) {
		// grown by 8 bins, not doubled: a closed window keeps little slack
		grown := make([]bin, len(h.bins), len(h.bins)+8)
		copy(grown, h.bins)
		h.bins = grown
	}
	h.bins = slices.Insert(h.bins, i, bin{b: b, c: c})
}

// Merge adds every count of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.n == 0 {
		return
	}
	out := make([]bin, 0, len(h.bins)+len(o.bins))
	i, j := 0, 0
	for i < len(h.bins) || j < len(o.bins) {
		switch {
		case j == len(o.bins) || (i < len(h.bins) && h.bins[i].b < o.bins[j].b):
			out = append(out, h.bins[i])
			i++
		case i == len(h.bins) || o.bins[j].b < h.bins[i].b:
			out = append(out, o.bins[j])
			j++
		default:
			out = append(out, bin{b: h.bins[i].b, c: h.bins[i].c + o.bins[j].c})
			i++
			j++
		}
	}
	h.bins = out
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest recorded value (exact).
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile returns the q-quantile (0..1); 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for _, x := range h.bins {
		seen += uint64(x.c)
		if seen >= rank {
			v := time.Duration(bucketValue(x.b) * float64(time.Microsecond))
			if v > h.max {
				v = h.max
			}
			return v
		}
	}
	return h.max
}

// CountAbove is how many recorded values lie above d (by bucket: within the
// histogram's 1.6% resolution).
func (h *Histogram) CountAbove(d time.Duration) uint64 {
	var n uint64
	lim := float64(d / time.Microsecond)
	for _, x := range h.bins {
		if bucketValue(x.b) > lim {
			n += uint64(x.c)
		}
	}
	return n
}
