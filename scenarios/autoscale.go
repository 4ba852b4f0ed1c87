package scenarios

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/metrics"
	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
	"github.com/aftershock-dev/aftershock/report"
)

// ensureMetrics makes the metrics API an autoscaled app needs answer: on a
// cluster aftershock created, metrics-server is built (once, cached),
// loaded into the nodes and installed, unless it already serves; a cluster
// aftershock did not create must serve it already.
func ensureMetrics(ctx context.Context, c *clusters.Cluster, say func(string, ...any)) error {
	if err := metrics.WaitServing(ctx, c, 2*time.Second); err == nil {
		return nil
	} else if !c.Managed {
		return fmt.Errorf("app.autoscale: cluster %s was not created by aftershock and its metrics API does not answer (install metrics-server there): %w", c.Name, err)
	}
	t0 := time.Now()
	img, err := metrics.EnsureImage(ctx, sayWriter(say))
	if err != nil {
		return err
	}
	if err := c.LoadImage(ctx, img); err != nil {
		return err
	}
	if err := metrics.Install(ctx, c, img.Ref, 3*time.Minute); err != nil {
		return err
	}
	say("metrics-server %s installed, its metrics API answering for every node, in %s", metrics.Version, time.Since(t0).Round(100*time.Millisecond))
	return nil
}

// sayWriter passes each line written to say.
type sayWriter func(string, ...any)

func (w sayWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			w("%s", l)
		}
	}
	return len(p), nil
}

// scalePoll is how often the load watches the autoscaled Deployment's
// replica count.
const scalePoll = 250 * time.Millisecond

// watchScale records, until the returned stop, every change of the
// autoscaled app's desired replicas (the autoscaler's decisions), as
// r.scales and on the timeline.
func (r *run) watchScale(ctx context.Context) (stop func()) {
	if r.s.App.Autoscale == nil {
		return func() {}
	}
	deps := r.c.Clientset.AppsV1().Deployments(r.ns)
	done, finished := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	go func() {
		defer close(finished)
		t := time.NewTicker(scalePoll)
		defer t.Stop()
		last := int32(-1)
		for {
			d, err := deps.Get(ctx, sampleapp.Name, metav1.GetOptions{})
			if err == nil {
				n := ptr.Deref(d.Spec.Replicas, 1)
				if last >= 0 && n != last {
					now := time.Now()
					mu.Lock()
					r.scales = append(r.scales, report.ScaleEvent{At: now, From: last, To: n})
					mu.Unlock()
					r.tl.Add(report.Event{At: now, Kind: "scale", Detail: fmt.Sprintf("replicas %d -> %d (HorizontalPodAutoscaler)", last, n)})
				}
				last = n
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
