package clusters

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// An API server that answers 302 to a second server: no client built from
// the kubeconfig (clientset, service proxy) sends that server anything.
func TestCredentialsNeverFollowARedirect(t *testing.T) {
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Add(1)
		t.Errorf("second server got %s %s (Authorization %q)", r.Method, r.URL, r.Header.Get("Authorization"))
	}))
	defer other.Close()
	var seen atomic.Int32
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Logf("api got %s auth=%q", r.URL, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") == "Bearer s3cret" {
			seen.Add(1)
		}
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	defer api.Close()
	kcfg := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kcfg, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: s3cret}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
current-context: ctx
`, api.URL)), 0o600))
	c, err := FromKubeconfig(kcfg, true)
	require.NoError(t, err)

	_, err = c.Clientset.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	require.Error(t, err)
	base, client, err := c.ServiceProxy("ns", "web", 80)
	require.NoError(t, err)
	resp, err := client.Get(base + "healthz")
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refusing a request to")
	assert.EqualValues(t, 0, leaked.Load(), "the second server got no request")
	assert.Positive(t, seen.Load(), "the API server itself got the credentials")
}
