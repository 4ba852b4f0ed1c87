package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Warm-up: before the measured load starts, every load source proves the
// exact path it will use (the same client settings, request and target)
// with a run of successes. Its requests are reported, never counted.

// DefaultWarmUpRun is how many successes in a row prove a path.
const DefaultWarmUpRun = 20

// DefaultWarmUpWithin bounds one source's warm-up.
const DefaultWarmUpWithin = 60 * time.Second

// WarmUp is one source's warm-up.
type WarmUp struct {
	Source    string        `json:"source,omitempty"`
	OK        bool          `json:"ok"`
	Requests  int           `json:"requests"`
	Failures  int           `json:"failures"`
	Took      time.Duration `json:"took"`
	LastError string        `json:"lastError,omitempty"`
}

func (w WarmUp) String() string {
	s := fmt.Sprintf("%s: %d requests (%d failed) in %s", w.Source, w.Requests, w.Failures, w.Took.Round(10*time.Millisecond))
	if !w.OK {
		s += ", no run of successes; last error: " + w.LastError
	}
	return s
}

// WarmUpPath sends the attack's request, one at a time with the attack's
// client settings, until run succeed in a row or within passes (or ctx
// ends). A success is what a sample counts as ok: a 2xx/3xx answer.
func WarmUpPath(ctx context.Context, o Options, run int, within time.Duration) (w WarmUp) {
	start := time.Now()
	defer func() { w.Took = time.Since(start) }()
	u, err := o.validate()
	if err != nil {
		w.LastError = err.Error()
		return w
	}
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	try := func() error { return nil }
	if o.Protocol == ProtocolGRPC {
		// a call each on a connection of its own (a gRPC port may speak
		// nothing else), the method's descriptors read first when needed
		g := o.GRPC
		try = func() (err error) {
			if g, err = g.Resolve(ctx, u.Host); err != nil {
				return err
			}
			_, err = CallGRPC(ctx, u.Host, g, o.Timeout)
			return err
		}
	} else {
		cl := client(ctx, o)
		tgt := o.Request.target(u)
		try = func() error { return warmOne(ctx, cl, tgt.Request) }
	}
	for streak := 0; streak < run; {
		if ctx.Err() != nil {
			return w
		}
		w.Requests++
		if err := try(); err != nil {
			w.Failures++
			w.LastError = err.Error()
			streak = 0
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		streak++
	}
	w.OK = true
	return w
}

func warmOne(ctx context.Context, cl *http.Client, mk func() (*http.Request, error)) error {
	req, err := mk()
	if err != nil {
		return err
	}
	resp, err := cl.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return errors.New(resp.Status)
	}
	return nil
}

// warmUpHandler serves a load pod's /warmup: its warm-up as JSON.
func warmUpHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		run, err := strconv.Atoi(r.URL.Query().Get("run"))
		if err != nil || run < 1 || run > 1000 {
			http.Error(w, "run: want 1..1000", http.StatusBadRequest)
			return
		}
		within, err := time.ParseDuration(r.URL.Query().Get("within"))
		if err != nil || within <= 0 || within > 5*time.Minute {
			http.Error(w, "within: want a duration up to 5m", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(WarmUpPath(r.Context(), o, run, within))
	}
}

// WarmUp has every load pod prove the path to the Service (through the API
// server's pod proxy, all at once) and returns each one's warm-up, sorted
// as Names; the error names every pod whose path was not proven.
func (lp *LoadPods) WarmUp(ctx context.Context, run int, within time.Duration) ([]WarmUp, error) {
	out := make([]WarmUp, len(lp.names))
	var wg sync.WaitGroup
	for i, n := range lp.names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = WarmUp{LastError: "no answer"}
			pctx, cancel := context.WithTimeout(ctx, within+30*time.Second)
			defer cancel()
			b, err := lp.p.Client.CoreV1().Pods(lp.p.Namespace).ProxyGet("http", n, strconv.Itoa(PodControlPort), "warmup",
				map[string]string{"run": strconv.Itoa(run), "within": within.String()}).DoRaw(pctx)
			if err == nil {
				err = json.Unmarshal(b, &out[i])
			}
			if err != nil {
				out[i].LastError = "warm-up call: " + err.Error()
			}
			out[i].Source = fmt.Sprintf("load pod %s (node %s)", n, lp.nodes[n])
		}()
	}
	wg.Wait()
	var errs []error
	for _, w := range out {
		if !w.OK {
			errs = append(errs, errors.New(w.String()))
		}
	}
	return out, errors.Join(errs...)
}
