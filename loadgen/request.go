package loadgen

import (
	"fmt"
	"github.com/tidwall/gjson"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Request is the HTTP request each attack sends. Zero values: GET, the
// URL's own path, no headers, no body.
type Request struct {
	Method string      // default GET
	Path   string      // the path (and query) under the URL's path when set, e.g. "/hostname?x=1"
	Header http.Header // extra request headers (Host among them sets the Host)
	Body   []byte
}

// URL is base with the request's path applied.
func (r Request) URL(base *url.URL) string {
	if r.Path == "" {
		return base.String()
	}
	u := *base
	p, q, _ := strings.Cut(r.Path, "?")
	// under the base's path: "/" on the host, the API server's service
	// proxy prefix when probing a cluster without a published port
	u.Path, u.RawQuery = strings.TrimSuffix(base.Path, "/")+"/"+strings.TrimPrefix(p, "/"), q
	return u.String()
}

func (r Request) target(base *url.URL) vegeta.Target {
	m := r.Method
	if m == "" {
		m = http.MethodGet
	}
	return vegeta.Target{Method: m, URL: r.URL(base), Header: r.Header.Clone(), Body: r.Body}
}

// HTTP returns the request as a net/http request to base (for readiness
// checks that must send what the attack sends).
func (r Request) HTTP(base *url.URL) (*http.Request, error) {
	t := r.target(base)
	req, err := t.Request()
	if err != nil {
		return nil, fmt.Errorf("request %s %s: %w", t.Method, t.URL, err)
	}
	return req, nil
}

// MaxAttributionBody is how much of a response body is kept to read the
// serving pod from (JSON or regex attribution).
const MaxAttributionBody = 64 << 10

// Attribution says how a response names the pod that served it. The zero
// value reads the sample app's headers (X-Aftershock-Pod, X-Aftershock-Node).
// At most one of Header, JSON and Regex is set; None turns attribution off
// (evenness is then not measured).
type Attribution struct {
	Header string         // a response header that carries the pod name
	JSON   string         // a dot path into a JSON body, e.g. "hostname" or "meta.pod"
	Regex  *regexp.Regexp // over the body; the first group is the pod name
	None   bool
	// gRPC load (GRPC.PodHeader, GRPC.Field): a response header metadata
	// key, or a dot path of a response message's fields
	GRPCHeader string
	GRPCField  string
}

// NeedsBody reports whether the response body must be read.
func (a Attribution) NeedsBody() bool { return a.JSON != "" || a.Regex != nil }

// String describes a, e.g. "json hostname".
func (a Attribution) String() string {
	switch {
	case a.None:
		return "none"
	case a.Header != "":
		return "header " + a.Header
	case a.JSON != "":
		return "json " + a.JSON
	case a.Regex != nil:
		return "regex " + a.Regex.String()
	case a.GRPCHeader != "":
		return "gRPC header " + a.GRPCHeader
	case a.GRPCField != "":
		return "gRPC response field " + a.GRPCField
	default:
		return "header " + HeaderPod + " (sample app)"
	}
}

// Pod returns the pod (and, for the sample app, node) a response names;
// empty when it names none.
func (a Attribution) Pod(h http.Header, body []byte) (pod, node string) {
	switch {
	case a.None:
		return "", ""
	case a.Header != "":
		return h.Get(a.Header), ""
	case a.JSON != "":
		return jsonPath(body, a.JSON), ""
	case a.Regex != nil:
		m := a.Regex.FindSubmatch(body)
		if len(m) < 2 {
			return "", ""
		}
		return string(m[1]), ""
	default:
		if h == nil {
			return "", ""
		}
		return h.Get(HeaderPod), h.Get(HeaderNode)
	}
}

// jsonPath reads a string or number at a dot path ("a.b.0.c") of a JSON
// document; empty when absent or when body is not valid JSON (a body cut
// at MaxAttributionBody names no pod). gjson finds it without decoding the
// document (json.Unmarshal into maps cost 7% of the request rate with
// keep-alive on: make bench's attack/json figure).
func jsonPath(body []byte, path string) string {
	if !gjson.ValidBytes(body) {
		return ""
	}
	r := gjson.GetBytes(body, gjsonPath(path))
	switch r.Type {
	case gjson.String:
		return r.Str
	case gjson.Number:
		return strconv.FormatFloat(r.Num, 'f', -1, 64)
	default:
		return ""
	}
}

// gjsonPath is path with each key escaped for gjson, whose paths give
// meaning to characters such as * ? # | @ (a key is a key here).
func gjsonPath(path string) string {
	if !strings.ContainsFunc(path, func(r rune) bool {
		return r != '.' && r < 0x80 && gjson.Escape(string(r)) != string(r)
	}) {
		return path
	}
	keys := strings.Split(path, ".")
	for i, k := range keys {
		keys[i] = gjson.Escape(k)
	}
	return strings.Join(keys, ".")
}
