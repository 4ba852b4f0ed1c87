package loadgen

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFindAttribution(t *testing.T) {
	pods := []string{"web-7d9f-abcde", "web-7d9f-fghij", "web-7d9f-klmno"}
	resp := func(h http.Header, body string) Response { return Response{Header: h, Body: []byte(body)} }
	for _, tc := range []struct {
		name string
		rs   []Response
		want string
	}{
		{"a header", []Response{
			resp(http.Header{"Date": {"x"}, "X-Served-By": {"web-7d9f-abcde"}}, "hello"),
			resp(http.Header{"Date": {"y"}, "X-Served-By": {"web-7d9f-fghij"}}, "hello"),
		}, "header X-Served-By"},
		{"a JSON field, the shortest path", []Response{
			resp(http.Header{"Content-Type": {"application/json"}}, `{"meta":{"pod":"web-7d9f-abcde"},"hostname":"web-7d9f-abcde","n":1}`),
			resp(nil, `{"meta":{"pod":"web-7d9f-klmno"},"hostname":"web-7d9f-klmno","n":2}`),
		}, "json hostname"},
		{"a JSON field in a list", []Response{
			resp(nil, `{"servers":[{"name":"web-7d9f-abcde"}]}`),
			resp(nil, `{"servers":[{"name":"web-7d9f-fghij"}]}`),
		}, "json servers.0.name"},
		{"text", []Response{
			resp(nil, "<html>\n  <p>Served by: web-7d9f-abcde at 12:00</p>\n"),
			resp(nil, "<html>\n  <p>Served by: web-7d9f-klmno at 12:01</p>\n"),
		}, `regex <p>Served by: ([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)`},
		{"the name in one response only: none", []Response{
			resp(http.Header{"X-Served-By": {"web-7d9f-abcde"}}, "a"),
			resp(http.Header{"X-Served-By": {"cache"}}, "b"),
		}, "none"},
		{"no name anywhere", []Response{resp(http.Header{"Server": {"nginx"}}, `{"ok":true}`)}, "none"},
		{"no responses", nil, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := FindAttribution(pods, tc.rs)
			assert.Equal(t, tc.want, a.String())
			assert.Equal(t, tc.want != "none", ok)
		})
	}
}
