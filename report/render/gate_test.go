package render

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aftershock-dev/aftershock/report"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A negative control that fails as expected is green in JUnit; one that
// passes is red; a scenario that could not run is an errored testcase.
func TestJUnitRunGateAndErrors(t *testing.T) {
	ctl := &report.Result{Scenario: "ctl", Verdict: report.Fail, Expect: &report.Expectation{Verdict: report.Fail, Check: "error budget"},
		Checks: []report.Check{{Name: "error budget", Status: report.StatusFail, Value: "3.2 consumed"}}}
	bad := &report.Result{Scenario: "ctl2", Verdict: report.Pass, Expect: &report.Expectation{Verdict: report.Fail}, Checks: []report.Check{{Name: "error budget", Status: report.StatusPass}}}
	var buf bytes.Buffer
	require.NoError(t, WriteJUnitRun(&buf, []*report.Result{ctl, bad}, []report.Errored{{Scenario: "broken", Err: errors.New("deploy app: boom")}}))
	x := buf.String()
	assert.Contains(t, x, `<testsuites name="aftershock" tests="5" failures="1" errors="1" skipped="0">`)
	assert.Contains(t, x, "failed as the scenario expects: error budget")
	assert.Contains(t, x, `<failure message="verdict pass, expected fail">`)
	assert.Contains(t, x, `<error message="could not run: deploy app: boom">`)
	assert.Equal(t, 1, strings.Count(x, "<failure"))
}

// A lost load source is named in the Markdown report.
func TestMarkdownNamesLostLoad(t *testing.T) {
	r := &report.Result{Scenario: "lost", Verdict: report.Inconclusive, Path: "inCluster: 3 load pods",
		LostLoad: []string{"load-1 (worker2): its log ended after 312 samples without an end line"}}
	var md strings.Builder
	require.NoError(t, WriteMarkdown(&md, r))
	assert.Contains(t, md.String(), "| traffic path | inCluster: 3 load pods |")
	assert.Contains(t, md.String(), "| LOST LOAD | load-1 (worker2)")
}

// Each load pod says what it was asked and what it achieved.
func TestReportsSayAskedAndAchievedPerLoadPod(t *testing.T) {
	r := &report.Result{Scenario: "pods", Verdict: report.Pass, LoadSources: []report.LoadSource{
		{Name: "load-0", Node: "w1", Rate: 100, Asked: 3000, Achieved: 99.5, Sent: 2985, Samples: 2985, Complete: true}}}
	var md, html strings.Builder
	require.NoError(t, WriteMarkdown(&md, r))
	assert.Contains(t, md.String(), "| load pod load-0 | on w1, asked 100/s (3000 requests), achieved 99.5/s: it sent 2985, 2985 samples arrived |")
	require.NoError(t, WriteHTML(&html, r))
	assert.Contains(t, html.String(), "asked 100/s (3000 requests), achieved 99.5/s: it sent 2985, 2985 samples arrived")
}

// A shaped load's segments are each named with what they sent.
func TestReportsNameLoadSegments(t *testing.T) {
	r := &report.Result{Scenario: "spike", Verdict: report.Pass, LoadSegments: []report.LoadSegment{
		{Name: "0s-20s at 100/s", To: report.Duration(20 * time.Second), Planned: 2000, Sent: 2000},
		{Name: "20s-35s at 500/s", From: report.Duration(20 * time.Second), To: report.Duration(35 * time.Second), Planned: 7500, Sent: 7425}}}
	var md, html strings.Builder
	require.NoError(t, WriteMarkdown(&md, r))
	assert.Contains(t, md.String(), "| load 20s-35s at 500/s | 7425 of 7500 planned sent (99%) |")
	require.NoError(t, WriteHTML(&html, r))
	assert.Contains(t, html.String(), "<th>load 20s-35s at 500/s</th><td>7425 of 7500 planned sent</td>")
}

// Pods that joined during the run have their section, offset from the start.
func TestMarkdownShowsRejoins(t *testing.T) {
	fs := report.Duration(3 * time.Second)
	r := &report.Result{Scenario: "rejoin", Verdict: report.Pass, Start: t0, End: t0.Add(30 * time.Second),
		Rejoins: []report.Rejoin{{Pod: "d", Ready: t0.Add(20 * time.Second), FirstRequest: new(report.Duration), FairShare: &fs}}}
	var md strings.Builder
	require.NoError(t, WriteMarkdown(&md, r))
	assert.Contains(t, md.String(), "## Pods that joined during the run")
	assert.Contains(t, md.String(), "| d | +20s | ")
}
