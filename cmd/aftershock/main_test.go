package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/report/render"
	"github.com/aftershock-dev/aftershock/scenarios"
)

func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// result builds a small result with one fault recovering after rec.
func result(t *testing.T, rec time.Duration, failEvery int) *report.Result {
	t.Helper()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := report.NewRecorder(t0, time.Second)
	inject := t0.Add(10 * time.Second)
	for i := 0; i < 3000; i++ {
		at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		s := report.Sample{Start: at, Status: 200, Latency: time.Millisecond, Pod: []string{"a", "b"}[i%2]}
		if (!at.Before(inject) && at.Before(inject.Add(rec))) || (failEvery > 0 && i%failEvery == 0) {
			s = report.Sample{Start: at, Error: "refused"}
		}
		r.Add(s)
	}
	return report.Analyze(r, report.Input{Scenario: "s", Start: t0, End: t0.Add(30 * time.Second), SLO: report.SLO{Availability: 0.9, RecoveryWindows: report.Duration(3 * time.Second)},
		Faults: []report.Fault{{ID: "pod-kill-1", Type: "pod-kill", Inject: inject}}})
}

func TestCompareFlagsRegressions(t *testing.T) {
	dir := t.TempDir()
	base, worse, same := filepath.Join(dir, "base"), filepath.Join(dir, "worse"), filepath.Join(dir, "same")
	require.NoError(t, render.WriteDir(base, result(t, time.Second, 0)))
	require.NoError(t, render.WriteDir(same, result(t, time.Second, 0)))
	require.NoError(t, render.WriteDir(worse, result(t, 5*time.Second, 0)))

	out, err := execute(t, "compare", base, same)
	require.NoError(t, err, out)
	assert.NotContains(t, out, "REGRESSION")

	out, err = execute(t, "compare", base, worse)
	var ee exitError
	require.True(t, errors.As(err, &ee), "%v", err)
	assert.Equal(t, exitRegression, ee.code)
	assert.Contains(t, out, "recovery pod-kill-1")
	assert.Contains(t, out, "REGRESSION")

	// slightly worse, still passing: a regression only by the budget threshold
	slightly := filepath.Join(dir, "slightly")
	require.NoError(t, render.WriteDir(slightly, result(t, 2*time.Second, 0)))
	out, err = execute(t, "compare", base, slightly)
	require.Error(t, err, out)
	assert.Contains(t, out, "error budget consumed        0.33           0.67           REGRESSION")
	out, err = execute(t, "compare", "--max-budget-increase", "0.5", "--max-availability-drop", "5", base, slightly)
	require.NoError(t, err, out)
}

func TestReportRerenders(t *testing.T) {
	dir := t.TempDir()
	r := result(t, time.Second, 0)
	require.NoError(t, render.WriteDir(dir, r))
	require.NoError(t, os.Remove(filepath.Join(dir, report.FileHTML)))
	out, err := execute(t, "report", filepath.Join(dir, report.FileJSON))
	require.NoError(t, err, out)
	_, err = os.Stat(filepath.Join(dir, report.FileHTML))
	require.NoError(t, err)
	assert.Contains(t, out, strings.ToUpper(string(r.Verdict)))

	_, err = execute(t, "report", filepath.Join(dir, "missing.json"))
	require.Error(t, err)
}

func TestRunRejectsBadScenarioBeforeTouchingAnything(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(f, []byte("name: x\nload: {rate: 10/s, duration: 1 minute}\nslo: {availability: 99%}\n"), 0o644))
	_, err := execute(t, "run", f)
	require.Error(t, err)
	assert.Contains(t, err.Error(), f+`: load.duration: "1 minute": not a duration`)
	_, err = execute(t, "run", "--repeat", "0", f)
	require.ErrorContains(t, err, "--repeat 0")
	_, err = execute(t, "run", "--kubeconfig", "k", "--cluster", "c", "../../scenarios/pod-kill.yaml")
	require.ErrorContains(t, err, "give one")
	_, err = execute(t, "run", "--kubeconfig", "/nonexistent", "../../scenarios/pod-kill.yaml")
	require.ErrorContains(t, err, "explicit allow flag")
}

func TestSummaryTable(t *testing.T) {
	var b bytes.Buffer
	runs := []*report.Result{result(t, time.Second, 0), result(t, 2*time.Second, 0)}
	agg := report.Repeat(runs, 0)
	summary(&b, runs, []*report.Result{agg}, 2)
	out := b.String()
	assert.Contains(t, out, "SCENARIO")
	assert.Contains(t, out, "RECOVERY (client)")
	assert.Contains(t, out, "(2 repeats)")
	assert.Contains(t, out, "1.5s (95% ub ")
	assert.Contains(t, out, "over 2 repeats: ")
}

func TestGateCode(t *testing.T) {
	pass := &report.Result{Verdict: report.Pass}
	ctl := &report.Result{Verdict: report.Fail, Expect: &report.Expectation{Verdict: report.Fail}}
	ctlPassed := &report.Result{Verdict: report.Pass, Expect: &report.Expectation{Verdict: report.Fail}}
	fail := &report.Result{Verdict: report.Fail}
	inc := &report.Result{Verdict: report.Inconclusive}
	assert.Equal(t, 0, gateCode([]*report.Result{pass, ctl}), "a negative control failing as expected keeps the gate green")
	assert.Equal(t, exitFail, gateCode([]*report.Result{pass, ctlPassed}), "a negative control that passes fails the gate")
	assert.Equal(t, exitInconclusive, gateCode([]*report.Result{pass, inc}))
	assert.Equal(t, exitFail, gateCode([]*report.Result{inc, fail}))
}

func TestClientRecoveryWords(t *testing.T) {
	d := report.Duration(1300 * time.Millisecond)
	assert.Equal(t, "1.3s", report.FaultResult{Impact: true, Recovered: true, Recovery: &d}.ClientRecovery())
	assert.Equal(t, "no impact", report.FaultResult{}.ClientRecovery())
	assert.Equal(t, "NOT RECOVERED", report.FaultResult{Impact: true}.ClientRecovery())
}

func TestValidate(t *testing.T) {
	out, err := execute(t, "validate", "../../scenarios/pod-kill.yaml", "../../scenarios/httpbin-pod-kill.yaml")
	require.NoError(t, err, out)
	assert.Contains(t, out, "own app, 3 objects")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("name: x\napp: {manifests: [nope/]}\nload: {rate: 1/s, duration: 1s}\nslo: {availability: 99%}\n"), 0o644))
	out, err = execute(t, "validate", "../../scenarios/pod-kill.yaml", bad)
	var ee exitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, exitFail, ee.code)
	assert.Contains(t, out, `app.manifests[0]: "`+filepath.Join(filepath.Dir(bad), "nope")+`": no such file or folder`)
}

// The case: 110 vs 123 failed of 4000 on the same cluster is noise
// (p = 0.19), not a regression; 110 vs 200 is (availability and budget).
func TestCompareNeedsSignificance(t *testing.T) {
	mk := func(failed int) *report.Result {
		return &report.Result{Scenario: "s", Verdict: report.Fail, Requests: 4000, Failed: failed,
			Availability: 1 - float64(failed)/4000, Budget: report.Budget{Consumed: float64(failed) / 40}}
	}
	var out bytes.Buffer
	assert.Equal(t, 0, compare(&out, mk(110), mk(123), report.DefaultThresholds()), out.String())
	assert.Contains(t, out.String(), "p = 0.19")
	out.Reset()
	assert.Equal(t, 2, compare(&out, mk(110), mk(200), report.DefaultThresholds()), out.String())
	assert.InDelta(t, 0.19, report.MoreFailuresP(110, 4000, 123, 4000), 0.01)
}

// The flags for a cluster aftershock did not create are refused without
// one, and host load goes to loopback only.
func TestForeignClusterFlags(t *testing.T) {
	_, err := execute(t, "run", "--image-repo", "reg.example/team", "../../scenarios/pod-kill.yaml")
	require.ErrorContains(t, err, "give --kubeconfig too")
	_, err = execute(t, "run", "--kubeconfig", "k", "--allow-foreign-cluster", "--ingress-class", "nginx", "../../scenarios/pod-kill.yaml")
	require.ErrorContains(t, err, "--ingress-class needs --ingress-address")
	for addr, want := range map[string]string{
		"10.0.0.5:80":        `host "10.0.0.5": load from this machine goes only to a loopback address`,
		"ingress.example:80": `host "ingress.example"`,
		"127.0.0.1":          "want 127.0.0.1:PORT",
		"127.0.0.1:0":        `port "0"`,
	} {
		_, err = execute(t, "run", "--kubeconfig", "k", "--allow-foreign-cluster", "--ingress-address", addr, "../../scenarios/pod-kill.yaml")
		require.Error(t, err, addr)
		assert.Contains(t, err.Error(), `--ingress-address "`+addr+`": `+want)
	}
	require.NoError(t, loopbackAddress("127.0.0.1:8443"))
	require.NoError(t, loopbackAddress("[::1]:8443"))
	_, err = execute(t, "clean", "--kubeconfig", "/nonexistent")
	require.ErrorContains(t, err, "explicit allow flag")
	_, err = execute(t, "image")
	require.ErrorContains(t, err, "--image-repo: required")
}

// trend over a folder of nightly --out folders: exit 3 when the newest
// night regressed, the summary block written for CI.
func TestTrendCommand(t *testing.T) {
	dir := t.TempDir()
	for i, rec := range []time.Duration{time.Second, time.Second, 6 * time.Second} {
		r := result(t, rec, 0)
		r.Start = r.Start.Add(time.Duration(i) * 24 * time.Hour)
		require.NoError(t, render.WriteDir(filepath.Join(dir, fmt.Sprintf("night-%d", i+1), "s"), r))
	}
	out := t.TempDir()
	sum := filepath.Join(out, "summary.md")
	text, err := execute(t, "trend", "--out", out, "--summary", sum, filepath.Join(dir, "night-1"), filepath.Join(dir, "night-2"), filepath.Join(dir, "night-3"))
	var ee exitError
	require.True(t, errors.As(err, &ee), "%v\n%s", err, text)
	assert.Equal(t, exitRegression, ee.code)
	assert.Contains(t, text, "## s (3 runs)")
	b, err := os.ReadFile(sum)
	require.NoError(t, err)
	assert.Contains(t, string(b), "**REGRESSION** in the newest run")
	assert.Contains(t, string(b), "recovery pod-kill-1")
	for _, f := range []string{"trend.md", "trend.html"} {
		fi, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err)
		assert.Positive(t, fi.Size())
	}
	// the first two nights only: no regression, exit 0
	_, err = execute(t, "trend", "--out", out, filepath.Join(dir, "night-1"), filepath.Join(dir, "night-2", "s", report.FileJSON))
	require.NoError(t, err)
	_, err = execute(t, "trend", "--out", out, t.TempDir())
	require.ErrorContains(t, err, "no result.json in it or in its subfolders")
}

// replay needs a result that embeds its scenario, and pins what it recorded.
func TestReplayInput(t *testing.T) {
	dir := t.TempDir()
	r := result(t, time.Second, 0)
	require.NoError(t, render.WriteDir(dir, r))
	_, err := execute(t, "replay", dir)
	require.ErrorContains(t, err, "no scenario embedded")
	r.Spec = "name: broken\nload: {rate: 10/s}\n"
	require.NoError(t, render.WriteDir(dir, r))
	_, err = execute(t, "replay", dir)
	require.ErrorContains(t, err, "embedded scenario")
	r.Faults[0].Victims = []report.Victim{{Pod: "web-1", Node: "worker2", Pos: 1}}
	assert.Equal(t, map[string][]report.Victim{"pod-kill-1": {{Pod: "web-1", Node: "worker2", Pos: 1}}}, ReplayPins(r))
}

// Results are data people keep: `report` never rewrites the original
// result.json, trend skips a corrupt file naming it, files are 0644.
func TestResultsAreKept(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	r := result(t, time.Second, 0)
	require.NoError(t, render.WriteDir(dir, r))
	orig := filepath.Join(dir, report.FileJSON)
	// a result.json with a field this version does not write stays byte for byte
	b, err := os.ReadFile(orig)
	require.NoError(t, err)
	b = append([]byte(`{"note":"kept",`), b[1:]...)
	require.NoError(t, os.WriteFile(orig, b, 0o644))
	_, err = execute(t, "report", dir)
	require.NoError(t, err)
	after, err := os.ReadFile(orig)
	require.NoError(t, err)
	assert.Equal(t, string(b), string(after), "aftershock report leaves result.json as it was")
	for _, f := range []string{report.FileJUnit, report.FileMarkdown, report.FileHTML} {
		fi, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "%s is not world-writable", f)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*tmp-*"))
	assert.Empty(t, left, "no temporary file is left")

	nights := t.TempDir()
	for i := range 2 {
		require.NoError(t, render.WriteDir(filepath.Join(nights, fmt.Sprintf("night-%d", i), "s"), result(t, time.Second, 0)))
	}
	corrupt := filepath.Join(nights, "night-x", "s", report.FileJSON)
	require.NoError(t, os.MkdirAll(filepath.Dir(corrupt), 0o755))
	require.NoError(t, os.WriteFile(corrupt, []byte(`{"schema": "aftershock/v2", "scen`), 0o644))
	foreign := filepath.Join(nights, "night-y", "s", report.FileJSON)
	require.NoError(t, os.MkdirAll(filepath.Dir(foreign), 0o755))
	require.NoError(t, os.WriteFile(foreign, []byte(`{"kind": "something else"}`), 0o644))
	cmd := newRootCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"trend", "--out", t.TempDir(), filepath.Join(nights, "night-0"), filepath.Join(nights, "night-x"), filepath.Join(nights, "night-y"), filepath.Join(nights, "night-1")})
	require.NoError(t, cmd.Execute(), stderr.String())
	assert.Contains(t, stderr.String(), "skipping "+corrupt)
	assert.Contains(t, stderr.String(), "skipping "+foreign)
	assert.Contains(t, stdout.String(), "## s (2 runs)")
}

// A failed write leaves the previous file in place and no temporary file.
func TestWriteFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "result.json")
	require.NoError(t, report.WriteFile(p, func(w io.Writer) error { _, err := io.WriteString(w, "first"); return err }))
	err := report.WriteFile(p, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return errors.New("disk full")
	})
	require.ErrorContains(t, err, "disk full")
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "first", string(b))
	all, _ := os.ReadDir(dir)
	assert.Len(t, all, 1, "no temporary file left")
}

// Secret request headers never reach result.json; replay reads them from
// the scenario file.
func TestSecretHeadersRedacted(t *testing.T) {
	src := []byte(`name: auth
app:
  manifests: [x.yaml]
  request: {path: /, headers: {Authorization: Bearer s3cret, cookie: "sid=abc", X-Trace: keep}}
`)
	out, redacted := scenarios.RedactedSource(src)
	require.True(t, redacted)
	assert.NotContains(t, string(out), "s3cret")
	assert.NotContains(t, string(out), "sid=abc")
	assert.Contains(t, string(out), "X-Trace: keep")
	same, redacted := scenarios.RedactedSource([]byte("name: plain # comment\n"))
	assert.False(t, redacted)
	assert.Equal(t, "name: plain # comment\n", string(same), "untouched when nothing is secret")
}

// list lines its scenarios up in columns whatever the length of a file's or
// a scenario's name; an invalid file says why on its line.
func TestListScenariosInColumns(t *testing.T) {
	dir := t.TempDir()
	write := func(name, yaml string) string {
		f := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(f, []byte(yaml), 0o644))
		return f
	}
	const body = "cluster: {workers: 2}\napp: {replicas: 2}\nload: {rate: 10/s, duration: 5s}\nslo: {availability: 99%}\n"
	files := []string{
		write("a.yaml", "name: a\n"+body),
		write("a-scenario-file-name-longer-than-forty-characters.yaml", "name: a-scenario-name-longer-than-eighteen\n"+body+"faults:\n  - {type: pod-kill, at: 1s}\n"),
		write("bad.yaml", "name: bad\nload: {rate: fast}\n"),
	}
	var out strings.Builder
	listScenarios(&out, files)
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	require.Len(t, lines, 3, out.String())
	col := strings.Index(lines[0], "faults: -")
	require.Positive(t, col, lines[0])
	assert.Equal(t, col, strings.Index(lines[1], "faults: pod-kill"), "the faults column lines up:\n%s", out.String())
	assert.Equal(t, strings.Index(lines[0], "expect pass"), strings.Index(lines[1], "expect pass"), out.String())
	assert.Contains(t, lines[2], "INVALID: ")
	assert.Contains(t, lines[2], "bad.yaml")
	assert.Contains(t, lines[2], `load.rate: "fast"`)
	assert.Contains(t, lines[2], "; ", "every error of the file on its line")
}
