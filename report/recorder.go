package report

import (
	"sort"
	"time"
)

// DefaultWindow is the default window width.
const DefaultWindow = time.Second

// MinWindow is the narrowest window allowed.
const MinWindow = 100 * time.Millisecond

// PodCount counts the requests one pod served, by connection kind.
type PodCount struct {
	New    int `json:"new"`
	Reused int `json:"reused"`
}

// PodTally is one pod's successful requests in a window.
type PodTally struct {
	Pod string
	PodCount
}

// PodCounts is each pod's successful requests in a window: a slice, as a
// window sees a few pods and a map would cost several times its size.
type PodCounts []PodTally

// Get is pod's counts (zero when it served none).
func (pc PodCounts) Get(pod string) PodCount {
	for _, t := range pc {
		if t.Pod == pod {
			return t.PodCount
		}
	}
	return PodCount{}
}

// Map is pc as a map (result.json's form).
func (pc PodCounts) Map() map[string]PodCount {
	if len(pc) == 0 {
		return nil
	}
	m := make(map[string]PodCount, len(pc))
	for _, t := range pc {
		m[t.Pod] = t.PodCount
	}
	return m
}

func (pc *PodCounts) add(pod string, reused bool) {
	i := 0
	for i < len(*pc) && (*pc)[i].Pod != pod {
		i++
	}
	if i == len(*pc) {
		if len(*pc) == cap(*pc) {
			grown := make(PodCounts, len(*pc), len(*pc)+2)
			copy(grown, *pc)
			*pc = grown
		}
		*pc = append(*pc, PodTally{Pod: pod})
	}
	if reused {
		(*pc)[i].Reused++
	} else {
		(*pc)[i].New++
	}
}

// Window aggregates the samples that started within one fixed window.
type Window struct {
	Index    int         // window number from the recorder's start
	Total    int         // requests
	OK       int         // successful requests
	FirstErr time.Time   // start of the first failed request, zero if none
	Pods     PodCounts   // successful requests per serving pod
	Errors   ErrorCounts // failed requests per class (ErrorClass)
	Latency  Histogram   // latency of every request (failed included)
}

// Recorder buckets a stream of samples into fixed windows. It keeps no
// samples: memory grows with the number of windows only. Not safe for
// concurrent use.
type Recorder struct {
	start  time.Time
	width  time.Duration
	win    []*Window
	before int // samples that started before start (dropped)
	after  int // samples that started past the limit (dropped)
	limit  time.Duration
	// first keeps the latency of each pod's first FirstSamples successful
	// requests (Rejoin).
	first map[string][]time.Duration
	// names holds one copy of each pod name: every window refers to it,
	// not to its own sample's copy
	names map[string]string
}

func (r *Recorder) intern(pod string) string {
	if p, ok := r.names[pod]; ok {
		return p
	}
	if r.names == nil {
		r.names = map[string]string{}
	}
	if len(r.names) < maxPodNames {
		r.names[pod] = pod
	}
	return pod
}

// maxPodNames bounds the interned pod names (a response naming a new pod
// each time must not grow memory without end).
const maxPodNames = 10_000

// NewRecorder starts windows of width at start (width < MinWindow is raised
// to MinWindow; zero means DefaultWindow).
func NewRecorder(start time.Time, width time.Duration) *Recorder {
	if width == 0 {
		width = DefaultWindow
	}
	if width < MinWindow {
		width = MinWindow
	}
	return &Recorder{start: start, width: width, limit: MaxSpan}
}

// MaxSpan bounds how far past its start a recorder takes samples unless
// Limit says otherwise: a sample stamped far outside the run (a skewed
// clock, a garbled line from a load pod) is dropped and counted, and never
// grows memory.
const MaxSpan = time.Hour

// Limit makes samples that start d or more past the start be dropped (and
// counted by Dropped); d is at most MaxSpan.
func (r *Recorder) Limit(d time.Duration) { r.limit = min(d, MaxSpan) }

// Dropped is how many samples started before the start or past the limit.
func (r *Recorder) Dropped() (before, after int) { return r.before, r.after }

// Start is the start of window 0.
func (r *Recorder) Start() time.Time { return r.start }

// Width is the window width.
func (r *Recorder) Width() time.Duration { return r.width }

// Add records one sample.
func (r *Recorder) Add(s Sample) {
	off := s.Start.Sub(r.start)
	if off < 0 {
		r.before++
		return
	}
	if off >= r.limit {
		r.after++
		return
	}
	i := int(off / r.width)
	for len(r.win) <= i {
		r.win = append(r.win, &Window{Index: len(r.win)})
	}
	w := r.win[i]
	w.Total++
	w.Latency.Record(s.Latency)
	if s.OK() {
		if s.Pod != "" && len(r.first[s.Pod]) < FirstSamples {
			if r.first == nil {
				r.first = map[string][]time.Duration{}
			}
			r.first[s.Pod] = append(r.first[s.Pod], s.Latency)
		}
		w.OK++
		w.Pods.add(r.intern(s.Pod), s.Reused)
		return
	}
	if w.Errors == nil {
		w.Errors = make(ErrorCounts, 2)
	}
	w.Errors[ErrorClass(s)]++
	if w.FirstErr.IsZero() || s.Start.Before(w.FirstErr) {
		w.FirstErr = s.Start
	}
}

// Windows returns the windows so far (shared, not copied).
func (r *Recorder) Windows() []*Window { return r.win }

// window start and end as times
func (r *Recorder) at(i int) time.Time { return r.start.Add(time.Duration(i) * r.width) }

// indexOf is the window containing t (may be out of range).
func (r *Recorder) indexOf(t time.Time) int {
	off := t.Sub(r.start)
	if off < 0 {
		return -1
	}
	return int(off / r.width)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
