package report

import (
	"sort"
	"strings"
)

// PodVersion is the version of the app a pod runs, read from its name: a
// Deployment's pods are named after their ReplicaSet (the Deployment's
// name and its pod template's hash) and a random suffix, so every pod of
// one pod template has the same ReplicaSet name; "" for a name without
// that shape.
func PodVersion(pod string) string {
	i := strings.LastIndexByte(pod, '-')
	if i <= 0 {
		return ""
	}
	return pod[:i]
}

// Versions are the versions of the app (ReplicaSets, PodVersion) that
// served traffic in a run with a deploy event, in the order they first
// served; nil when the run has no deploy event or only one version served
// (a scale, a restart that rolled nothing): then there is no share to
// draw.
func (r *Result) Versions() []string {
	if len(r.DeployEvents()) == 0 {
		return nil
	}
	first := map[string]int{}
	for i, w := range r.Windows {
		for p, c := range w.Pods {
			v := PodVersion(p)
			if v == "" || c.New+c.Reused == 0 {
				continue
			}
			if _, ok := first[v]; !ok {
				first[v] = i
			}
		}
	}
	if len(first) < 2 {
		return nil
	}
	vs := make([]string, 0, len(first))
	for v := range first {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(a, b int) bool {
		if first[vs[a]] != first[vs[b]] {
			return first[vs[a]] < first[vs[b]]
		}
		return vs[a] < vs[b]
	})
	return vs
}

// VersionShare is each version's share (0..1) of the successful requests
// of a window w, in the order of versions; all 0 when nothing succeeded.
func VersionShare(w WindowStat, versions []string) []float64 {
	out := make([]float64, len(versions))
	total := 0
	for p, c := range w.Pods {
		n := c.New + c.Reused
		total += n
		v := PodVersion(p)
		for i, x := range versions {
			if x == v {
				out[i] += float64(n)
			}
		}
	}
	if total == 0 {
		return out
	}
	for i := range out {
		out[i] /= float64(total)
	}
	return out
}
