package report

import (
	"testing"
	"time"
)

// A sample stamped far outside the run is dropped and counted, and never
// grows memory.
func TestRecorderDropsSamplesFarOutsideTheRun(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewRecorder(t0, 100*time.Millisecond)
	r.Add(Sample{Start: t0.Add(time.Second), Status: 200})
	r.Add(Sample{Start: t0.Add(-time.Minute), Status: 200})
	r.Add(Sample{Start: t0.Add(100 * 365 * 24 * time.Hour), Status: 200})
	before, after := r.Dropped()
	if before != 1 || after != 1 {
		t.Fatalf("dropped before %d, after %d; want 1 and 1", before, after)
	}
	if n := len(r.Windows()); n != 11 {
		t.Fatalf("%d windows, want 11: a sample a century late must not allocate windows", n)
	}
	r.Limit(2 * time.Second)
	r.Add(Sample{Start: t0.Add(3 * time.Second), Status: 200})
	if _, after := r.Dropped(); after != 2 {
		t.Fatalf("past the limit: dropped %d, want 2", after)
	}
}
