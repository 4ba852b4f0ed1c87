package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPodControlStartsOnce(t *testing.T) {
	start := make(chan time.Time, 1)
	h := podControl(Options{}, start)
	get := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	assert.Equal(t, http.StatusOK, get("/healthz"))
	assert.Equal(t, http.StatusBadRequest, get("/start?at=soon"))
	at := time.Now().Add(50 * time.Millisecond)
	assert.Equal(t, http.StatusOK, get("/start?at="+strconv.FormatInt(at.UnixNano(), 10)))
	assert.Equal(t, http.StatusConflict, get("/start?at=1"), "a second start is refused")

	require.NoError(t, waitStart(context.Background(), start))
	assert.False(t, time.Now().Before(at), "waitStart returns at the time /start named, not before")
}

func TestWaitStartStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.EqualError(t, waitStart(ctx, make(chan time.Time)), "stopped before the start")

	start := make(chan time.Time, 1)
	start <- time.Now().Add(time.Hour)
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	assert.EqualError(t, waitStart(ctx, start), "stopped before the start", "stopped while waiting for the named time")
}
