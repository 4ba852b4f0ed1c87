package scenarios_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/report/render"
	"github.com/aftershock-dev/aftershock/scenarios"
)

// The same app (4 replicas) and the same pod kill, measured through each
// traffic path with clients that keep 2 connections alive: every report names its path, and
// the baseline evenness tells the paths apart: the Ingress controller
// balances each request (Jain >= 0.95), the NodePort pins each kept-alive
// connection to one pod (Jain <= 0.5). In-cluster load runs at 300/s from 3
// load pods, and every one of their samples is counted once.
func TestIntegrationTrafficPaths(t *testing.T) {
	clustertest.RequireDocker(t)
	t.Parallel() // each path takes its lease beside the package's other tests
	e := sharedEnv(t)
	var mu sync.Mutex
	jain := map[string]float64{}
	t.Run("paths", func(t *testing.T) {
		for _, via := range []string{scenarios.ViaNodePort, scenarios.ViaIngress, scenarios.ViaInCluster} {
			t.Run(via, func(t *testing.T) {
				t.Parallel()
				trafficPath(t, e, via, &mu, jain)
			})
		}
	})
	if j, ok := jain[scenarios.ViaIngress]; ok {
		assert.GreaterOrEqual(t, j, 0.95, "through the Ingress with keep-alive")
	}
	if j, ok := jain[scenarios.ViaNodePort]; ok {
		assert.LessOrEqual(t, j, 0.5, "through the NodePort with keep-alive")
	}
	assert.Len(t, jain, 3, "every path measured")
}

// trafficPath runs one path of TestIntegrationTrafficPaths and records its
// baseline Jain in jain[via].
func trafficPath(t *testing.T, e *scenarios.Env, via string, mu *sync.Mutex, jain map[string]float64) {
	rate, dur, at := 100, 20, 10
	if via == scenarios.ViaInCluster {
		rate, dur, at = 300, 30, 15
	}
	s := parse(t, fmt.Sprintf(`name: path-%s
seed: 9
app: {replicas: 4}
load: {via: %s, rate: %d/s, duration: %ds, keepAlive: true, connections: 2}
faults:
  - {type: pod-kill, at: %ds, pods: 1}
slo: {availability: 95%%, recovery: 15s}
`, strings.ToLower(via), via, rate, dur, at))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute) // the lease may wait for scenarios side by side
	defer cancel()
	res, err := scenarios.Run(ctx, s, scenarios.Options{Env: e, Out: filepath.Join(outDir(t), s.Name), Progress: clustertest.LogWriter(t)})
	require.NoError(t, err)
	t.Logf("%s\npath: %s", render.Summary(res), res.Path)
	assert.True(t, strings.HasPrefix(res.Path, via+":"), "the report names its path: %q", res.Path)
	if via == scenarios.ViaInCluster {
		assertLoadPodsCounted(t, s, res)
	}
	require.Len(t, res.Faults, 1)
	assert.True(t, res.Faults[0].LandedVerdict, res.Faults[0].LandedWhy)
	b := res.Baseline()
	require.NotNil(t, b)
	ev := b.Reused
	if ev == nil || (b.New != nil && b.New.Requests > ev.Requests) {
		ev = b.New
	}
	require.NotNil(t, ev, "baseline evenness")
	mu.Lock()
	jain[via] = ev.Jain
	mu.Unlock()
	t.Logf("%s: baseline Jain %.3f over %d pods (%d requests), verdict %s %v", via, ev.Jain, len(ev.Pods), ev.Requests, res.Verdict, res.Reasons)
}
