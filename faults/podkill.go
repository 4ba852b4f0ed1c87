package faults

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// podKill deletes some of the app's pods; the Deployment replaces them.
type podKill struct {
	env     *Env
	spec    Spec
	victims []corev1.Pod
}

func (f *podKill) Inject(ctx context.Context) (Injected, error) {
	cs := f.env.Cluster.Clientset
	victims, pinned, err := f.env.pickTargetPods(ctx, f.spec, false)
	if err != nil {
		return Injected{}, err
	}
	f.victims = victims
	opts := metav1.DeleteOptions{}
	method := "delete pod (its own grace period)"
	if f.spec.GracePeriod != nil {
		opts.GracePeriodSeconds = ptr.To(int64(f.spec.GracePeriod.Seconds()))
		method = fmt.Sprintf("delete pod, grace period %s", *f.spec.GracePeriod)
	}
	for _, p := range victims {
		o := opts
		o.Preconditions = &metav1.Preconditions{UID: ptr.To(p.UID)}
		if err := cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, o); err != nil && !apierrors.IsNotFound(err) {
			return Injected{Target: strings.Join(podNames(victims), ","), Method: method}, fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	start := time.Now()
	return Injected{Target: strings.Join(podNames(victims), ","), Victims: pinned, Method: method, Verify: func(ctx context.Context) (bool, string) {
		return waitPodsGone(ctx, f.env, victims, start)
	}}, nil
}

// waitPodsGone waits until every victim (by UID) no longer exists.
func waitPodsGone(ctx context.Context, env *Env, victims []corev1.Pod, start time.Time) (bool, string) {
	cs := env.Cluster.Clientset
	for {
		left := 0
		for _, p := range victims {
			cur, err := cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
			if err == nil && cur.UID == p.UID {
				left++
			}
		}
		if left == 0 {
			return true, fmt.Sprintf("%d pod(s) gone %s after the delete", len(victims), time.Since(start).Round(10*time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return false, fmt.Sprintf("%d of %d pod(s) still exist after %s", left, len(victims), time.Since(start).Round(time.Second))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Revert does nothing: a deleted pod is replaced by its controller.
func (f *podKill) Revert(context.Context) error { return nil }
