package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	appsclient "k8s.io/client-go/kubernetes/typed/apps/v1"
	deploymentutil "k8s.io/kubectl/pkg/util/deployment"
)

// rollout is a deploy event with a change: the pod template of the
// Deployment that makes the app's pods (or target's) gets a new image
// (kubectl set image), environment variables (kubectl set env, every
// container) or any strategic-merge patch, and rolls. Landed when the
// rollout is complete, as `kubectl rollout status` decides. Not undone:
// a `rollback` event undoes it under load; the namespace goes with the run.
type rollout struct {
	env  *Env
	spec Spec
}

// templatePatch is the strategic-merge patch of the Deployment for s and
// what it says it changes.
func templatePatch(s Spec, containers []string) ([]byte, string, error) {
	tmpl := map[string]any{}
	var what []string
	if s.Patch != nil {
		tmpl = maps.Clone(s.Patch) // the spec's own map stays as parsed
		what = append(what, "strategic-merge patch of the pod template")
	}
	if s.Image != "" || len(s.Env) > 0 {
		var cs []any
		if s.Image != "" && len(containers) != 1 {
			return nil, "", fmt.Errorf("image %s: the pod template has %d containers (%s); name the one to change in a patch", s.Image, len(containers), strings.Join(containers, ", "))
		}
		keys := slices.Sorted(maps.Keys(s.Env))
		var env []any
		for _, k := range keys {
			env = append(env, map[string]any{"name": k, "value": s.Env[k]})
		}
		for _, c := range containers {
			e := map[string]any{"name": c}
			if s.Image != "" {
				e["image"] = s.Image
			}
			if len(env) > 0 {
				e["env"] = env
			}
			cs = append(cs, e)
		}
		tmpl["spec"] = map[string]any{"containers": cs}
		if s.Image != "" {
			what = append(what, "image "+s.Image)
		}
		for _, k := range keys {
			what = append(what, "env "+k+"="+s.Env[k])
		}
	}
	b, err := json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
	return b, strings.Join(what, ", "), err
}

func (f *rollout) Inject(ctx context.Context) (Injected, error) {
	d, err := f.env.workload(ctx, f.spec)
	if err != nil {
		return Injected{}, err
	}
	inj := Injected{Target: "deployment/" + d.Name}
	var names []string
	for _, c := range d.Spec.Template.Spec.Containers {
		names = append(names, c.Name)
	}
	patch, what, err := templatePatch(f.spec, names)
	if err != nil {
		return inj, fmt.Errorf("rollout of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	inj.Method = what
	return rollPatch(ctx, f.env, d, types.StrategicMergePatchType, patch, inj, "the change")
}

// rollPatch patches d (a new pod template), and makes inj land when that
// rollout is complete; after names the event in the evidence. A paused
// Deployment, or a patch that leaves the template as it was, is an error:
// nothing would roll.
func rollPatch(ctx context.Context, e *Env, d *appsv1.Deployment, pt types.PatchType, patch []byte, inj Injected, after string) (Injected, error) {
	if d.Spec.Paused {
		return inj, fmt.Errorf("deployment %s/%s is paused: %s would not roll", d.Namespace, d.Name, after)
	}
	oldRS := ownedReplicaSets(ctx, e, d)
	start := time.Now()
	got, err := e.Cluster.Clientset.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, pt, patch, metav1.PatchOptions{})
	if err != nil {
		return inj, fmt.Errorf("%s of deployment %s/%s (%s): %w", after, d.Namespace, d.Name, inj.Method, err)
	}
	if got.Generation == d.Generation {
		return inj, fmt.Errorf("%s of deployment %s/%s (%s) leaves its pod template as it was: nothing rolls", after, d.Namespace, d.Name, inj.Method)
	}
	gen := got.Generation
	inj.Verify = func(ctx context.Context) (bool, string) {
		return waitRolledOut(ctx, e, d.Namespace, d.Name, gen, oldRS, start, after)
	}
	return inj, nil
}

func (f *rollout) Revert(context.Context) error { return nil }

// rollback is a deploy event: what `kubectl rollout undo` does: the
// Deployment's pod template goes back to that of its previous revision
// (the ReplicaSet with the second-highest revision, as kubectl's
// DeploymentRollbacker picks it), and rolls. Landed when the rollout is
// complete.
type rollback struct {
	env  *Env
	spec Spec
}

func (f *rollback) Inject(ctx context.Context) (Injected, error) {
	d, err := f.env.workload(ctx, f.spec)
	if err != nil {
		return Injected{}, err
	}
	inj := Injected{Target: "deployment/" + d.Name, Method: "previous revision's pod template (kubectl rollout undo)"}
	prev, err := previousRevision(d, f.env.Cluster.Clientset.AppsV1())
	if err != nil {
		return inj, fmt.Errorf("rollback of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	tmpl := prev.Spec.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	patch, err := json.Marshal([]any{map[string]any{"op": "replace", "path": "/spec/template", "value": tmpl}})
	if err != nil {
		return inj, err
	}
	rev, _ := deploymentutil.Revision(prev)
	inj.Method = fmt.Sprintf("pod template of revision %d, ReplicaSet %s (kubectl rollout undo)", rev, prev.Name)
	return rollPatch(ctx, f.env, d, types.JSONPatchType, patch, inj, "the rollback")
}

func (f *rollback) Revert(context.Context) error { return nil }

// previousRevision is the ReplicaSet of d's revision before its latest.
func previousRevision(d *appsv1.Deployment, c appsclient.AppsV1Interface) (*appsv1.ReplicaSet, error) {
	_, old, cur, err := deploymentutil.GetAllReplicaSets(d, c)
	if err != nil {
		return nil, fmt.Errorf("list its ReplicaSets: %w", err)
	}
	all := old
	if cur != nil {
		all = append(all, cur)
	}
	var latest, prev *appsv1.ReplicaSet
	latestRev, prevRev := int64(-1), int64(-1)
	for _, rs := range all {
		v, err := deploymentutil.Revision(rs)
		switch {
		case err != nil:
		case v > latestRev:
			prev, prevRev = latest, latestRev
			latest, latestRev = rs, v
		case v > prevRev:
			prev, prevRev = rs, v
		}
	}
	if prev == nil {
		return nil, fmt.Errorf("no revision before the current one to go back to (a rollback needs an earlier rollout)")
	}
	return prev, nil
}
