package report

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHistogramQuantilesWithinRelativeError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	vals := make([]time.Duration, 0, 20000)
	for i := 0; i < 20000; i++ {
		// log-uniform 50us .. 2s
		v := time.Duration(50e3 * math.Pow(40000, r.Float64()))
		vals = append(vals, v)
		h.Record(v)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		rel := float64(got-exact) / float64(exact)
		assert.InDelta(t, 0, rel, 0.02, "q=%v exact=%v got=%v", q, exact, got)
	}
	assert.Equal(t, vals[len(vals)-1], h.Max())
}

func TestHistogramMergeEqualsWhole(t *testing.T) {
	var a, b, whole Histogram
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * time.Millisecond
		whole.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	require.Equal(t, whole.Count(), m.Count())
	for _, q := range []float64{0.5, 0.9, 0.99} {
		assert.Equal(t, whole.Quantile(q), m.Quantile(q))
	}
	assert.InDelta(t, 990*time.Millisecond, m.Quantile(0.99), float64(16*time.Millisecond))
	var empty Histogram
	assert.Zero(t, empty.Quantile(0.99))
}

func TestBucketsAreMonotonic(t *testing.T) {
	prev := bucketOf(0)
	for us := uint64(1); us < 1<<22; us += 1 + us/97 {
		b := bucketOf(us)
		require.GreaterOrEqual(t, b, prev, "us=%d", us)
		v := bucketValue(b)
		require.InDelta(t, float64(us), v, float64(us)*0.016+0.5, "us=%d bucket=%d", us, b)
		prev = b
	}
}
