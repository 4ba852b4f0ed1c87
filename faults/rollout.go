package faults

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	deploymentutil "k8s.io/kubectl/pkg/util/deployment"
)

// restartedAt is the pod template annotation `kubectl rollout restart`
// sets (k8s.io/kubectl/pkg/polymorphichelpers, objectrestarter.go): a new
// value is a new template, so the Deployment rolls every pod.
const restartedAt = "kubectl.kubernetes.io/restartedAt"

// rolloutRestart is a deploy event: what `kubectl rollout restart` does to
// the Deployment that owns the app's pods (or target's). It has landed when
// the rollout is complete, as `kubectl rollout status` decides.
type rolloutRestart struct {
	env  *Env
	spec Spec
}

func (f *rolloutRestart) Inject(ctx context.Context) (Injected, error) {
	d, err := f.env.workload(ctx, f.spec)
	if err != nil {
		return Injected{}, err
	}
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, restartedAt, time.Now().Format(time.RFC3339Nano))
	inj := Injected{Target: "deployment/" + d.Name, Method: "pod template annotation " + restartedAt + " (kubectl rollout restart)"}
	return rollPatch(ctx, f.env, d, types.StrategicMergePatchType, []byte(patch), inj, "the restart")
}

// Revert does nothing: the restarted pods run the same template as before
// (only the annotation differs), and a run killed mid-rollout leaves a
// Deployment that finishes its rollout by itself.
func (f *rolloutRestart) Revert(context.Context) error { return nil }

// workload is the Deployment that owns the pods a deploy event acts on:
// the app's (Env.Selector) or, with target, those pods'.
func (e *Env) workload(ctx context.Context, s Spec) (*appsv1.Deployment, error) {
	sel := e.Selector
	if s.Target != "" {
		sel = s.Target
	}
	ns := e.Namespace
	if s.TargetNamespace != "" {
		return nil, fmt.Errorf("%s: deploy events act only in the scenario's namespace, not %s", s.Type, s.TargetNamespace)
	}
	want, err := labels.Parse(sel)
	if err != nil {
		return nil, fmt.Errorf("%s: selector %q: %w", s.Type, sel, err)
	}
	ds, err := e.Cluster.Clientset.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: list deployments in %s: %w", s.Type, ns, err)
	}
	var found []appsv1.Deployment
	for _, d := range ds.Items {
		// the Deployment's pods carry its template's labels: it owns the
		// selected pods when those labels match the selector
		if want.Matches(labels.Set(d.Spec.Template.Labels)) {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%s: no Deployment in namespace %s makes pods matching %q (deploy events act on Deployments)", s.Type, ns, sel)
	case 1:
		return &found[0], nil
	}
	names := make([]string, len(found))
	for i, d := range found {
		names[i] = d.Name
	}
	return nil, fmt.Errorf("%s: %d Deployments in namespace %s make pods matching %q (%s): name one with target", s.Type, len(found), ns, sel, strings.Join(names, ", "))
}

// ownedReplicaSets lists the names of d's ReplicaSets that run pods.
func ownedReplicaSets(ctx context.Context, e *Env, d *appsv1.Deployment) []string {
	rss, err := e.Cluster.Clientset.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []string
	for _, rs := range rss.Items {
		if metav1.IsControlledBy(&rs, d) && rs.Status.Replicas > 0 {
			out = append(out, rs.Name)
		}
	}
	return out
}

// rolledOut is `kubectl rollout status` for a Deployment
// (polymorphichelpers.DeploymentStatusViewer): the spec generation
// observed, every replica updated, no old replica left, every updated one
// available. An error: the rollout exceeded its progress deadline.
func rolledOut(d *appsv1.Deployment, gen int64) (bool, string, error) {
	if d.Status.ObservedGeneration < gen || d.Generation > d.Status.ObservedGeneration {
		return false, "the new template is not observed yet", nil
	}
	if c := deploymentutil.GetDeploymentCondition(d.Status, appsv1.DeploymentProgressing); c != nil && c.Reason == deploymentutil.TimedOutReason {
		return false, "", fmt.Errorf("deployment %s exceeded its progress deadline: %s", d.Name, c.Message)
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	switch {
	case d.Status.UpdatedReplicas < want:
		return false, fmt.Sprintf("%d of %d new replicas updated", d.Status.UpdatedReplicas, want), nil
	case d.Status.Replicas > d.Status.UpdatedReplicas:
		return false, fmt.Sprintf("%d old replicas pending termination", d.Status.Replicas-d.Status.UpdatedReplicas), nil
	case d.Status.AvailableReplicas < d.Status.UpdatedReplicas:
		return false, fmt.Sprintf("%d of %d updated replicas available", d.Status.AvailableReplicas, d.Status.UpdatedReplicas), nil
	}
	return true, fmt.Sprintf("%d replicas updated and available", want), nil
}

// waitRolledOut polls the Deployment until its rollout of generation gen
// is complete (bounded by ctx) and says how long it took, from start.
func waitRolledOut(ctx context.Context, e *Env, ns, name string, gen int64, oldRS []string, start time.Time, after string) (bool, string) {
	ok, why := pollDeployment(ctx, e, ns, name, func(d *appsv1.Deployment) (bool, string, error) { return rolledOut(d, gen) })
	if ok {
		return true, fmt.Sprintf("rollout complete %s after %s: %s (pods of ReplicaSet %s replaced)", time.Since(start).Round(10*time.Millisecond), after, why, strings.Join(oldRS, ", "))
	}
	return false, fmt.Sprintf("rollout of deployment %s not complete after %s: %s", name, time.Since(start).Round(time.Second), why)
}

// pollDeployment reads the Deployment every 200 ms until done says it is
// (true and done's words), done errs (false and the error) or ctx ends
// (false and done's last words).
func pollDeployment(ctx context.Context, e *Env, ns, name string, done func(*appsv1.Deployment) (bool, string, error)) (bool, string) {
	last := "not read yet"
	for {
		d, err := e.Cluster.Clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			ok, why, err := done(d)
			if err != nil {
				return false, err.Error()
			}
			if ok {
				return true, why
			}
			last = why
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return false, last
		case <-time.After(200 * time.Millisecond):
		}
	}
}
