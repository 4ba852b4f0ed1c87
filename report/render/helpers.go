package render

import (
	"maps"
	"slices"
	"time"

	"github.com/aftershock-dev/aftershock/report"
)

func fmtDur(d time.Duration) string { return report.Duration(d).String() }

func fmtOffset(d time.Duration) string { return report.FormatOffset(d) }

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
