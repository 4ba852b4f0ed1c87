package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/aftershock-dev/aftershock/report"
)

// Labels of load pods: faults never pick them (see faults), and they live
// in the scenario's namespace, so they go with it (and with `aftershock
// clean --keep`).
const (
	LabelRole = "aftershock.dev/role"
	RoleLoad  = "load"
)

// EnvRole names the multi-call role a container runs (clusters/multicall).
const EnvRole = "AFTERSHOCK_ROLE"

// PodLoad is load sent from pods inside the cluster: Pods pods of Image
// (the aftershock executable's image), each sending its share of
// Spec.Rate to Spec.URL, a Service's in-cluster name.
type PodLoad struct {
	Client    kubernetes.Interface
	Namespace string
	Image     string
	Pods      int
	Spec      PodSpec // Rate and RampFrom are the totals
	// NodeSelector pins the load pods (e.g. to the control-plane node when
	// node faults are planned); empty spreads them over every node.
	NodeSelector map[string]string
	// Name prefixes the pods' names (default "load").
	Name string
}

// PodOutcome is what one load pod delivered.
type PodOutcome struct {
	Pod      string
	Node     string
	Rate     int // its share of the rate
	Samples  int // samples received from it
	Sent     int // requests it says it sent (its end line); -1 when it never said
	Complete bool
	Lost     string // why its stream ended early; empty when Complete
	// Conns are its held connections' changes (WebSocket load), numbered
	// from 0 within the pod.
	Conns []report.ConnEvent
}

// LoadPods are started load pods, ready and waiting for their start.
type LoadPods struct {
	p      PodLoad
	names  []string
	rates  []int
	nodes  map[string]string
	closed sync.Once
}

// share splits total over n as evenly as integers allow.
func share(total, n, i int) int {
	s := total / n
	if i < total%n {
		s++
	}
	return s
}

// podSpec is load pod i's share of the attack.
func (p PodLoad) podSpec(i int) PodSpec {
	spec := p.Spec
	spec.Rate = share(p.Spec.Rate, p.Pods, i)
	spec.RampFrom = share(p.Spec.RampFrom, p.Pods, i)
	if len(p.Spec.Shape) > 0 {
		spec.Shape = p.Spec.Shape.Scale(1 / float64(p.Pods))
	}
	return spec
}

// Prepare creates the load pods and waits until every one is ready (at
// most timeout). On error the pods already created are deleted.
func (p PodLoad) Prepare(ctx context.Context, timeout time.Duration) (*LoadPods, error) {
	if p.Pods < 1 {
		return nil, fmt.Errorf("load pods: %d: need at least 1", p.Pods)
	}
	if p.Spec.Rate < p.Pods {
		return nil, fmt.Errorf("load pods: rate %d/s over %d pods: each pod needs at least 1/s", p.Spec.Rate, p.Pods)
	}
	if err := CheckServiceHost(hostOf(p.Spec.URL)); err != nil {
		return nil, fmt.Errorf("load pods: %w", err)
	}
	if p.Name == "" {
		p.Name = "load"
	}
	lp := &LoadPods{p: p, nodes: map[string]string{}}
	for i := range p.Pods {
		spec := p.podSpec(i)
		env, err := json.Marshal(spec)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("%s-%d", p.Name, i)
		pod := p.pod(name, string(env))
		if _, err := p.Client.CoreV1().Pods(p.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			lp.Delete(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("create load pod %s/%s: %w", p.Namespace, name, err)
		}
		lp.names = append(lp.names, name)
		lp.rates = append(lp.rates, spec.Rate)
	}
	deadline := time.Now().Add(timeout)
	for {
		ready, why, err := lp.ready(ctx)
		if err != nil || ready {
			if err != nil {
				lp.Delete(context.WithoutCancel(ctx))
			}
			return lp, err
		}
		if time.Now().After(deadline) {
			lp.Delete(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("load pods not ready within %s: %s", timeout, why)
		}
		select {
		case <-ctx.Done():
			lp.Delete(context.WithoutCancel(ctx))
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func (p PodLoad) pod(name, spec string) *corev1.Pod {
	labels := map[string]string{LabelRole: RoleLoad, "app.kubernetes.io/managed-by": "aftershock"}
	one := int64(1)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.Namespace, Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever, // a lost load pod stays lost: never a silent gap
			TerminationGracePeriodSeconds: &one,
			NodeSelector:                  p.NodeSelector,
			Tolerations:                   []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
				WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelRole: RoleLoad}}}},
			Containers: []corev1.Container{{
				Name: "load", Image: p.Image, ImagePullPolicy: corev1.PullIfNotPresent,
				Env:   []corev1.EnvVar{{Name: EnvRole, Value: "aftershock-load"}, {Name: EnvPodSpec, Value: spec}},
				Ports: []corev1.ContainerPort{{Name: "control", ContainerPort: PodControlPort}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(PodControlPort)}},
					PeriodSeconds: 1},
				Resources: PodResources(),
			}},
		},
	}
}

func (lp *LoadPods) ready(ctx context.Context) (bool, string, error) {
	var waiting []string
	for _, n := range lp.names {
		pod, err := lp.p.Client.CoreV1().Pods(lp.p.Namespace).Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			return false, "", fmt.Errorf("load pod %s: %w", n, err)
		}
		if pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
			return false, "", fmt.Errorf("load pod %s ended before its start (%s): %s", n, pod.Status.Phase, lp.tail(ctx, n))
		}
		lp.nodes[n] = pod.Spec.NodeName
		ok := false
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		if !ok {
			why := string(pod.Status.Phase)
			for _, cs := range pod.Status.ContainerStatuses {
				if cs.State.Waiting != nil {
					why = cs.State.Waiting.Reason + ": " + cs.State.Waiting.Message
				}
			}
			waiting = append(waiting, n+" "+why)
		}
	}
	return len(waiting) == 0, strings.Join(waiting, "; "), nil
}

// tail is the last lines of a pod's log, for an error message.
func (lp *LoadPods) tail(ctx context.Context, name string) string {
	n := int64(5)
	b, err := lp.p.Client.CoreV1().Pods(lp.p.Namespace).GetLogs(name, &corev1.PodLogOptions{TailLines: &n}).DoRaw(ctx)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return strings.TrimSpace(string(b))
}

// Names are the load pods' names and Nodes where each runs.
func (lp *LoadPods) Names() []string { return lp.names }

// Node is where load pod name runs.
func (lp *LoadPods) Node(name string) string { return lp.nodes[name] }

// Start tells every load pod to start at `at` (through the API server's
// pod proxy).
func (lp *LoadPods) Start(ctx context.Context, at time.Time) error {
	var errs []error
	for _, n := range lp.names {
		_, err := lp.p.Client.CoreV1().Pods(lp.p.Namespace).ProxyGet("http", n, strconv.Itoa(PodControlPort), "start",
			map[string]string{"at": strconv.FormatInt(at.UnixNano(), 10)}).DoRaw(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("start load pod %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// Stream follows every load pod's log until each ends (or ctx is done),
// handing every sample to sink (from several goroutines: sink must be
// safe for that). It returns each pod's outcome, sorted by pod name.
func (lp *LoadPods) Stream(ctx context.Context, sink func(report.Sample)) []PodOutcome {
	out := make([]PodOutcome, len(lp.names))
	var wg sync.WaitGroup
	for i, n := range lp.names {
		out[i] = PodOutcome{Pod: n, Node: lp.nodes[n], Rate: lp.rates[i], Sent: -1}
		wg.Add(1)
		go func(o *PodOutcome) {
			defer wg.Done()
			lp.follow(ctx, o, sink)
		}(&out[i])
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Pod < out[j].Pod })
	return out
}

func (lp *LoadPods) follow(ctx context.Context, o *PodOutcome, sink func(report.Sample)) {
	rc, err := lp.p.Client.CoreV1().Pods(lp.p.Namespace).GetLogs(o.Pod, &corev1.PodLogOptions{Container: "load", Follow: true}).Stream(ctx)
	if err != nil {
		o.Lost = "log stream: " + err.Error()
		return
	}
	defer rc.Close()
	consume(ctx, rc, o, sink)
}

// consume reads one load pod's stream into o, handing samples to sink.
func consume(ctx context.Context, r io.Reader, o *PodOutcome, sink func(report.Sample)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "S "):
			s, err := ParseSampleLine(line)
			if err != nil {
				o.Lost = err.Error()
				return
			}
			o.Samples++
			sink(s)
		case strings.HasPrefix(line, "C "):
			e, err := ParseConnLine(line)
			if err != nil {
				o.Lost = err.Error()
				return
			}
			o.Conns = append(o.Conns, e)
		case strings.HasPrefix(line, "E "):
			f := strings.Fields(line)
			if len(f) >= 2 {
				o.Sent, _ = strconv.Atoi(f[1])
			}
			o.Complete = o.Sent == o.Samples
			if !o.Complete {
				o.Lost = fmt.Sprintf("it sent %d requests, %d samples arrived", o.Sent, o.Samples)
			}
			return
		case strings.HasPrefix(line, "X "):
			o.Lost = fmt.Sprintf("it ended early after %d samples: %s", o.Samples, strings.TrimPrefix(line, "X "))
			return
		}
	}
	switch err := sc.Err(); {
	case err != nil:
		o.Lost = fmt.Sprintf("log stream broke after %d samples: %v", o.Samples, err)
	case ctx.Err() != nil:
		o.Lost = fmt.Sprintf("stopped after %d samples: %v", o.Samples, ctx.Err())
	default:
		o.Lost = fmt.Sprintf("its log ended after %d samples without an end line (the pod died or was deleted)", o.Samples)
	}
}

// Delete removes the load pods (idempotent).
func (lp *LoadPods) Delete(ctx context.Context) error {
	var errs []error
	lp.closed.Do(func() {
		zero := int64(0)
		for _, n := range lp.names {
			err := lp.p.Client.CoreV1().Pods(lp.p.Namespace).Delete(ctx, n, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}

// PodResources are a load pod's: a CPU request and no limit. Without a
// request a pod is BestEffort, and the kubelet puts every BestEffort pod of
// a node under one cgroup of cpu.shares 2 (the app's pods, Burstable, get
// their requests' worth): when the node's CPU is contended (a rollout
// starting pods on it) the load pod, the measuring instrument, waits
// behind everything and its requests time out on its own run queue, a
// failure the app never caused. No limit: a CFS quota would pause it
// every period it ran over.
func PodResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(PodCPURequest), corev1.ResourceMemory: resource.MustParse("32Mi"),
	}}
}

// PodCPURequest is a load pod's CPU request: about what one load pod at
// a few hundred requests a second uses.
const PodCPURequest = "100m"
