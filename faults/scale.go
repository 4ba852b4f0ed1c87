package faults

import (
	"context"
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxReplicas bounds a scale event.
const MaxReplicas = 100

// scale is a deploy event: the Deployment that makes the app's pods (or
// target's) scaled to Replicas through its scale subresource (what
// `kubectl scale` does), landed when that many replicas are up to date and
// available (or the extra ones gone); Revert scales it back to the count it
// had.
type scale struct {
	env  *Env
	spec Spec
	ns   string
	name string
	was  *int32 // the count before, once scaled
}

func (f *scale) Inject(ctx context.Context) (Injected, error) {
	d, err := f.env.workload(ctx, f.spec)
	if err != nil {
		return Injected{}, err
	}
	want := *f.spec.Replicas
	deps := f.env.Cluster.Clientset.AppsV1().Deployments(d.Namespace)
	sc, err := deps.GetScale(ctx, d.Name, metav1.GetOptions{})
	inj := Injected{Target: "deployment/" + d.Name, Method: "scale subresource (kubectl scale)"}
	if err != nil {
		return inj, fmt.Errorf("scale deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	f.ns, f.name, f.was = d.Namespace, d.Name, &sc.Spec.Replicas
	start := time.Now()
	if _, err := deps.UpdateScale(ctx, d.Name, &autoscalingv1.Scale{ObjectMeta: sc.ObjectMeta, Spec: autoscalingv1.ScaleSpec{Replicas: want}}, metav1.UpdateOptions{}); err != nil {
		return inj, fmt.Errorf("scale deployment %s/%s to %d: %w", d.Namespace, d.Name, want, err)
	}
	inj.Target += fmt.Sprintf(" %d -> %d replicas", sc.Spec.Replicas, want)
	inj.Verify = func(ctx context.Context) (bool, string) {
		return waitScaled(ctx, f.env, d.Namespace, d.Name, want, start)
	}
	return inj, nil
}

// Revert scales the Deployment back to the count it had (idempotent; a
// Deployment gone with its namespace is nothing to undo).
func (f *scale) Revert(ctx context.Context) error {
	if f.was == nil {
		return nil
	}
	deps := f.env.Cluster.Clientset.AppsV1().Deployments(f.ns)
	sc, err := deps.GetScale(ctx, f.name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("scale deployment %s/%s back to %d: %w", f.ns, f.name, *f.was, err)
	}
	if sc.Spec.Replicas != *f.was {
		sc.Spec.Replicas = *f.was
		if _, err := deps.UpdateScale(ctx, f.name, sc, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("scale deployment %s/%s back to %d: %w", f.ns, f.name, *f.was, err)
		}
	}
	f.was = nil
	return nil
}

// waitScaled waits until the Deployment runs want replicas, all up to date
// and available, and none more (bounded by ctx).
func waitScaled(ctx context.Context, e *Env, ns, name string, want int32, start time.Time) (bool, string) {
	ok, why := pollDeployment(ctx, e, ns, name, func(d *appsv1.Deployment) (bool, string, error) {
		st := d.Status
		switch {
		case d.Generation > st.ObservedGeneration:
			return false, "the new count is not observed yet", nil
		case st.Replicas != want || st.UpdatedReplicas != want || st.AvailableReplicas != want:
			return false, fmt.Sprintf("%d replicas, %d up to date, %d available of %d", st.Replicas, st.UpdatedReplicas, st.AvailableReplicas, want), nil
		}
		return true, "", nil
	})
	if ok {
		return true, fmt.Sprintf("%d replicas available %s after the scale", want, time.Since(start).Round(10*time.Millisecond))
	}
	return false, fmt.Sprintf("deployment %s not at %d replicas after %s: %s", name, want, time.Since(start).Round(time.Second), why)
}

func fmtReplicas(r *int32) string {
	if r == nil {
		return "(not set)"
	}
	return strconv.Itoa(int(*r))
}
