package faults

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// containerKill kills the app container of chosen pods on their node
// (crictl stop --timeout 0: SIGKILL); kubelet restarts it in the same pod.
type containerKill struct {
	env  *Env
	spec Spec
}

func restarts(p *corev1.Pod) int32 {
	if len(p.Status.ContainerStatuses) == 0 {
		return 0
	}
	return p.Status.ContainerStatuses[0].RestartCount
}

func (f *containerKill) Inject(ctx context.Context) (Injected, error) {
	pods, victims, err := f.env.pickTargetPods(ctx, f.spec, true)
	if err != nil {
		return Injected{}, err
	}
	inj := Injected{Target: strings.Join(podNames(pods), ","), Victims: victims, Method: "crictl stop --timeout 0 on the node (SIGKILL)"}
	before := map[string]int32{}
	for _, p := range pods {
		before[p.Name] = restarts(&p)
		id := p.Status.ContainerStatuses[0].ContainerID
		if i := strings.Index(id, "://"); i >= 0 {
			id = id[i+3:]
		}
		if _, err := nodeExec(ctx, p.Spec.NodeName, "crictl", "stop", "--timeout", "0", id); err != nil {
			return inj, fmt.Errorf("kill container of pod %s: %w", p.Name, err)
		}
	}
	start := time.Now()
	inj.Verify = func(ctx context.Context) (bool, string) {
		for {
			done := 0
			for _, p := range pods {
				cur, err := f.env.Cluster.Clientset.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
				if err == nil && restarts(cur) > before[p.Name] {
					done++
				}
			}
			if done == len(pods) {
				return true, fmt.Sprintf("restart count rose on %d pod(s) within %s", done, time.Since(start).Round(10*time.Millisecond))
			}
			select {
			case <-ctx.Done():
				return false, fmt.Sprintf("restart count rose on %d of %d pod(s)", done, len(pods))
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return inj, nil
}

// Revert does nothing: kubelet restarts the container.
func (f *containerKill) Revert(context.Context) error { return nil }
