package scenarios_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters/appsource"
	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/report/render"
	"github.com/aftershock-dev/aftershock/scenarios"
)

const httpbinImage = "aftershock.dev/examples/go-httpbin:v2.26.0"

func draftFor(t *testing.T, o scenarios.DraftOptions) (string, *scenarios.Spec) {
	t.Helper()
	if o.File == "" {
		o.File = filepath.Join(t.TempDir(), "resilience", "first.yaml")
	}
	b, err := scenarios.Draft(o)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(o.File), 0o755))
	require.NoError(t, os.WriteFile(o.File, b, 0o644))
	s, err := scenarios.ParseFile(o.File)
	require.NoError(t, err, "%s", b)
	return string(b), s
}

// A first scenario from a chart, manifests or a kustomization: it
// validates, names the Service and its port, loads the images present in
// Docker, lists the others, and says when one replica cannot survive it.
func TestDraftValidatesForEachSource(t *testing.T) {
	present := func(img string) bool { return img == httpbinImage }
	text, s := draftFor(t, scenarios.DraftOptions{Source: appsource.Source{Helm: &appsource.Helm{Chart: "examples/httpbin/chart"}}, ImagePresent: present})
	assert.Equal(t, "httpbin", s.App.Own.Service)
	assert.Equal(t, "http", s.App.Own.Port)
	assert.Equal(t, []string{httpbinImage}, s.App.Own.Images)
	assert.True(t, s.App.AutoAttribution)
	assert.Len(t, s.Faults, 2)
	assert.Equal(t, "first", s.Name)
	assert.NotContains(t, text, "runs 1 replica", "the chart runs 3")

	text, s = draftFor(t, scenarios.DraftOptions{Source: appsource.Source{Manifests: []string{"examples/httpbin/manifests"}}, Path: "/hostname"})
	assert.Equal(t, "/hostname", s.App.Request.Path)
	assert.Empty(t, s.App.Own.Images)
	assert.Contains(t, text, "not in your Docker engine, so the nodes pull them: "+httpbinImage)

	// a kustomization over the manifests, one replica, two Services
	k := t.TempDir()
	ms, err := filepath.Glob("examples/httpbin/manifests/*.yaml")
	require.NoError(t, err)
	var res []string
	for _, m := range ms {
		b, err := os.ReadFile(m)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(k, filepath.Base(m)), b, 0o644))
		res = append(res, filepath.Base(m))
	}
	require.NoError(t, os.WriteFile(filepath.Join(k, "kustomization.yaml"), []byte(`resources: [`+strings.Join(res, ", ")+`, extra.yaml]
replicas: [{name: httpbin, count: 1}]
`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(k, "extra.yaml"), []byte(`apiVersion: v1
kind: Service
metadata: {name: admin}
spec: {selector: {app: httpbin}, ports: [{name: admin, port: 9000}]}
`), 0o644))
	_, err = scenarios.Draft(scenarios.DraftOptions{Source: appsource.Source{Manifests: []string{k}}, File: filepath.Join(k, "s.yaml")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 Services (admin, httpbin): name one")
	text, s = draftFor(t, scenarios.DraftOptions{Source: appsource.Source{Manifests: []string{k}}, Service: "httpbin"})
	assert.Equal(t, "httpbin", s.App.Own.Service)
	assert.Contains(t, text, "Deployment httpbin runs 1 replica")
}

// The scenario drafted for the httpbin chart as `aftershock init --probe`
// writes it: Probe deploys the app once and finds where responses name the
// pod (go-httpbin's / names none; /hostname has a JSON field), the draft
// is written again with it, and it runs on a kind cluster to a pass with
// the evenness check measured.
func TestIntegrationDraftedScenarioPasses(t *testing.T) {
	clustertest.RequireDocker(t)
	t.Parallel()
	_, err := clustertest.EnsureHTTPBinImage(context.Background())
	require.NoError(t, err)
	o := scenarios.DraftOptions{
		Source:       appsource.Source{Helm: &appsource.Helm{Chart: "examples/httpbin/chart"}},
		File:         filepath.Join(t.TempDir(), "first.yaml"),
		ImagePresent: func(img string) bool { return img == httpbinImage },
	}
	_, s := draftFor(t, o)
	env := sharedEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	a, path, said, err := scenarios.Probe(ctx, s, scenarios.Options{Env: env, Progress: clustertest.LogWriter(t)}, "/nope", "/hostname")
	require.NoError(t, err)
	t.Logf("probe: %s", said)
	assert.Equal(t, "json hostname", a.String())
	assert.Equal(t, "/hostname", path)
	assert.Contains(t, said, "/: the name of the pod is in no header, JSON field or text line of 12 probe responses")
	assert.Contains(t, said, "/nope: no probe response: /nope: 404 Not Found")

	o.Attribution, o.Path = a, path
	_, s = draftFor(t, o)
	require.Equal(t, 0.9, s.SLO.Jain, "a known attribution gates on evenness")
	res, err := scenarios.Run(ctx, s, scenarios.Options{Env: env, Out: t.TempDir(), Progress: clustertest.LogWriter(t)})
	require.NoError(t, err)
	t.Logf("%s", render.Summary(res))
	assert.Equal(t, report.Pass, res.Verdict, "reasons: %v", res.Reasons)
	assert.Equal(t, "json hostname", res.Info["attribution"])
	evenness := false
	for _, c := range res.Checks {
		evenness = evenness || (c.Name == "evenness (Jain)" && c.Status == report.StatusPass)
	}
	assert.True(t, evenness, "evenness measured and passed: %+v", res.Checks)
	assertForeignApp(t, res, "httpbin-")
	assertDrainLanded(t, res)
}
