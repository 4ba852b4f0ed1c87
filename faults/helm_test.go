package faults

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// helm-upgrade: Env.Upgrade applies the new render; the Deployments whose
// generation it raised are what must roll out before it has landed.
func TestHelmUpgradeLandsWhenChangedDeploymentsRolledOut(t *testing.T) {
	ctx := context.Background()
	e, cs := env(deployment("web", map[string]string{"app": "web"}), deployment("db", map[string]string{"app": "db"}))
	s := Spec{Type: HelmUpgrade, Set: map[string]string{"podAnnotations.release": "2"}, Values: []string{"prod.yaml"}}
	require.NoError(t, s.Validate())
	assert.ErrorContains(t, Spec{Type: HelmUpgrade}.Validate(), "helm-upgrade needs a change: set or values")

	f, err := New(s, e)
	require.NoError(t, err)
	_, err = f.Inject(ctx)
	assert.ErrorContains(t, err, "the app is not a Helm chart")

	var gotSet map[string]string
	e.Upgrade = func(ctx context.Context, set map[string]string, values []string) (string, error) {
		gotSet = set
		d, err := cs.AppsV1().Deployments("ns").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		d.Generation++
		d.Spec.Template.Annotations = map[string]string{"release": set["podAnnotations.release"]}
		_, err = cs.AppsV1().Deployments("ns").Update(ctx, d, metav1.UpdateOptions{})
		return "2 objects applied server-side", err
	}
	inj, err := f.Inject(ctx)
	require.NoError(t, err)
	assert.Equal(t, s.Set, gotSet)
	assert.Equal(t, "deployment/web", inj.Target, "only the Deployment the upgrade changed")
	assert.Contains(t, inj.Method, "--set podAnnotations.release=2 -f prod.yaml, 2 objects applied server-side")

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	ok, why := inj.Verify(short)
	assert.False(t, ok)
	assert.Contains(t, why, "rollout of deployment web not complete")
	d, _ := cs.AppsV1().Deployments("ns").Get(ctx, "web", metav1.GetOptions{})
	settled(t, cs, d, 4)
	ok, why = inj.Verify(ctx)
	assert.True(t, ok, why)
	assert.Contains(t, why, "rollout complete")
	assert.Contains(t, why, "deployment web 4 replicas updated and available")

	// an upgrade that changes no Deployment has landed at once
	e.Upgrade = func(context.Context, map[string]string, []string) (string, error) {
		return "2 objects applied server-side", nil
	}
	inj, err = f.Inject(ctx)
	require.NoError(t, err)
	ok, why = inj.Verify(ctx)
	assert.True(t, ok)
	assert.Equal(t, "the upgrade changed no Deployment: nothing rolled", why)
}
