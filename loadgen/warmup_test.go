package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A path that fails at first (as the in-cluster path did right after a
// rollout) is proven only by a run of successes; one that never works is
// reported with its last error within the bound.
func TestWarmUpNeedsARunOfSuccesses(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k := n.Add(1); k <= 3 || k == 6 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	w := WarmUpPath(context.Background(), Options{URL: srv.URL, Rate: 10, Duration: time.Second}, 5, 10*time.Second)
	require.True(t, w.OK, w.LastError)
	assert.Equal(t, 4, w.Failures, "three at first, one inside a run that then started over")
	assert.Equal(t, 4+5+2, w.Requests)
	assert.Positive(t, w.Took, "the warm-up's time is reported")

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) }))
	defer bad.Close()
	start := time.Now()
	w = WarmUpPath(context.Background(), Options{URL: bad.URL, Rate: 10, Duration: time.Second}, 5, 700*time.Millisecond)
	assert.False(t, w.OK)
	assert.Less(t, time.Since(start), 2*time.Second, "bounded")
	assert.Contains(t, w.LastError, "502")
	assert.Contains(t, w.String(), "no run of successes; last error: 502")
}
