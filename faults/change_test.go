package faults

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// generationReactor bumps a Deployment's generation when a patch changes
// its spec, as the API server does (the fake tracker does not).
func generationReactor(cs *fake.Clientset) {
	cs.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.PatchAction)
		before, err := cs.Tracker().Get(appsv1.SchemeGroupVersion.WithResource("deployments"), p.GetNamespace(), p.GetName())
		if err != nil {
			return true, nil, err
		}
		_, obj, err := k8stesting.ObjectReaction(cs.Tracker())(a)
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment)
		if !equality.Semantic.DeepEqual(before.(*appsv1.Deployment).Spec, d.Spec) {
			d.Generation++
			if err := cs.Tracker().Update(appsv1.SchemeGroupVersion.WithResource("deployments"), d, d.Namespace); err != nil {
				return true, nil, err
			}
		}
		return true, d, nil
	})
}

func oneContainer(d *appsv1.Deployment, name, image string) *appsv1.Deployment {
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: name, Image: image, Env: []corev1.EnvVar{{Name: "KEEP", Value: "1"}}}}
	return d
}

// rollout: the change lands in the template of the app's Deployment (image
// of its one container, env merged by name), and it lands when rolled out.
func TestRolloutChangesTheTemplate(t *testing.T) {
	e, cs := env(oneContainer(deployment("web", map[string]string{"app": "web"}), "app", "web:1"))
	generationReactor(cs)
	s := Spec{Type: Rollout, Image: "web:2", Env: map[string]string{"VERSION": "v2"}}
	require.NoError(t, s.Validate())
	f, err := New(s, e)
	require.NoError(t, err)
	ctx := context.Background()
	inj, err := f.Inject(ctx)
	require.NoError(t, err)
	assert.Equal(t, "image web:2, env VERSION=v2", inj.Method)
	d, err := cs.AppsV1().Deployments("ns").Get(ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	c := d.Spec.Template.Spec.Containers[0]
	assert.Equal(t, "web:2", c.Image)
	assert.ElementsMatch(t, []corev1.EnvVar{{Name: "KEEP", Value: "1"}, {Name: "VERSION", Value: "v2"}}, c.Env, "env merged by name")
	assert.EqualValues(t, 1, d.Generation)

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	ok, why := inj.Verify(short)
	assert.False(t, ok, "generation 1 not observed yet")
	assert.Contains(t, why, "not observed")
	settled(t, cs, d, 4)
	ok, why = inj.Verify(ctx)
	assert.True(t, ok, why)
	assert.Contains(t, why, "rollout complete")
	assert.Contains(t, why, "after the change")

	// the same change again leaves the template as it is: nothing rolls
	_, err = f.Inject(ctx)
	assert.ErrorContains(t, err, "leaves its pod template as it was: nothing rolls")
}

func TestRolloutImageNeedsOneContainer(t *testing.T) {
	d := oneContainer(deployment("web", map[string]string{"app": "web"}), "app", "web:1")
	d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "proxy", Image: "envoy:1"})
	e, cs := env(d)
	generationReactor(cs)
	f, err := New(Spec{Type: Rollout, Image: "web:2"}, e)
	require.NoError(t, err)
	_, err = f.Inject(context.Background())
	assert.ErrorContains(t, err, "image web:2: the pod template has 2 containers (app, proxy); name the one to change in a patch")

	// a patch names it
	f, err = New(Spec{Type: Rollout, Patch: map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "proxy", "image": "envoy:2"}}}}}, e)
	require.NoError(t, err)
	_, err = f.Inject(context.Background())
	require.NoError(t, err)
	got, _ := cs.AppsV1().Deployments("ns").Get(context.Background(), "web", metav1.GetOptions{})
	assert.Equal(t, "web:1", got.Spec.Template.Spec.Containers[0].Image)
	assert.Equal(t, "envoy:2", got.Spec.Template.Spec.Containers[1].Image)
}

// rollback: kubectl rollout undo's choice, the ReplicaSet of the revision
// before the latest; its template (without the hash label) goes back.
func TestRollbackRestoresThePreviousRevision(t *testing.T) {
	lbl := map[string]string{"app": "web"}
	d := oneContainer(deployment("web", lbl), "app", "web:2")
	d.UID = "d-uid"
	rs := func(name, rev, image string) *appsv1.ReplicaSet {
		r := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: lbl, UID: types.UID(name + "-uid"),
				Annotations:     map[string]string{"deployment.kubernetes.io/revision": rev},
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))}},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0), Selector: d.Spec.Selector, Template: *d.Spec.Template.DeepCopy()},
		}
		r.Spec.Template.Labels = map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: name}
		r.Spec.Template.Spec.Containers[0].Image = image
		return r
	}
	ctx := context.Background()

	e, cs := env(d.DeepCopy(), rs("web-b", "2", "web:2"))
	f, err := New(Spec{Type: Rollback}, e)
	require.NoError(t, err)
	_, err = f.Inject(ctx)
	assert.ErrorContains(t, err, "no revision before the current one")

	e, cs = env(d.DeepCopy(), rs("web-a", "1", "web:1"), rs("web-b", "2", "web:2"), rs("web-0", "x", "web:0"))
	generationReactor(cs)
	f, err = New(Spec{Type: Rollback}, e)
	require.NoError(t, err)
	inj, err := f.Inject(ctx)
	require.NoError(t, err)
	assert.Contains(t, inj.Method, "revision 1, ReplicaSet web-a")
	got, err := cs.AppsV1().Deployments("ns").Get(ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "web:1", got.Spec.Template.Spec.Containers[0].Image)
	assert.Equal(t, map[string]string{"app": "web"}, got.Spec.Template.Labels, "no pod-template-hash label")
	assert.EqualValues(t, 1, got.Generation)
}

// templatePatch adds the env to a copy of the spec's patch, never to the
// parsed spec itself (a repeated event would see it changed).
func TestTemplatePatchLeavesTheSpecsPatch(t *testing.T) {
	s := Spec{Type: Rollout, Env: map[string]string{"V": "2"}, Patch: map[string]any{"metadata": map[string]any{"labels": map[string]any{"x": "y"}}}}
	b, what, err := templatePatch(s, []string{"app"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"spec":{"template":{"metadata":{"labels":{"x":"y"}},"spec":{"containers":[{"name":"app","env":[{"name":"V","value":"2"}]}]}}}}`, string(b))
	assert.Equal(t, "strategic-merge patch of the pod template, env V=2", what)
	assert.NotContains(t, s.Patch, "spec")
}
