package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/report/render"
)

// fakeGH stands in for GitHub's CLI over a folder of earlier runs
// ($FAKE_RUNS/ID/ARTIFACT/...): `run list` prints their IDs, newest first,
// and `run download ID -n NAME -D DIR` copies one; every call is logged.
const fakeGH = `#!/usr/bin/env bash
echo "$*" >>"$FAKE_RUNS/calls"
case "$1 $2" in
"run list") ls "$FAKE_RUNS" | grep -v calls | sort -rn ;;
"run download")
	id=$3; shift 3
	while [ $# -gt 0 ]; do case $1 in -n) name=$2; shift 2 ;; -D) dir=$2; shift 2 ;; *) shift ;; esac; done
	[ -d "$FAKE_RUNS/$id/$name" ] || exit 1
	mkdir -p "$dir" && cp -r "$FAKE_RUNS/$id/$name/." "$dir/" ;;
*) exit 2 ;;
esac
`

// The GitHub Action's steps (.ci/action/steps.sh) as the runner runs them,
// in order, over the same inputs and files (GITHUB_PATH, GITHUB_OUTPUT,
// GITHUB_STEP_SUMMARY): install from this checkout, fetch two earlier
// runs' reports (through a stand-in for the gh CLI), run a scenario on the
// shared kind cluster, write the trend to the job summary, and gate.
func TestIntegrationActionSteps(t *testing.T) {
	clustertest.RequireDocker(t)
	// not t.Parallel: its install step compiles aftershock, which takes
	// both cores for a minute; beside another test's load it is a
	// neighbour no lease knows of (CI run 30: the foreign cluster's pod
	// kill lost 50 of 1600 requests to timeouts while it ran beside it)
	c := clustertest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	action, err := filepath.Abs(filepath.Join("..", "..", ".ci", "action"))
	require.NoError(t, err)
	tmp := t.TempDir()
	work := filepath.Join(tmp, "workspace")
	gobin := filepath.Join(tmp, "gobin")
	fakebin := filepath.Join(tmp, "fakebin")
	runs := filepath.Join(tmp, "runs")
	for _, d := range []string{work, gobin, fakebin, runs, filepath.Join(work, "resilience"), filepath.Join(tmp, "runner")} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(fakebin, "gh"), []byte(fakeGH), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(work, "resilience", "smoke.yaml"), []byte(`name: action-smoke
app: {replicas: 2}
load: {rate: 50/s, duration: 10s}
slo: {availability: 99%}
`), 0o644))
	// two earlier runs of the workflow, and this run (skipped)
	for i, id := range []string{"101", "102"} {
		r := result(t, time.Second, 0)
		r.Scenario = "action-smoke"
		r.Start = r.Start.Add(time.Duration(i) * 24 * time.Hour)
		require.NoError(t, render.WriteDir(filepath.Join(runs, id, "aftershock-reports", "action-smoke"), r))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(runs, "103"), 0o755))
	files := map[string]string{}
	for _, f := range []string{"GITHUB_PATH", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"} {
		files[f] = filepath.Join(tmp, "runner", f)
		require.NoError(t, os.WriteFile(files[f], nil, 0o644))
	}
	step := func(name string, inputs ...string) (string, error) {
		path := os.Getenv("PATH")
		if b, _ := os.ReadFile(files["GITHUB_PATH"]); len(b) > 0 {
			path = strings.TrimSpace(string(b)) + ":" + path
		}
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(action, "steps.sh"), name)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "PATH="+fakebin+":"+path, "GOBIN="+gobin, "GITHUB_ACTION_PATH="+action,
			"RUNNER_TEMP="+filepath.Join(tmp, "runner"), "GITHUB_REPOSITORY=me/svc", "GITHUB_WORKFLOW=nightly", "GITHUB_RUN_ID=103",
			"GH_TOKEN=t", "FAKE_RUNS="+runs)
		for k, v := range files {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Env = append(cmd.Env, inputs...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		t.Logf("step %s:\n%s", name, out.String())
		return out.String(), err
	}

	out, err := step("install", "INPUT_VERSION=source")
	require.NoError(t, err)
	assert.Contains(t, out, "aftershock (devel)")
	assert.FileExists(t, filepath.Join(gobin, "aftershock"))

	out, err = step("history", "INPUT_HISTORY=7", "INPUT_ARTIFACT=aftershock-reports")
	require.NoError(t, err)
	assert.Contains(t, out, "the reports of 2 previous run(s)")
	calls, _ := os.ReadFile(filepath.Join(runs, "calls"))
	assert.Contains(t, string(calls), "run list -R me/svc --workflow nightly --status completed -L 7")
	assert.NotContains(t, string(calls), "run download 103", "this run is not its own history")

	_, err = step("run", "INPUT_SCENARIOS=resilience/*.yaml", "INPUT_OUT=reports", "INPUT_ARGS=--cluster "+c.Name)
	require.NoError(t, err)
	outputs, _ := os.ReadFile(files["GITHUB_OUTPUT"])
	assert.Contains(t, string(outputs), "code=0\n")
	res, err := report.ReadFile(filepath.Join(work, "reports", "action-smoke"))
	require.NoError(t, err)
	assert.Equal(t, report.Pass, res.Verdict, res.Reasons)
	assert.FileExists(t, filepath.Join(work, "reports", report.FileJUnit))

	_, err = step("trend", "INPUT_OUT=reports")
	require.NoError(t, err)
	summary, _ := os.ReadFile(files["GITHUB_STEP_SUMMARY"])
	assert.Contains(t, string(summary), "**action-smoke**: PASS (3 runs)", "the job summary has the trend over the three runs")
	assert.FileExists(t, filepath.Join(work, "reports", "trend", "trend.html"))
	outputs, _ = os.ReadFile(files["GITHUB_OUTPUT"])
	assert.Regexp(t, `regressed=(true|false)\n`, string(outputs))

	_, err = step("gate", "CODE=0", "REGRESSED=false")
	require.NoError(t, err)
	for _, tc := range []struct {
		env  []string
		code int
	}{
		{[]string{"CODE=1", "REGRESSED=false"}, 1},
		{[]string{"CODE=2", "REGRESSED=false"}, 2},
		{[]string{"CODE=0", "REGRESSED=true"}, 3},
		{[]string{"CODE=0", "REGRESSED=true", "INPUT_FAIL_ON_REGRESSION=false"}, 0},
		{[]string{"REGRESSED=false"}, 2}, // the run step never ran
	} {
		_, err := step("gate", tc.env...)
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		assert.Equal(t, tc.code, code, "%v", tc.env)
	}
}
