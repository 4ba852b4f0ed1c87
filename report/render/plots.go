package render

import (
	"html/template"
	"math"
	"strconv"
	"time"

	"github.com/aftershock-dev/aftershock/report"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// plainTicks are gonum's default ticks labelled without needless
// decimals: "0", "2.5", "100", never "0.0" or "100.00".
type plainTicks struct{}

func (plainTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(math.Round(ts[i].Value*1e6)/1e6, 'f', -1, 64)
		}
	}
	return ts
}

func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	p.X.Tick.Marker, p.Y.Tick.Marker = plainTicks{}, plainTicks{}
	return p
}

// buckets groups windows into buckets of about a second (at least one
// window each): per-pod and per-class counts in 100 ms windows are too
// sparse to read.
func buckets(r *report.Result) (per int, width float64) {
	w := r.Window.D().Seconds()
	if w <= 0 {
		return 1, 1
	}
	per = max(1, int(math.Round(1/w)))
	return per, float64(per) * w
}

// seriesPlot draws one line per named series of per-bucket values, with
// the fault bands shaded; nil when there is nothing to draw.
func seriesPlot(r *report.Result, title, ylabel string, names []string, val func(w report.WindowStat, name string) float64) (template.HTML, error) {
	if len(names) == 0 || len(r.Windows) == 0 {
		return "", nil
	}
	per, width := buckets(r)
	p := newPlot(title, "seconds since start", ylabel+" per "+fmtDur(time.Duration(width*float64(time.Second))))
	top := 1.0
	lines := make([]plotter.XYs, len(names))
	for b := 0; b*per < len(r.Windows); b++ {
		ws := r.Windows[b*per : min(len(r.Windows), (b+1)*per)]
		x := ws[0].Offset.D().Seconds() + width/2
		for i, n := range names {
			v := 0.0
			for _, w := range ws {
				v += val(w, n)
			}
			lines[i] = append(lines[i], plotter.XY{X: x, Y: v})
			top = max(top, v)
		}
	}
	p.Y.Min, p.Y.Max = 0, top*1.25 // room for the legend
	p.X.Min, p.X.Max = 0, max(r.End.Sub(r.Start).Seconds(), 1)
	p.Add(bands{spans: faultBands(r), y0: 0, y1: p.Y.Max})
	return linesSVG(p, names, lines)
}

// linesSVG draws one line per label, in the palette's colours, with a
// legend and a grid, as the time plots' SVG.
func linesSVG(p *plot.Plot, labels []string, lines []plotter.XYs) (template.HTML, error) {
	for i, n := range labels {
		l, err := plotter.NewLine(lines[i])
		if err != nil {
			return "", err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.2)
		p.Add(l)
		p.Legend.Add(n, l)
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return svg(p, 18*vg.Centimeter, 8*vg.Centimeter)
}

// errorPlot is failed requests per second by class over the run.
func errorPlot(r *report.Result) (template.HTML, error) {
	if r.Failed == 0 {
		return "", nil
	}
	names := r.Errors.Ranked()
	return seriesPlot(r, "Failed requests by class", "failed", names, func(w report.WindowStat, n string) float64 {
		return float64(w.Errors[n])
	})
}

// podPlot is each pod's successful requests per bucket over the run.
func podPlot(r *report.Result) (template.HTML, error) {
	pods := map[string]bool{}
	for _, w := range r.Windows {
		for p := range w.Pods {
			if p != "" {
				pods[p] = true
			}
		}
	}
	names := sortedKeys(pods)
	labels := make([]string, len(names))
	idx := map[string]string{}
	for i, n := range names {
		labels[i] = shortPod(n)
		if _, dup := idx[labels[i]]; dup {
			labels[i] = n
		}
		idx[labels[i]] = n
	}
	return seriesPlot(r, "Requests served per pod", "requests", labels, func(w report.WindowStat, label string) float64 {
		c := w.Pods[idx[label]]
		return float64(c.New + c.Reused)
	})
}

// shortPod keeps a pod name's distinguishing end (Deployment pods share
// their long prefix).
func shortPod(n string) string {
	if len(n) > 12 {
		return "…" + n[len(n)-11:]
	}
	return n
}

// connsPlot is the connections each pod held over the run (WebSocket
// load), a step at each connect and drop; nil without any.
func connsPlot(r *report.Result) (template.HTML, error) {
	at, pods, counts := r.Connections.PerPodOverTime()
	if len(at) == 0 {
		return "", nil
	}
	p := newPlot("Held connections per pod", "seconds since start", "connections")
	end := max(r.End.Sub(r.Start).Seconds(), 1)
	lines := make([]plotter.XYs, len(pods))
	top := 1
	for k, t := range at {
		x := max(t.Sub(r.Start).Seconds(), 0)
		for i := range pods {
			prev := 0
			if k > 0 {
				prev = counts[k-1][i]
			}
			lines[i] = append(lines[i], plotter.XY{X: x, Y: float64(prev)}, plotter.XY{X: x, Y: float64(counts[k][i])})
			top = max(top, counts[k][i])
		}
	}
	for i := range pods {
		lines[i] = append(lines[i], plotter.XY{X: end, Y: float64(counts[len(at)-1][i])})
	}
	p.Y.Min, p.Y.Max = 0, float64(top)*1.25
	p.X.Min, p.X.Max = 0, end
	p.Add(bands{spans: faultBands(r), y0: 0, y1: p.Y.Max})
	labels := make([]string, len(pods))
	for i, pod := range pods {
		labels[i] = shortPod(pod)
	}
	return linesSVG(p, labels, lines)
}

// versionPlot is each version's (ReplicaSet's) share of the successful
// requests per bucket, when a deploy event rolled out a new one: how
// traffic moved from the old pods to the new over the rollout.
func versionPlot(r *report.Result) (template.HTML, error) {
	versions := r.Versions()
	if len(versions) == 0 || len(r.Windows) == 0 {
		return "", nil
	}
	per, width := buckets(r)
	p := newPlot("Share of traffic per version (ReplicaSet)", "seconds since start", "% of successful requests per "+fmtDur(time.Duration(width*float64(time.Second))))
	lines := make([]plotter.XYs, len(versions))
	for b := 0; b*per < len(r.Windows); b++ {
		ws := r.Windows[b*per : min(len(r.Windows), (b+1)*per)]
		sum := report.WindowStat{Pods: map[string]report.PodCount{}}
		for _, w := range ws {
			for pod, c := range w.Pods {
				s := sum.Pods[pod]
				s.New, s.Reused = s.New+c.New, s.Reused+c.Reused
				sum.Pods[pod] = s
			}
		}
		x := ws[0].Offset.D().Seconds() + width/2
		for i, share := range report.VersionShare(sum, versions) {
			lines[i] = append(lines[i], plotter.XY{X: x, Y: 100 * share})
		}
	}
	p.Y.Min, p.Y.Max = 0, 125 // room for the legend
	p.X.Min, p.X.Max = 0, max(r.End.Sub(r.Start).Seconds(), 1)
	p.Add(bands{spans: faultBands(r), y0: 0, y1: p.Y.Max})
	labels := make([]string, len(versions))
	for i, v := range versions {
		labels[i] = v
		if i == 0 {
			labels[i] += " (first)"
		}
	}
	return linesSVG(p, labels, lines)
}
