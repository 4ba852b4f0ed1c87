package report

import (
	"math"
	"math/bits"
	"sort"
	"time"
)

// Histogram is a sparse, mergeable latency histogram with log-linear buckets
// (64 sub-buckets per power of two: every recorded value is reported within
// 1.6% of itself). It keeps only the buckets it has seen, so a window of a few
// hundred requests costs a few hundred bytes; HdrHistogram's dense arrays
// would cost tens of kilobytes per window. The zero value is empty and ready.
type Histogram struct {
	counts map[uint16]uint64
	n      uint64
	max    time.Duration
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
	if h.counts == nil {
		h.counts = make(map[uint16]uint64, 16)
	}
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	if us > 1<<40 {
		us = 1 << 40
	}
	h.counts[bucketOf(us)]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

// Merge adds every count of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make(map[uint16]uint64, len(o.counts))
	}
	for b, c := range o.counts {
		h.counts[b] += c
	}
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
	keys := make([]uint16, 0, len(h.counts))
	for b := range h.counts {
		keys = append(keys, b)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for _, b := range keys {
		seen += h.counts[b]
		if seen >= rank {
			v := time.Duration(bucketValue(b) * float64(time.Microsecond))
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
	for b, c := range h.counts {
		if bucketValue(b) > lim {
			n += c
		}
	}
	return n
}
