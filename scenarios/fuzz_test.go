package scenarios

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The cases: every error names its full field path, a file's parse
// errors come at once, and schedules are bounded.
func TestParseErrorPathsBoundsAndAllAtOnce(t *testing.T) {
	base := "name: x\napp: {replicas: 2}\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n"
	tests := []struct{ doc, want string }{
		{base + "faults: [{type: pod-kill, at: 5s, victims: 2}]\n", `f.yaml: faults[0].victims: unknown field`},
		{base + "faults: [{type: pod-kill, at: 5s}, {type: pod-kill, at: 9s, count: two}]\n", `f.yaml: faults[1].count: "two": want a whole number`},
		{"name: x\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%, jain: .nan}\n", `f.yaml: slo.jain: "NaN": want a number`},
		{base + "faults: [{type: pod-kill, at: 5s, count: 300000, every: 1ns}]\n", "f.yaml: faults[0]: count 300000: at most 100"},
		{base + "faults: [{type: pod-kill, at: 5s, count: 3, every: 1ns}]\n", "every 1ns: at least 100ms"},
		{"name: x\napp: {latency: 5x, errorRate: lots}\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", "app.latency: \"5x\": not a duration"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.doc), "f.yaml")
		require.Error(t, err, tt.doc)
		assert.Contains(t, err.Error(), tt.want)
	}
	// both errors of the last document, at once
	_, err := Parse([]byte(tests[len(tests)-1].doc), "f.yaml")
	assert.Contains(t, err.Error(), `app.errorRate: "lots"`)
}

// Parsing any spec allocates little: the worst schedule the bounds allow
// (20 faults x 100 occurrences) stays far below 10 MiB.
func TestParseAllocatesLittle(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: x\napp: {replicas: 2}\nload: {rate: 10/s, duration: 30m}\nslo: {availability: 99%}\nfaults:\n")
	for i := 0; i < MaxFaults; i++ {
		b.WriteString("  - {type: pod-kill, at: 1s, every: 100ms, count: 100}\n")
	}
	doc := []byte(b.String())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Parse(doc, "f.yaml")
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(10<<20), "bytes allocated by one parse")
}

// FuzzParse: no input makes Parse panic, and every error names the file.
// Seeds: every shipped scenario (testdata/fuzz/FuzzParse holds found cases).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("name: x\nfaults: [{type: pod-kill, count: 5, every: 1s, target: {selector: \"app in (a,b)\"}}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if strings.Contains(string(b), "manifests") || strings.Contains(string(b), "helm") || strings.Contains(string(b), "images") {
			t.Skip("app sources read files; the fuzzer stays off the disk")
		}
		_, err := Parse(b, "fuzz.yaml")
		if err != nil && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
