// Package reporttest checks rendered reports the way a person would see
// them: it opens report.html in headless Chromium (Debian's chromium
// package) and inspects the DOM it rendered. Test helper only; package
// report itself stays pure.
package reporttest

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// ChromiumArgs are the flags for a headless Chromium on a machine with no
// network: no sandbox (root), no GPU, no background traffic.
var ChromiumArgs = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0"}

// RenderedDOM opens the HTML file in headless Chromium and returns the DOM
// it rendered and what Chromium logged. It fails t (not skips) when
// Chromium is missing: callers skip under -short themselves.
func RenderedDOM(t testing.TB, htmlPath string) (dom, log string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("needs Debian's chromium (apt-get install chromium; .ci/prepare installs it): %v", err)
	}
	args := append(append([]string{}, ChromiumArgs...), "--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+htmlPath)
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", htmlPath, err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// CheckReport asserts that an aftershock report.html rendered its plots
// (wantSVGs of them) and logged no page errors.
func CheckReport(t testing.TB, htmlPath string, wantSVGs int) {
	t.Helper()
	dom, log := RenderedDOM(t, htmlPath)
	if !strings.Contains(dom, `id="plot-availability"`) {
		t.Errorf("%s: no availability plot in the rendered DOM", htmlPath)
	}
	if n := strings.Count(dom, "<svg"); n != wantSVGs {
		t.Errorf("%s: %d plots rendered, want %d", htmlPath, n, wantSVGs)
	}
	for _, bad := range []string{"Uncaught", ":CONSOLE("} {
		if strings.Contains(log, bad) {
			t.Errorf("%s: page logged %q:\n%s", htmlPath, bad, log)
		}
	}
}

// Figure prints one line of `make bench`'s table (the Makefile collects the
// lines that start with "bench-figure"): a benchmark's figure, its floor
// and whether it reached it; it fails b when it did not.
func Figure(b testing.TB, name string, value, floor float64, higherIsBetter bool, unit string) {
	b.Helper()
	ok, cmp := value >= floor, ">="
	if !higherIsBetter {
		ok, cmp = value <= floor, "<="
	}
	verdict := "pass"
	if !ok {
		verdict = "FALLS SHORT"
	}
	fmt.Printf("bench-figure\t%s\t%.3f %s\t%s %.3f %s\t%s\n", name, value, unit, cmp, floor, unit, verdict)
	if !ok {
		b.Errorf("%s: %.3f %s, floor %s %.3f %s", name, value, unit, cmp, floor, unit)
	}
}
