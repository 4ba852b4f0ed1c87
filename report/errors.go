package report

import (
	"fmt"
	"sort"
	"strings"
)

// Classes of failed requests (ErrorClass). HTTP 5xx responses are classed
// by their code: "http 503".
const (
	ClassRefused = "refused"      // connection refused: nothing listening
	ClassReset   = "reset"        // connection reset or closed mid-request
	ClassTimeout = "timeout"      // no answer within the request timeout
	ClassNoRoute = "dns/no route" // name not resolved, host or network unreachable
	Class4xx     = "http 4xx"
	ClassOther   = "other"
)

// errorPatterns map transport error texts (Go's net and net/http, as vegeta
// reports them) to classes; the first match wins.
var errorPatterns = []struct{ class, substr string }{
	{ClassRefused, "connection refused"},
	{ClassReset, "connection reset"},
	{ClassReset, "broken pipe"},
	{ClassReset, "server closed idle connection"},
	{ClassReset, "eof"},
	{ClassNoRoute, "no such host"},
	{ClassNoRoute, "no route to host"},
	{ClassNoRoute, "network is unreachable"},
	{ClassNoRoute, "host is unreachable"},
	{ClassNoRoute, "server misbehaving"},
	{ClassTimeout, "timeout"},
	{ClassTimeout, "deadline exceeded"},
}

// GRPCPrefix starts the Error of a gRPC call that ended in a status other
// than OK: "grpc UNAVAILABLE: connection refused". Its class is the status
// code ("grpc UNAVAILABLE"), whatever the transport's words in the message.
const GRPCPrefix = "grpc "

// WSPrefix starts the Error of a WebSocket message that the protocol
// itself ended: "websocket close 1001: draining" (the server's close frame,
// classed "websocket close 1001"), "websocket not connected: ..." (sent
// while the client was reconnecting, classed "websocket not connected").
// Transport errors on a WebSocket (reset, EOF, timeout) keep their words and
// their classes.
const WSPrefix = "websocket "

// ErrorClass is the class of a failed sample ("" for a successful one):
// refused, reset, timeout, dns/no route from the transport error; "http
// NNN" for a 5xx response, "http 4xx" for any 4xx; other for the rest.
func ErrorClass(s Sample) string {
	if s.OK() {
		return ""
	}
	for _, p := range []string{GRPCPrefix, WSPrefix} {
		if code, ok := strings.CutPrefix(s.Error, p); ok {
			code, _, _ = strings.Cut(code, ":")
			return p + code
		}
	}
	if s.Error != "" {
		e := strings.ToLower(s.Error)
		for _, p := range errorPatterns {
			if strings.Contains(e, p.substr) {
				return p.class
			}
		}
		return ClassOther
	}
	switch {
	case s.Status >= 500 && s.Status <= 599:
		return fmt.Sprintf("http %d", s.Status)
	case s.Status >= 400 && s.Status <= 499:
		return Class4xx
	}
	return ClassOther
}

// ErrorCounts counts failed requests per class.
type ErrorCounts map[string]int

func (c ErrorCounts) add(o ErrorCounts) ErrorCounts {
	if len(o) == 0 {
		return c
	}
	if c == nil {
		c = ErrorCounts{}
	}
	for k, v := range o {
		c[k] += v
	}
	return c
}

// Total is the number of failed requests counted.
func (c ErrorCounts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Ranked returns the classes, most frequent first (ties by name).
func (c ErrorCounts) Ranked() []string {
	ks := sortedKeys(c)
	sort.SliceStable(ks, func(i, j int) bool { return c[ks[i]] > c[ks[j]] })
	return ks
}

// String names the classes by share, most frequent first: "refused 82%,
// timeout 18%" (at most three, the rest as "others"); "-" when none.
func (c ErrorCounts) String() string {
	total := c.Total()
	if total == 0 {
		return "-"
	}
	var parts []string
	rest := 0
	for i, k := range c.Ranked() {
		if i < 3 {
			parts = append(parts, fmt.Sprintf("%s %s", k, sharePct(c[k], total)))
		} else {
			rest += c[k]
		}
	}
	if rest > 0 {
		parts = append(parts, "others "+sharePct(rest, total))
	}
	return strings.Join(parts, ", ")
}

// Counts names the classes by count, most frequent first: "refused 12,
// reset 3"; "-" when none.
func (c ErrorCounts) Counts() string {
	if c.Total() == 0 {
		return "-"
	}
	var parts []string
	for _, k := range c.Ranked() {
		parts = append(parts, fmt.Sprintf("%s %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}

// sharePct is k/n as a whole percent: "<1%" for a small non-zero share,
// ">99%" for one short of all.
func sharePct(k, n int) string {
	p := 100 * float64(k) / float64(n)
	switch {
	case p > 0 && p < 1:
		return "<1%"
	case p > 99 && k < n:
		return ">99%"
	}
	return fmt.Sprintf("%.0f%%", p)
}
