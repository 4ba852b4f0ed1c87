package faults

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func deployment(name string, lbl map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](4), Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl}}},
		Status: appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 4, AvailableReplicas: 4},
	}
}

// rollout-restart sets kubectl's restartedAt annotation on the Deployment
// that makes the app's pods, and lands only when `kubectl rollout status`
// would say the rollout is complete.
func TestRolloutRestartLandsWhenRolledOut(t *testing.T) {
	e, cs := env(deployment("web", map[string]string{"app": "web"}), deployment("db", map[string]string{"app": "db"}))
	generationReactor(cs)
	require.NoError(t, Spec{Type: RolloutRestart}.Validate())
	f, err := New(Spec{Type: RolloutRestart}, e)
	require.NoError(t, err)
	inj, err := f.Inject(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "deployment/web", inj.Target)
	ctx := context.Background()
	d, err := cs.AppsV1().Deployments("ns").Get(ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	stamp := d.Spec.Template.Annotations[restartedAt]
	_, err = time.Parse(time.RFC3339Nano, stamp)
	require.NoError(t, err, "annotation %q", stamp)
	other, _ := cs.AppsV1().Deployments("ns").Get(ctx, "db", metav1.GetOptions{})
	assert.Empty(t, other.Spec.Template.Annotations, "only the app's Deployment")

	// mid-rollout: 2 old replicas left
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 6, UpdatedReplicas: 4, AvailableReplicas: 4}
	_, err = cs.AppsV1().Deployments("ns").UpdateStatus(ctx, d, metav1.UpdateOptions{})
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	ok, why := inj.Verify(short)
	assert.False(t, ok)
	assert.Contains(t, why, "2 old replicas pending termination")

	go func() {
		time.Sleep(300 * time.Millisecond)
		d.Status.Replicas = 4
		_, _ = cs.AppsV1().Deployments("ns").UpdateStatus(context.Background(), d, metav1.UpdateOptions{})
	}()
	ok, why = inj.Verify(ctx)
	assert.True(t, ok, why)
	assert.Contains(t, why, "rollout complete")
	assert.Contains(t, why, "4 replicas updated and available")
	require.NoError(t, f.Revert(ctx))
}

func TestRolledOut(t *testing.T) {
	d := deployment("web", nil)
	d.Generation = 3
	for _, c := range []struct {
		st   appsv1.DeploymentStatus
		done bool
		why  string
	}{
		{appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 4, UpdatedReplicas: 4, AvailableReplicas: 4}, false, "not observed"},
		{appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 5, UpdatedReplicas: 2, AvailableReplicas: 4}, false, "2 of 4 new replicas updated"},
		{appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 4, UpdatedReplicas: 4, AvailableReplicas: 3}, false, "3 of 4 updated replicas available"},
		{appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 4, UpdatedReplicas: 4, AvailableReplicas: 4}, true, "4 replicas updated and available"},
	} {
		d.Status = c.st
		done, why, err := rolledOut(d, 3)
		require.NoError(t, err)
		assert.Equal(t, c.done, done, why)
		assert.Contains(t, why, c.why)
	}
	d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded", Message: "took too long"}}
	_, _, err := rolledOut(d, 3)
	assert.ErrorContains(t, err, "exceeded its progress deadline")
}

// The workload must be one Deployment of the scenario's namespace.
func TestRolloutRestartNamesItsWorkload(t *testing.T) {
	e, cs := env(deployment("web", map[string]string{"app": "web"}), deployment("web2", map[string]string{"app": "web", "v": "2"}))
	generationReactor(cs)
	f, _ := New(Spec{Type: RolloutRestart}, e)
	_, err := f.Inject(context.Background())
	assert.ErrorContains(t, err, `2 Deployments in namespace ns make pods matching "app=web" (web, web2): name one with target`)
	f, _ = New(Spec{Type: RolloutRestart, Target: "app=web,v=2"}, e)
	inj, err := f.Inject(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "deployment/web2", inj.Target)
	f, _ = New(Spec{Type: RolloutRestart, Target: "app=none"}, e)
	_, err = f.Inject(context.Background())
	assert.ErrorContains(t, err, `no Deployment in namespace ns makes pods matching "app=none"`)
	paused := deployment("p", map[string]string{"app": "p"})
	paused.Spec.Paused = true
	e, _ = env(paused)
	f, _ = New(Spec{Type: RolloutRestart, Target: "app=p"}, e)
	_, err = f.Inject(context.Background())
	assert.ErrorContains(t, err, "is paused")
}

// settled has the Deployment's status say its generation is rolled out to
// n replicas, all up to date and available, as the controller would.
func settled(t *testing.T, cs *fake.Clientset, d *appsv1.Deployment, n int32) {
	t.Helper()
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, AvailableReplicas: n}
	_, err := cs.AppsV1().Deployments(d.Namespace).UpdateStatus(context.Background(), d, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// scaleReactor serves the deployments' scale subresource from the fake
// clientset's tracker (the fake does not).
func scaleReactor(cs *fake.Clientset) {
	cs.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		d, err := cs.Tracker().Get(appsv1.SchemeGroupVersion.WithResource("deployments"), a.GetNamespace(), a.(k8stesting.GetAction).GetName())
		if err != nil {
			return true, nil, err
		}
		dep := d.(*appsv1.Deployment)
		return true, &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: dep.Name, Namespace: dep.Namespace}, Spec: autoscalingv1.ScaleSpec{Replicas: *dep.Spec.Replicas}}, nil
	})
	cs.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		sc := a.(k8stesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
		d, err := cs.Tracker().Get(appsv1.SchemeGroupVersion.WithResource("deployments"), a.GetNamespace(), sc.Name)
		if err != nil {
			return true, nil, err
		}
		dep := d.(*appsv1.Deployment).DeepCopy()
		dep.Spec.Replicas = ptr.To(sc.Spec.Replicas)
		dep.Generation++
		return true, sc, cs.Tracker().Update(appsv1.SchemeGroupVersion.WithResource("deployments"), dep, a.GetNamespace())
	})
}

// scale sets the Deployment's count, lands when that many replicas run,
// and its revert puts the count back.
func TestScaleLandsAndReverts(t *testing.T) {
	e, cs := env(deployment("web", map[string]string{"app": "web"}))
	scaleReactor(cs)
	assert.ErrorContains(t, Spec{Type: Scale}.Validate(), "replicas (not set): scale needs replicas in 0..100")
	assert.ErrorContains(t, Spec{Type: Scale, Replicas: ptr.To[int32](-1)}.Validate(), "replicas -1")
	s := Spec{Type: Scale, Replicas: ptr.To[int32](2), For: time.Second}
	require.NoError(t, s.Validate())
	assert.True(t, Reversible(Scale))
	f, err := New(s, e)
	require.NoError(t, err)
	ctx := context.Background()
	inj, err := f.Inject(ctx)
	require.NoError(t, err)
	assert.Equal(t, "deployment/web 4 -> 2 replicas", inj.Target)
	d, err := cs.AppsV1().Deployments("ns").Get(ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	assert.EqualValues(t, 2, *d.Spec.Replicas)

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	ok, why := inj.Verify(short)
	assert.False(t, ok, "status still says 4 (observed generation behind)")
	assert.Contains(t, why, "not at 2 replicas")
	settled(t, cs, d, 2)
	ok, why = inj.Verify(ctx)
	assert.True(t, ok, why)
	assert.Contains(t, why, "2 replicas available")

	require.NoError(t, f.Revert(ctx))
	d, _ = cs.AppsV1().Deployments("ns").Get(ctx, "web", metav1.GetOptions{})
	assert.EqualValues(t, 4, *d.Spec.Replicas, "back to the count before")
	require.NoError(t, f.Revert(ctx), "idempotent")
}
