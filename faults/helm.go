package faults

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// helmUpgrade is a deploy event: the app's Helm chart rendered again with
// the event's set and values on top of the app's (the Helm SDK, as `helm
// upgrade --set` renders) and applied as the new state (Env.Upgrade).
// Landed when every Deployment whose spec the upgrade changed has rolled
// out, as `kubectl rollout status` decides. Not undone: the namespace goes
// with the run.
type helmUpgrade struct {
	env  *Env
	spec Spec
}

func (f *helmUpgrade) Inject(ctx context.Context) (Injected, error) {
	inj := Injected{Target: "the app's Helm release"}
	if f.env.Upgrade == nil {
		return inj, fmt.Errorf("helm-upgrade: the app is not a Helm chart (app.helm)")
	}
	before, err := generations(ctx, f.env)
	if err != nil {
		return inj, err
	}
	var what []string
	for _, k := range slices.Sorted(maps.Keys(f.spec.Set)) {
		what = append(what, "--set "+k+"="+f.spec.Set[k])
	}
	for _, v := range f.spec.Values {
		what = append(what, "-f "+v)
	}
	start := time.Now()
	applied, err := f.env.Upgrade(ctx, f.spec.Set, f.spec.Values)
	inj.Method = fmt.Sprintf("chart rendered again with %s, %s", strings.Join(what, " "), applied)
	if err != nil {
		return inj, fmt.Errorf("helm-upgrade: %w", err)
	}
	after, err := generations(ctx, f.env)
	if err != nil {
		return inj, err
	}
	var changed []string
	for name, gen := range after {
		if gen > before[name] {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	if len(changed) > 0 {
		inj.Target = "deployment/" + strings.Join(changed, ", deployment/")
	}
	inj.Verify = func(ctx context.Context) (bool, string) {
		if len(changed) == 0 {
			return true, "the upgrade changed no Deployment: nothing rolled"
		}
		var done []string
		for _, name := range changed {
			gen := after[name]
			ok, why := pollDeployment(ctx, f.env, f.env.Namespace, name, func(d *appsv1.Deployment) (bool, string, error) { return rolledOut(d, gen) })
			if !ok {
				return false, fmt.Sprintf("rollout of deployment %s not complete after %s: %s", name, time.Since(start).Round(time.Second), why)
			}
			done = append(done, fmt.Sprintf("deployment %s %s", name, why))
		}
		return true, fmt.Sprintf("rollout complete %s after the upgrade: %s", time.Since(start).Round(10*time.Millisecond), strings.Join(done, "; "))
	}
	return inj, nil
}

func (f *helmUpgrade) Revert(context.Context) error { return nil }

// generations maps each Deployment in the scenario's namespace to its
// generation.
func generations(ctx context.Context, e *Env) (map[string]int64, error) {
	l, err := e.Cluster.Clientset.AppsV1().Deployments(e.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("helm-upgrade: list deployments in %s: %w", e.Namespace, err)
	}
	out := map[string]int64{}
	for _, d := range l.Items {
		out[d.Name] = d.Generation
	}
	return out, nil
}
