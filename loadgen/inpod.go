package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aftershock-dev/aftershock/report"
)

// In-cluster load: the aftershock executable runs in load pods (role
// "aftershock-load", see clusters/multicall) and streams every sample as one
// line on its stdout, which the harness follows through the pod log stream.
//
//	S <start unix ns> <latency ns> <status> <reused 0|1> <pod> <node> <error>   one request (pod, node, error Go-quoted)
//	C <at unix ns> <conn> <up 0|1> <pod> <node> <reason>                         a held connection connected or dropped (WebSocket)
//	E <requests> <elapsed ns>                                                     the attack ended; nothing was lost
//	X <error>                                                                     the attack could not run
//
// The pod serves /healthz (readiness) and POST /start?at=UNIX_NS on
// PodControlPort: all load pods start at the same instant, which the harness
// gives through the API server's pod proxy once every pod is ready.

// PodControlPort is where a load pod listens for its start.
const PodControlPort = 8079

// PodStartTimeout bounds how long a load pod waits for its start.
const PodStartTimeout = 5 * time.Minute

// EnvPodSpec is the environment variable a load pod reads its PodSpec from.
const EnvPodSpec = "AFTERSHOCK_LOAD"

// PodSpec is what one load pod sends: its share of the rate, to a Service's
// in-cluster DNS name. It travels as JSON in EnvPodSpec.
type PodSpec struct {
	URL         string        `json:"url"` // http://SERVICE.NAMESPACE.svc[.cluster.local]:PORT/
	Rate        int           `json:"rate"`
	RampFrom    int           `json:"rampFrom,omitempty"`
	Shape       Shape         `json:"shape,omitempty"`
	Duration    time.Duration `json:"duration"`
	KeepAlive   bool          `json:"keepAlive"`
	Connections int           `json:"connections,omitempty"`
	Protocol    string        `json:"protocol,omitempty"`
	GRPC        GRPC          `json:"grpc,omitzero"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	Method      string        `json:"method,omitempty"`
	Path        string        `json:"path,omitempty"`
	Header      http.Header   `json:"header,omitempty"`
	Body        []byte        `json:"body,omitempty"`
	// attribution (at most one; none of them: the sample app's headers)
	AttrHeader string `json:"attrHeader,omitempty"`
	AttrJSON   string `json:"attrJSON,omitempty"`
	AttrRegex  string `json:"attrRegex,omitempty"`
	AttrNone   bool   `json:"attrNone,omitempty"`
}

// NewPodSpec is the PodSpec of an attack described by o (its URL replaced
// by the in-cluster one).
func NewPodSpec(o Options, url string) PodSpec {
	p := PodSpec{URL: url, Rate: o.Rate, RampFrom: o.RampFrom, Shape: o.Shape, Duration: o.Duration, KeepAlive: o.KeepAlive, Connections: o.Connections, Protocol: o.Protocol, GRPC: o.GRPC, Timeout: o.Timeout,
		Method: o.Request.Method, Path: o.Request.Path, Header: o.Request.Header, Body: o.Request.Body,
		AttrHeader: o.Attribution.Header, AttrJSON: o.Attribution.JSON, AttrNone: o.Attribution.None}
	if o.Attribution.Regex != nil {
		p.AttrRegex = o.Attribution.Regex.String()
	}
	return p
}

// Options is the attack the pod runs.
func (p PodSpec) Options() (Options, error) {
	o := Options{URL: p.URL, Rate: p.Rate, RampFrom: p.RampFrom, Shape: p.Shape, Duration: p.Duration, KeepAlive: p.KeepAlive, Connections: p.Connections, Protocol: p.Protocol, GRPC: p.GRPC, Timeout: p.Timeout,
		Request:     Request{Method: p.Method, Path: p.Path, Header: p.Header, Body: p.Body},
		Attribution: Attribution{Header: p.AttrHeader, JSON: p.AttrJSON, None: p.AttrNone}, InCluster: true}
	if p.AttrRegex != "" {
		re, err := regexp.Compile(p.AttrRegex)
		if err != nil {
			return Options{}, fmt.Errorf("attribution regex %q: %w", p.AttrRegex, err)
		}
		o.Attribution.Regex = re
	}
	return o, nil
}

// serviceHost matches a Service's in-cluster DNS name.
var serviceHost = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[a-z0-9]([-a-z0-9]*[a-z0-9])?\.svc(\.cluster\.local)?$`)

// CheckServiceHost accepts only a Service's in-cluster DNS name
// (NAME.NAMESPACE.svc or NAME.NAMESPACE.svc.cluster.local): load pods
// target Services of their own cluster, never an address.
func CheckServiceHost(host string) error {
	if !serviceHost.MatchString(host) {
		return fmt.Errorf("host %q is not a Service's in-cluster name (NAME.NAMESPACE.svc); load pods target only Services of their cluster", host)
	}
	return nil
}

// SampleLine is s as one line of a load pod's stream (with the newline).
func SampleLine(s report.Sample) []byte {
	r := 0
	if s.Reused {
		r = 1
	}
	b := make([]byte, 0, 96+len(s.Error))
	b = append(b, "S "...)
	b = strconv.AppendInt(b, s.Start.UnixNano(), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(s.Latency), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(s.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(r), 10)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, s.Pod)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, s.Node)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, s.Error)
	return append(b, '\n')
}

// ConnLine is e as one line of a load pod's stream (with the newline).
func ConnLine(e report.ConnEvent) []byte {
	up := 0
	if e.Up {
		up = 1
	}
	b := fmt.Appendf(nil, "C %d %d %d ", e.At.UnixNano(), e.Conn, up)
	b = strconv.AppendQuote(b, e.Pod)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, e.Node)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, e.Reason)
	return append(b, '\n')
}

// ParseConnLine reads a line written by ConnLine (without the newline).
func ParseConnLine(line string) (report.ConnEvent, error) {
	ints, strs, err := lineFields(line, "C ", "connection", 3)
	if err != nil {
		return report.ConnEvent{}, err
	}
	return report.ConnEvent{At: time.Unix(0, ints[0]), Conn: int(ints[1]), Up: ints[2] == 1, Pod: strs[0], Node: strs[1], Reason: strs[2]}, nil
}

// lineFields reads a stream line: its prefix, then n numbers, then three
// Go-quoted strings.
func lineFields(line, prefix, what string, n int) (ints []int64, strs [3]string, err error) {
	rest, ok := strings.CutPrefix(line, prefix)
	if !ok {
		return nil, strs, fmt.Errorf("not a %s line: %.60q", what, line)
	}
	ints = make([]int64, n)
	for i := range ints {
		f, r, ok := strings.Cut(rest, " ")
		if !ok {
			return nil, strs, fmt.Errorf("%s line: too few fields: %.60q", what, line)
		}
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, strs, fmt.Errorf("%s line: field %d: %w", what, i+1, err)
		}
		ints[i], rest = v, r
	}
	for i := range strs {
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return nil, strs, fmt.Errorf("%s line: field %d: %w", what, i+n+1, err)
		}
		strs[i], _ = strconv.Unquote(q)
		rest = strings.TrimPrefix(rest[len(q):], " ")
	}
	return ints, strs, nil
}

// ParseSampleLine reads a line written by SampleLine (without the newline).
func ParseSampleLine(line string) (report.Sample, error) {
	var s report.Sample
	ints, strs, err := lineFields(line, "S ", "sample", 4)
	if err != nil {
		return s, err
	}
	s.Start = time.Unix(0, ints[0])
	s.Latency = time.Duration(ints[1])
	s.Status = int(ints[2])
	s.Reused = ints[3] == 1
	s.Pod, s.Node, s.Error = strs[0], strs[1], strs[2]
	return s, nil
}

// PodMain is the load pod's program (role "aftershock-load"): it reads its
// PodSpec from EnvPodSpec, waits for its start (at most PodStartTimeout),
// runs the attack and streams every sample to stdout. Exit 0 when the
// attack ran to its end.
func PodMain(args []string) int {
	out := &podOut{w: bufio.NewWriterSize(os.Stdout, 64<<10)}
	var spec PodSpec
	if err := json.Unmarshal([]byte(os.Getenv(EnvPodSpec)), &spec); err != nil {
		return out.fail(fmt.Errorf("%s: %w", EnvPodSpec, err))
	}
	o, err := spec.Options()
	if err != nil {
		return out.fail(err)
	}
	if _, err := o.validate(); err != nil {
		return out.fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	start := make(chan time.Time, 1)
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", PodControlPort))
	if err != nil {
		return out.fail(err)
	}
	srv := &http.Server{Handler: podControl(o, start), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	if err := waitStart(ctx, start); err != nil {
		return out.fail(err)
	}
	stopFlush := out.flushEvery(200 * time.Millisecond)
	o.OnConn = func(e report.ConnEvent) { out.write(ConnLine(e)) }
	st, err := Attack(ctx, o, func(s report.Sample) { out.write(SampleLine(s)) })
	stopFlush()
	if err != nil {
		return out.fail(err)
	}
	return out.end(st)
}

// podControl serves the load pod's control port: /healthz, /warmup and
// /start?at=UNIXNANO (once).
func podControl(o Options, start chan<- time.Time) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/warmup", warmUpHandler(o))
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		ns, err := strconv.ParseInt(r.URL.Query().Get("at"), 10, 64)
		if err != nil {
			http.Error(w, "at: want unix nanoseconds", http.StatusBadRequest)
			return
		}
		select {
		case start <- time.Unix(0, ns):
			fmt.Fprintln(w, "starting")
		default:
			http.Error(w, "already started", http.StatusConflict)
		}
	})
	return mux
}

// waitStart waits for the start (at most PodStartTimeout), then until the
// time it names.
func waitStart(ctx context.Context, start <-chan time.Time) error {
	var at time.Time
	select {
	case at = <-start:
	case <-time.After(PodStartTimeout):
		return fmt.Errorf("no start within %s", PodStartTimeout)
	case <-ctx.Done():
		return errors.New("stopped before the start")
	}
	select {
	case <-time.After(time.Until(at)):
		return nil
	case <-ctx.Done():
		return errors.New("stopped before the start")
	}
}

// podOut is the load pod's stdout: sample and connection lines, then an end
// line ("E requests elapsed") or an error line ("X message").
type podOut struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (p *podOut) write(line []byte) {
	p.mu.Lock()
	p.w.Write(line)
	p.mu.Unlock()
}

// flushEvery flushes every d until the returned func is called.
func (p *podOut) flushEvery(d time.Duration) (stop func()) {
	t := time.NewTicker(d)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-t.C:
				p.mu.Lock()
				p.w.Flush()
				p.mu.Unlock()
			case <-done:
				return
			}
		}
	}()
	return func() { t.Stop(); close(done) }
}

func (p *podOut) fail(err error) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "X %q\n", err.Error())
	p.w.Flush()
	return 1
}

func (p *podOut) end(st Stats) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "E %d %d\n", st.Requests, int64(st.Elapsed))
	if err := p.w.Flush(); err != nil {
		return 1
	}
	return 0
}
