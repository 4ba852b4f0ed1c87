package main

import (
	"bytes"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// syncBuf is a bytes.Buffer safe for the handler's goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// SIGINT then SIGTERM (what GitHub Actions sends) keeps reverting; SIGHUP
// stops like SIGTERM; only a third signal or the bound exits, naming clean --keep.
func TestSignalsRevertUntilAThirdOrTheBound(t *testing.T) {
	run := func(bound time.Duration, signals ...os.Signal) (cancelled bool, code int, out string) {
		sigs := make(chan os.Signal, 3)
		var mu sync.Mutex
		code = -1
		exited := make(chan struct{})
		var w syncBuf
		stop := onSignals(sigs, func() { mu.Lock(); cancelled = true; mu.Unlock() }, func(c int) { mu.Lock(); code = c; mu.Unlock(); close(exited) }, bound, &w)
		defer stop()
		for _, s := range signals {
			sigs <- s
			time.Sleep(20 * time.Millisecond)
		}
		select {
		case <-exited:
		case <-time.After(min(bound, time.Second) + 200*time.Millisecond):
		}
		mu.Lock()
		defer mu.Unlock()
		return cancelled, code, w.String()
	}
	c, code, out := run(time.Hour, syscall.SIGINT, syscall.SIGTERM)
	assert.True(t, c, "the first signal cancels the run")
	assert.Equal(t, -1, code, "a second signal does not exit: reverts go on")
	assert.Contains(t, out, "still reverting")

	c, code, _ = run(time.Hour, syscall.SIGHUP)
	assert.True(t, c, "SIGHUP stops like SIGTERM")
	assert.Equal(t, -1, code)

	_, code, out = run(time.Hour, syscall.SIGINT, syscall.SIGTERM, syscall.SIGTERM)
	assert.Equal(t, 130, code, "a third signal exits")
	assert.Contains(t, out, "aftershock clean --keep")

	_, code, out = run(300*time.Millisecond, syscall.SIGINT)
	assert.Equal(t, 130, code, "the bound exits")
	assert.Contains(t, out, "longer than 300ms")
	assert.Contains(t, out, "aftershock clean --keep")
}
