package loadgen

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/report"
)

func TestAttributionPod(t *testing.T) {
	h := http.Header{}
	h.Set(HeaderPod, "p1")
	h.Set(HeaderNode, "n1")
	h.Set("X-Served-By", "web-7")
	tests := []struct {
		name      string
		a         Attribution
		body      string
		pod, node string
	}{
		{"sample app default", Attribution{}, "", "p1", "n1"},
		{"header", Attribution{Header: "X-Served-By"}, "", "web-7", ""},
		{"header missing", Attribution{Header: "X-Nope"}, "", "", ""},
		{"json top", Attribution{JSON: "hostname"}, `{"hostname":"httpbin-5d9-x2"}`, "httpbin-5d9-x2", ""},
		{"json nested and index", Attribution{JSON: "meta.pods.1"}, `{"meta":{"pods":["a","b"]}}`, "b", ""},
		{"json number", Attribution{JSON: "id"}, `{"id":42}`, "42", ""},
		{"json absent", Attribution{JSON: "x.y"}, `{"x":1}`, "", ""},
		{"json not json", Attribution{JSON: "x"}, `<html>`, "", ""},
		{"json cut short (a capped body)", Attribution{JSON: "id"}, `{"id":"a","rest":[1,2`, "", ""},
		{"json index past the end", Attribution{JSON: "pods.2"}, `{"pods":["a","b"]}`, "", ""},
		{"json index on an object", Attribution{JSON: "pods.0"}, `{"pods":{"0":"zero"}}`, "zero", ""},
		{"json object is no name", Attribution{JSON: "meta"}, `{"meta":{"pod":"a"}}`, "", ""},
		{"json bool is no name", Attribution{JSON: "ok"}, `{"ok":true}`, "", ""},
		{"json number as written", Attribution{JSON: "n"}, `{"n":1e3}`, "1000", ""},
		{"json key with a wildcard is a key", Attribution{JSON: "a*.b"}, `{"ab":{"b":"wrong"},"a*":{"b":"right"}}`, "right", ""},
		{"json # is a key, not a count", Attribution{JSON: "pods.#"}, `{"pods":["a","b"]}`, "", ""},
		{"regex", Attribution{Regex: regexp.MustCompile(`Hostname: (\S+)`)}, "Hostname: whoami-1\nIP: 1", "whoami-1", ""},
		{"regex no match", Attribution{Regex: regexp.MustCompile(`Hostname: (\S+)`)}, "nothing", "", ""},
		{"none", Attribution{None: true}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod, node := tt.a.Pod(h, []byte(tt.body))
			assert.Equal(t, tt.pod, pod)
			assert.Equal(t, tt.node, node)
		})
	}
}

func TestRequestURL(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:8080/")
	assert.Equal(t, "http://127.0.0.1:8080/", Request{}.URL(base))
	assert.Equal(t, "http://127.0.0.1:8080/hostname?a=1", Request{Path: "/hostname?a=1"}.URL(base))
}

// An attack sends the configured method, path, headers and body, and reads
// the pod from a JSON body through real vegeta.
func TestAttackSendsRequestAndAttributesFromBody(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Test")+" "+string(b)+" "+r.Host)
		mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]string{"hostname": "pod-" + r.URL.Query().Get("n")})
	}))
	defer srv.Close()
	var samples []report.Sample
	_, err := Attack(context.Background(), Options{
		URL: srv.URL, Rate: 50, Duration: 200 * time.Millisecond,
		Request:     Request{Method: http.MethodPost, Path: "/echo?n=a", Header: http.Header{"X-Test": {"yes"}, "Host": {"app.example"}}, Body: []byte("hi")},
		Attribution: Attribution{JSON: "hostname"},
	}, func(s report.Sample) { samples = append(samples, s) })
	require.NoError(t, err)
	require.NotEmpty(t, samples)
	for _, s := range samples {
		assert.Equal(t, "pod-a", s.Pod)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "POST /echo yes hi app.example", got[0])
}
