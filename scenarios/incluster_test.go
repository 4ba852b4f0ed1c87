package scenarios_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/report/render"
	"github.com/aftershock-dev/aftershock/scenarios"
)

// sharedEnv is the Env every scenario test of the package runs in: the
// shared cluster, on which each scenario takes its own lease (side by side,
// or alone when its faults hit whole nodes), so the tests run in parallel.
func sharedEnv(t *testing.T) *scenarios.Env {
	c := clustertest.Shared(t)
	envMu.Lock()
	defer envMu.Unlock()
	if env == nil {
		img, err := clustertest.NodeImage(context.Background())
		require.NoError(t, err)
		env = &scenarios.Env{Cluster: c, NodeImage: img}
	}
	return env
}

func parse(t *testing.T, yaml string) *scenarios.Spec {
	f := filepath.Join(t.TempDir(), "s.yaml")
	require.NoError(t, os.WriteFile(f, []byte(yaml), 0o644))
	s, err := scenarios.ParseFile(f)
	require.NoError(t, err)
	return s
}

// assertLoadPodsCounted: every sample of every load pod arrived and was
// counted once (the merged count is the sum of the pods' counts), the pods
// spread over the nodes (when there are two or more), and the achieved rate is the asked one (within 1%).
func assertLoadPodsCounted(t *testing.T, s *scenarios.Spec, res *report.Result) {
	t.Helper()
	require.Len(t, res.LoadSources, s.Load.Pods)
	sum, nodes := 0, map[string]bool{}
	for _, l := range res.LoadSources {
		assert.True(t, l.Complete, "%+v", l)
		assert.Equal(t, l.Sent, l.Samples, "%s: sent vs arrived", l.Name)
		assert.InEpsilon(t, l.Asked, l.Sent, 0.01, "%s: achieved vs asked, per load pod", l.Name)
		assert.InEpsilon(t, float64(l.Rate), l.Achieved, 0.01, "%s: achieved rate", l.Name)
		sum += l.Samples
		nodes[l.Node] = true
	}
	assert.Equal(t, res.Requests, sum, "merged count is the sum of the pods' counts")
	assert.InEpsilon(t, s.Load.Planned(), res.Requests, 0.01, "achieved vs asked: %d of %d", res.Requests, s.Load.Planned())
	if s.Load.Pods > 1 {
		assert.GreaterOrEqual(t, len(nodes), 2, "load pods spread over the nodes: %v", nodes)
	}
	assert.Contains(t, res.Path, ".svc.cluster.local:")
	t.Logf("in-cluster load: %d requests of %d asked from %v", res.Requests, s.Load.Planned(), res.LoadSources)
}

// Killing a load pod mid-run makes the verdict inconclusive and names it.
func TestIntegrationInClusterLostLoadPod(t *testing.T) {
	clustertest.RequireDocker(t)
	t.Parallel() // its lease decides whether it runs beside the package's other tests
	e := sharedEnv(t)
	s := parse(t, `name: incluster-lost
app: {replicas: 3}
load: {via: inCluster, pods: 3, rate: 90/s, duration: 25s}
slo: {availability: 99%}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute) // the lease may wait for scenarios side by side
	defer cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	killed := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			t.Log(line)
			if ns, ok := strings.CutPrefix(line, "incluster-lost: load: "); ok && ns != "" {
				go func() {
					time.Sleep(8 * time.Second)
					all, err := e.Cluster.Clientset.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "aftershock.dev/role=load"})
					var pods []corev1.Pod // this scenario's: other tests run side by side
					if err == nil {
						for _, p := range all.Items {
							if strings.HasPrefix(p.Namespace, "as-incluster-lost-") {
								pods = append(pods, p)
							}
						}
					}
					if len(pods) < 2 {
						killed <- ""
						return
					}
					p := pods[1]
					zero := int64(0)
					_ = e.Cluster.Clientset.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
					killed <- p.Name
				}()
			}
		}
	}()
	res, err := scenarios.Run(ctx, s, scenarios.Options{Env: e, Out: filepath.Join(outDir(t), s.Name), Progress: pw})
	require.NoError(t, err)
	victim := <-killed
	require.NotEmpty(t, victim, "a load pod was killed")
	t.Logf("%s", render.Summary(res))
	assert.Equal(t, report.Inconclusive, res.Verdict, res.Reasons)
	assert.Contains(t, strings.Join(res.Reasons, "; "), "load pod "+victim)
	require.Len(t, res.LostLoad, 1)
	assert.Contains(t, res.LostLoad[0], victim)
}
