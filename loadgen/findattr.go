package loadgen

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Response is one probe response: what FindAttribution looks at.
type Response struct {
	Header http.Header
	Body   []byte
}

// podNameRE is what a pod's name looks like in text (a DNS subdomain).
const podNameRE = `([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)`

// FindAttribution finds where responses name the pod that served them
// (attribution: auto): a header, else a JSON field, else a regular
// expression over the body text, whichever reads a name in pods from every
// one of rs (so at least one response is needed). ok is false when the
// pod's name appears in none of those places in every response.
func FindAttribution(pods []string, rs []Response) (a Attribution, ok bool) {
	if len(rs) == 0 || len(pods) == 0 {
		return Attribution{None: true}, false
	}
	isPod := func(s string) bool { return slices.Contains(pods, strings.TrimSpace(s)) }
	every := func(a Attribution) bool {
		for _, r := range rs {
			if p, _ := a.Pod(r.Header, r.Body); !isPod(p) {
				return false
			}
		}
		return true
	}
	// a header: in the first response's order of names, sorted
	keys := make([]string, 0, len(rs[0].Header))
	for k := range rs[0].Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if c := (Attribution{Header: k}); every(c) {
			return c, true
		}
	}
	// a JSON field: the shortest path to a pod's name in the first response
	var paths []string
	var doc any
	if json.Unmarshal(rs[0].Body, &doc) == nil {
		walkJSON(doc, "", func(path, s string) {
			if isPod(s) {
				paths = append(paths, path)
			}
		})
	}
	sort.Slice(paths, func(i, j int) bool {
		if len(paths[i]) != len(paths[j]) {
			return len(paths[i]) < len(paths[j])
		}
		return paths[i] < paths[j]
	})
	for _, p := range paths {
		if c := (Attribution{JSON: p}); every(c) {
			return c, true
		}
	}
	// text: the words before the name on its line, then the name
	body := string(rs[0].Body)
	for _, pod := range pods {
		i := strings.Index(body, pod)
		if i < 0 {
			continue
		}
		line := body[strings.LastIndex(body[:i], "\n")+1 : i]
		if len(line) > 24 {
			line = line[len(line)-24:]
		}
		for _, prefix := range []string{strings.TrimLeft(line, " \t"), line} {
			if prefix == "" {
				continue
			}
			re, err := regexp.Compile(regexp.QuoteMeta(prefix) + podNameRE)
			if err != nil {
				continue
			}
			if c := (Attribution{Regex: re}); every(c) {
				return c, true
			}
		}
	}
	return Attribution{None: true}, false
}

// walkJSON calls found with the dot path of every string in v.
func walkJSON(v any, path string, found func(path, s string)) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !strings.Contains(k, ".") {
				walkJSON(e, join(k), found)
			}
		}
	case []any:
		for i, e := range x {
			walkJSON(e, join(strconv.Itoa(i)), found)
		}
	case string:
		if path != "" {
			found(path, x)
		}
	}
}
