package appsource

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Charts as people write them: metadata.namespace from
// {{ .Release.Namespace }} renders with the scenario's namespace and is
// accepted; a helm.set value with commas stays one value.
func TestHelmChartsAsPeopleWriteThem(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644))
	}
	write("Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
	write("values.yaml", "hosts: a\n")
	write("templates/deploy.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: web:1
          env: [{name: HOSTS, value: {{ .Values.hosts | quote }}}]
`)
	objs, err := Render(Source{Helm: &Helm{Chart: dir, Set: map[string]string{"hosts": "a.example,b.example"}}}, "as-web-123")
	require.NoError(t, err)
	require.Len(t, objs, 1)
	assert.Equal(t, "as-web-123", objs[0].GetNamespace())
	require.NoError(t, Check(objs, "as-web-123", false), "the chart's own namespace is the scenario's")
	require.Error(t, Check(objs, "other", false), "another namespace is still refused")
	cs, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "template", "spec", "containers")
	env := cs[0].(map[string]any)["env"].([]any)[0].(map[string]any)
	assert.Equal(t, "a.example,b.example", env["value"], "commas kept in one value")
}

// A huge file is refused by its size without being read; a file that never
// ends is cut at the bound.
func TestFilesAreReadThroughASizeLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(300<<20)) // 300 MiB, sparse: nothing to read fast
	require.NoError(t, f.Close())
	_, err = Render(Source{Manifests: []string{p}}, "ns")
	require.ErrorContains(t, err, "314572800 bytes; at most 16777216 are read")
	_, err = ReadFileLimited("/dev/zero", 1<<20)
	require.ErrorContains(t, err, "more than 1048576 bytes")
}

// A kustomization naming a remote base is refused, naming it, before
// kustomize could fetch anything; one nested in a local base too.
func TestKustomizeNeverFetchesRemoteBases(t *testing.T) {
	for _, remote := range []string{
		"https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1",
		"github.com/kubernetes-sigs/kustomize/examples/multibases?ref=v1.0.6",
		"git@github.com:owner/repo.git",
		"https://raw.githubusercontent.com/org/repo/main/deploy.yaml",
	} {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "base"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [base]\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "base", "kustomization.yaml"), []byte("resources:\n- "+remote+"\n"), 0o644))
		_, err := Render(Source{Manifests: []string{dir}}, "ns")
		require.Error(t, err, remote)
		assert.Contains(t, err.Error(), `resource "`+remote+`" is remote`)
		assert.Contains(t, err.Error(), filepath.Join("base", "kustomization.yaml"))
	}
}
