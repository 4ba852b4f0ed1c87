package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
	"github.com/aftershock-dev/aftershock/report"
)

// ProtocolWebSocket holds Connections WebSocket connections for the whole
// attack and sends messages at the pacer's schedule across them in turn;
// each echo is a sample. Options.Request.Path is the WebSocket's path
// (default the sample app's echo, sampleapp.WSPath).
const ProtocolWebSocket = "websocket"

// wsURL is the WebSocket's URL: the request's path under u, the sample
// app's echo when it has none.
func wsURL(o *Options, u *url.URL) string {
	r := o.Request
	if r.Path == "" {
		r.Path = sampleapp.WSPath
	}
	return r.URL(u)
}

// The bounds of a WebSocket connection's reconnection back-off: the first
// attempt after a drop waits WSBackoffMin, each failed one doubles the wait,
// up to WSBackoffMax.
const (
	WSBackoffMin = 50 * time.Millisecond
	WSBackoffMax = time.Second
)

// wsQueue is how many scheduled messages a connection holds while it is
// busy or reconnecting (a message waits at most the timeout in it).
const wsQueue = 1024

// A WebSocket message: one sample. Start is its scheduled time, so its
// latency includes any wait for its connection (late messages show).
type wsMsg struct {
	at  time.Time
	seq uint64
}

// wsClient is one held connection: it connects, serves the messages the
// schedule gives it one at a time (send, wait for the echo), and after a
// drop reconnects with the back-off; messages scheduled while it cannot
// send fail as "websocket not connected".
type wsClient struct {
	id      int
	url     string
	o       *Options
	hc      *http.Client
	queue   chan wsMsg
	samples chan<- report.Sample
	event   func(report.ConnEvent)
}

// wsRead is what the connection's reader got: a message or the error that
// ended it.
type wsRead struct {
	msg []byte
	err error
}

func (w *wsClient) run(ctx context.Context) {
	wait := time.Duration(0)
	for {
		if wait > 0 && !w.failWhile(ctx, wait, "reconnecting") {
			return
		}
		conn, pod, node, err := w.dial(ctx)
		if err != nil {
			wait = min(max(2*wait, WSBackoffMin), WSBackoffMax)
			if !w.failWhile(ctx, 0, err.Error()) {
				return
			}
			continue
		}
		w.event(report.ConnEvent{At: time.Now(), Conn: w.id, Up: true, Pod: pod, Node: node})
		reason, more := w.serve(ctx, conn, pod, node)
		if !more {
			conn.Close(websocket.StatusNormalClosure, "load ended")
			return
		}
		conn.CloseNow()
		w.event(report.ConnEvent{At: time.Now(), Conn: w.id, Pod: pod, Node: node, Reason: reason})
		wait = WSBackoffMin
	}
}

// dial connects within the timeout; the pod and node come from the
// handshake's response (header attribution).
func (w *wsClient) dial(ctx context.Context) (*websocket.Conn, string, string, error) {
	dctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, w.url, &websocket.DialOptions{HTTPClient: w.hc, HTTPHeader: w.o.Request.Header, Host: w.o.Request.Header.Get("Host")})
	if err != nil {
		return nil, "", "", err
	}
	conn.SetReadLimit(MaxAttributionBody)
	pod, node := w.o.Attribution.Pod(resp.Header, nil)
	return conn, pod, node, nil
}

// failWhile fails the messages waiting now, then every message scheduled
// for d, as not connected (why); false when the schedule or ctx has ended.
func (w *wsClient) failWhile(ctx context.Context, d time.Duration, why string) bool {
	fail := func(m wsMsg) {
		w.samples <- report.Sample{Start: m.at, Error: report.WSPrefix + "not connected: " + why}
	}
	for waiting := true; waiting; {
		select {
		case m, ok := <-w.queue:
			if !ok {
				return false
			}
			fail(m)
		default:
			waiting = false
		}
	}
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case m, ok := <-w.queue:
			if !ok {
				return false
			}
			fail(m)
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
}

// serve sends the queue's messages over conn, one at a time, each answered
// within its timeout (from its scheduled time), until the queue ends
// (more false) or the connection does (why it ended).
func (w *wsClient) serve(ctx context.Context, conn *websocket.Conn, pod, node string) (reason string, more bool) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reads := make(chan wsRead, 1)
	go func() { // the reader: sees a close or a reset at once, even while idle
		for {
			_, msg, err := conn.Read(cctx)
			select {
			case reads <- wsRead{msg, err}:
			case <-cctx.Done(): // serve has returned: nobody reads this
				return
			}
			if err != nil {
				return
			}
		}
	}()
	reused := false
	payload := make([]byte, 0, 24)
	for {
		var m wsMsg
		select {
		case r := <-reads:
			if r.err == nil {
				continue // nothing was asked: not an echo
			}
			return wsReason(r.err), true
		case mm, ok := <-w.queue:
			if !ok {
				return "", false
			}
			m = mm
		case <-ctx.Done():
			return "", false
		}
		s := report.Sample{Start: m.at, Reused: reused, Pod: pod, Node: node}
		reused = true
		deadline := m.at.Add(w.o.Timeout)
		if time.Until(deadline) <= 0 {
			s.Latency, s.Error = time.Since(m.at), "websocket message: timeout: waited over the request timeout to be sent"
			w.samples <- s
			continue
		}
		payload = strconv.AppendUint(append(payload[:0], 'm'), m.seq, 10)
		wctx, wcancel := context.WithDeadline(cctx, deadline)
		err := conn.Write(wctx, websocket.MessageText, payload)
		wcancel()
		var echo []byte
		if err == nil {
			t := time.NewTimer(time.Until(deadline))
			select {
			case r := <-reads:
				echo, err = r.msg, r.err
			case <-t.C:
				err = fmt.Errorf("websocket message %s: timeout: no echo within %s", payload, w.o.Timeout)
			case <-cctx.Done(): // the attack was cancelled (the reader has stopped)
				err = cctx.Err()
			}
			t.Stop()
		}
		s.Latency = time.Since(m.at)
		if err != nil {
			s.Error = wsError(err)
			w.samples <- s
			return wsReason(err), true
		}
		if !hasSuffix(echo, payload) {
			s.Error = fmt.Sprintf("websocket message %s: the echo %q does not end with it", payload, truncate(echo, 64))
		} else {
			s.Status = http.StatusOK
			if s.Pod == "" {
				s.Pod, s.Node = w.o.Attribution.Pod(nil, echo)
			}
		}
		w.samples <- s
	}
}

func hasSuffix(b, suffix []byte) bool {
	return len(b) >= len(suffix) && string(b[len(b)-len(suffix):]) == string(suffix)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// wsError is a failed message's Error: the close frame as "websocket close
// CODE: reason" (classed by its code), else the transport's words.
func wsError(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("%sclose %d: %s", report.WSPrefix, int(ce.Code), ce.Reason)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return "websocket message: timeout: " + err.Error()
	}
	return err.Error()
}

// wsReason is why a connection dropped: "close 1001 (going away)", else the
// transport's words.
func wsReason(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("close %d (%s)", int(ce.Code), closeName(ce.Code))
	}
	return err.Error()
}

func closeName(c websocket.StatusCode) string {
	switch c {
	case websocket.StatusNormalClosure:
		return "normal"
	case websocket.StatusGoingAway:
		return "going away"
	case websocket.StatusInternalError:
		return "internal error"
	case websocket.StatusServiceRestart:
		return "service restart"
	case websocket.StatusTryAgainLater:
		return "try again later"
	}
	return "code " + strconv.Itoa(int(c))
}

// ProbeWebSocket opens one connection as a WebSocket attack of o would,
// sends a message and reads its echo: the pod it reached, or why a
// WebSocket load would fail (a handshake the server refused, no echo).
func ProbeWebSocket(ctx context.Context, o Options) (pod string, err error) {
	u, err := o.validate()
	if err != nil {
		return "", err
	}
	w := &wsClient{url: wsURL(&o, u), o: &o, hc: wsHTTPClient(o)}
	conn, pod, _, err := w.dial(ctx)
	if err != nil {
		return "", fmt.Errorf("WebSocket handshake with %s: %w", w.url, err)
	}
	defer conn.CloseNow()
	ectx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := conn.Write(ectx, websocket.MessageText, []byte("probe")); err != nil {
		return "", fmt.Errorf("WebSocket %s: send: %w", w.url, err)
	}
	_, echo, err := conn.Read(ectx)
	if err != nil {
		return "", fmt.Errorf("WebSocket %s: no echo: %w", w.url, err)
	}
	if !hasSuffix(echo, []byte("probe")) {
		return "", fmt.Errorf("WebSocket %s: the echo %q does not end with the message sent (\"probe\")", w.url, truncate(echo, 64))
	}
	conn.Close(websocket.StatusNormalClosure, "probe done")
	if pod == "" {
		pod, _ = o.Attribution.Pod(nil, echo)
	}
	return pod, nil
}

func wsHTTPClient(o Options) *http.Client {
	dialer := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, Proxy: nil}}
}

// attackWebSocket holds the connections and sends messages at the pacer's
// schedule across them in turn, bounded by duration and count; samples and
// connection events reach sink and o.OnConn from this goroutine.
func attackWebSocket(ctx context.Context, o Options, u *url.URL, pacer vegeta.Pacer, sink func(report.Sample)) (Stats, error) {
	n := max(o.Connections, 1)
	target := wsURL(&o, u)
	samples := make(chan report.Sample, 1024)
	events := make(chan report.ConnEvent, 2*n)
	hc := wsHTTPClient(o)
	clients := make([]*wsClient, n)
	var wg sync.WaitGroup
	for i := range clients {
		clients[i] = &wsClient{id: i, url: target, o: &o, hc: hc, queue: make(chan wsMsg, wsQueue), samples: samples,
			event: func(e report.ConnEvent) { events <- e }}
		wg.Go(func() { clients[i].run(ctx) })
	}
	start := time.Now()
	go func() {
		defer func() {
			for _, c := range clients {
				close(c.queue)
			}
			wg.Wait()
			close(samples)
			close(events)
		}()
		pace(ctx, &o, pacer, start, func(hit uint64) bool {
			m := wsMsg{at: time.Now(), seq: hit}
			select {
			case clients[hit%uint64(n)].queue <- m:
			default: // its connection has fallen a whole queue behind
				samples <- report.Sample{Start: m.at, Error: report.WSPrefix + "not connected: the connection's send queue is full"}
			}
			return true
		})
	}()
	var st Stats
	for sc, ec := (<-chan report.Sample)(samples), (<-chan report.ConnEvent)(events); sc != nil || ec != nil; {
		select {
		case s, ok := <-sc:
			if !ok {
				sc = nil
				continue
			}
			st.Requests++
			sink(s)
		case e, ok := <-ec:
			if !ok {
				ec = nil
				continue
			}
			if o.OnConn != nil {
				o.OnConn(e)
			}
		}
	}
	st.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("load stopped early: %w", err)
	}
	return st, nil
}
