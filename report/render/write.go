package render

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aftershock-dev/aftershock/report"
)

// WriteDir writes result.json, junit.xml, report.md and report.html into dir.
func WriteDir(dir string, r *report.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return errors.Join(report.WriteFile(filepath.Join(dir, report.FileJSON), func(w io.Writer) error { return report.WriteJSON(w, r) }), WriteReports(dir, r))
}

// WriteReports writes junit.xml, report.md and report.html into dir and
// leaves result.json as it is.
func WriteReports(dir string, r *report.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	writers := []struct {
		name string
		fn   func(io.Writer) error
	}{
		{report.FileJUnit, func(w io.Writer) error { return WriteJUnit(w, r) }},
		{report.FileMarkdown, func(w io.Writer) error { return WriteMarkdown(w, r) }},
		{report.FileHTML, func(w io.Writer) error { return WriteHTML(w, r) }},
	}
	var errs []error
	for _, wr := range writers {
		errs = append(errs, report.WriteFile(filepath.Join(dir, wr.name), wr.fn))
	}
	return errors.Join(errs...)
}

// JUnit XML (the subset CI systems read).
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Name    string       `xml:"name,attr"`
	Tests   int          `xml:"tests,attr"`
	Fails   int          `xml:"failures,attr"`
	Errors  int          `xml:"errors,attr,omitempty"`
	Skipped int          `xml:"skipped,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Fails     int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr,omitempty"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr,omitempty"`
	Timestamp string      `xml:"timestamp,attr"`
	Props     []junitProp `xml:"properties>property,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes one testsuite per result: a testcase for the scenario's
// verdict and one per SLO check. report.Inconclusive shows as skipped.
func WriteJUnit(w io.Writer, results ...*report.Result) error { return WriteJUnitRun(w, results, nil) }

// WriteJUnitRun writes a JUnit XML report of a whole run: one suite per
// result (a testcase for the scenario's gate and one per SLO check) and one
// errored testcase per scenario that could not run. A scenario that fails
// as it expects (a negative control) is a passing testcase, its expected
// check failures reported as output, not failures.
func WriteJUnitRun(w io.Writer, results []*report.Result, errored []report.Errored) error {
	all := junitSuites{Name: "aftershock"}
	for _, r := range results {
		s := junitSuite{Name: r.Scenario, Time: fmt.Sprintf("%.3f", r.End.Sub(r.Start).Seconds()), Timestamp: r.Start.UTC().Format("2006-01-02T15:04:05")}
		s.Props = []junitProp{{"seed", fmt.Sprint(r.Seed)}, {"verdict", string(r.Verdict)}}
		if r.Expect != nil {
			s.Props = append(s.Props, junitProp{"expect", r.Expect.String()})
		}
		if r.NodeImage != "" {
			s.Props = append(s.Props, junitProp{"nodeImage", r.NodeImage})
		}
		gateOK, why := r.Gate()
		sc := junitCase{Name: "scenario " + r.Scenario, Classname: "aftershock." + r.Scenario, Time: s.Time, SystemOut: strings.Join(append([]string{why}, r.Reasons...), "\n")}
		switch {
		case gateOK:
		case r.Verdict == report.Inconclusive:
			sc.Skipped = &junitMessage{Message: "verdict inconclusive: " + strings.Join(r.Reasons, "; ")}
		default:
			sc.Failure = &junitMessage{Message: why, Text: strings.Join(r.Reasons, "\n")}
		}
		expectedFail := gateOK && r.Verdict == report.Fail
		s.Cases = append(s.Cases, sc)
		for _, c := range r.Checks {
			jc := junitCase{Name: c.Name, Classname: "aftershock." + r.Scenario, Time: "0"}
			msg := fmt.Sprintf("%s: %s (limit %s)", c.Name, c.Value, c.Limit)
			if c.Detail != "" {
				msg += "; " + c.Detail
			}
			switch c.Status {
			case report.StatusFail:
				if expectedFail {
					jc.SystemOut = "failed as the scenario expects: " + msg
					break
				}
				jc.Failure = &junitMessage{Message: msg, Text: msg}
			case report.StatusSkipped:
				jc.Skipped = &junitMessage{Message: msg}
			default:
				jc.SystemOut = msg
			}
			s.Cases = append(s.Cases, jc)
		}
		for _, c := range s.Cases {
			s.Tests++
			if c.Failure != nil {
				s.Fails++
			}
			if c.Skipped != nil {
				s.Skipped++
			}
		}
		all.Tests += s.Tests
		all.Fails += s.Fails
		all.Skipped += s.Skipped
		all.Suites = append(all.Suites, s)
	}
	for _, e := range errored {
		s := junitSuite{Name: e.Scenario, Tests: 1, Errors: 1}
		s.Cases = []junitCase{{Name: "scenario " + e.Scenario, Classname: "aftershock." + e.Scenario, Time: "0",
			Error: &junitMessage{Message: "could not run: " + e.Err.Error(), Text: e.Err.Error()}}}
		all.Tests++
		all.Errors++
		all.Suites = append(all.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
