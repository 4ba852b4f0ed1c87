package report

import (
	"sort"
)

// Trend is one scenario's runs in time order (e.g. one per night), each
// compared with the run before it by the thresholds of Compare.
type Trend struct {
	Scenario string
	Runs     []TrendRun
}

// TrendRun is one run of a Trend.
type TrendRun struct {
	Label  string // where it came from (its folder)
	Result *Result
	// Regressions are the metrics (Compare's row names) that regressed
	// against the previous run; none for the first.
	Regressions []string
}

// Regressed reports whether metric regressed in this run.
func (r TrendRun) Regressed(metric string) bool {
	for _, m := range r.Regressions {
		if m == metric {
			return true
		}
	}
	return false
}

// NewTrends groups results by scenario, orders each group by start time and
// marks every run's regressions against the run before it.
func NewTrends(labels []string, results []*Result, th Thresholds) []Trend {
	by := map[string][]TrendRun{}
	for i, r := range results {
		by[r.Scenario] = append(by[r.Scenario], TrendRun{Label: labels[i], Result: r})
	}
	var out []Trend
	for _, name := range sortedKeys(by) {
		runs := by[name]
		sort.SliceStable(runs, func(i, j int) bool { return runs[i].Result.Start.Before(runs[j].Result.Start) })
		for i := 1; i < len(runs); i++ {
			rows, _ := Compare(runs[i-1].Result, runs[i].Result, th)
			for _, row := range rows {
				if row.Regression {
					runs[i].Regressions = append(runs[i].Regressions, row.Metric)
				}
			}
		}
		out = append(out, Trend{Scenario: name, Runs: runs})
	}
	return out
}

// LatestRegressed reports whether the newest run of any trend regressed.
func LatestRegressed(ts []Trend) bool {
	for _, t := range ts {
		if len(t.Runs) > 0 && len(t.Runs[len(t.Runs)-1].Regressions) > 0 {
			return true
		}
	}
	return false
}

// FaultIDs are the fault IDs over every run, in first-seen order.
func (t Trend) FaultIDs() []string {
	var ids []string
	seen := map[string]bool{}
	for _, r := range t.Runs {
		for _, f := range r.Result.Faults {
			if !seen[f.ID] {
				seen[f.ID] = true
				ids = append(ids, f.ID)
			}
		}
	}
	return ids
}
