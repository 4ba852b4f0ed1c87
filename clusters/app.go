package clusters

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aftershock-dev/aftershock/clusters/sampleapp"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/kubectl/pkg/util/podutils"
	"k8s.io/utils/ptr"
)

// AppServicePort is the sample app Service's port (in-cluster clients use
// it; the host uses the NodePort).
const AppServicePort = sampleapp.ServicePort

// Response headers the sample app sets.
const (
	HeaderPod  = sampleapp.HeaderPod
	HeaderNode = sampleapp.HeaderNode
)

// App describes the sample app deployment. Zero values are documented per
// field.
type App struct {
	Namespace string // required
	Name      string // default "sampleapp"
	Image     string // required (BuildAppImage)
	Replicas  int32  // default 3
	// Args are sampleapp flags, e.g. -latency=50ms, -error-rate=0.01, -graceful=false.
	Args []string
	// NoReadinessProbe removes the readiness probe (a fragile app).
	NoReadinessProbe bool
	// PDBMinAvailable creates a PodDisruptionBudget when > 0.
	PDBMinAvailable int32
	// TolerationSeconds for not-ready/unreachable nodes (default 10; Kubernetes' is 300).
	TolerationSeconds int64
	// TerminationGracePeriod (default 30s).
	TerminationGracePeriod time.Duration
	// NodePort of the Service (default AppNodePort, the published one).
	NodePort int32
	// Foreign is for a cluster aftershock did not create: the Service is a
	// ClusterIP one (no NodePort taken from the cluster's range) and the image
	// is pulled when the node lacks it (Image names the user's registry).
	Foreign bool
	// Headless adds a headless Service, HeadlessName, whose DNS name
	// resolves to the ready pods' addresses (what a gRPC client balancing
	// round robin over the pods resolves).
	Headless bool
	// Autoscale puts a HorizontalPodAutoscaler on CPU over the app, created
	// once it has rolled out (Replicas should be Min); each pod then
	// requests AutoscaleCPURequest of CPU, what utilization is measured
	// against. The metrics API must be served (see clusters/metrics).
	Autoscale *Autoscale
}

// Autoscale is a HorizontalPodAutoscaler's range and CPU target.
type Autoscale struct {
	Min, Max   int32
	CPUPercent int32 // target average CPU utilization, percent of the request
}

// AutoscaleCPURequest is the CPU each pod of an autoscaled sample app
// requests.
const AutoscaleCPURequest = "100m"

// hpa is the app's HorizontalPodAutoscaler (autoscaling/v2).
func (a App) hpa() *autoscalingv2.HorizontalPodAutoscaler {
	name := a.name()
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.Namespace, Labels: map[string]string{"app": name, "app.kubernetes.io/managed-by": "aftershock"}},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
			MinReplicas:    ptr.To(a.Autoscale.Min),
			MaxReplicas:    a.Autoscale.Max,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(a.Autoscale.CPUPercent)},
			}}},
		},
	}
}

// HeadlessName is the name of the app's headless Service (App.Headless).
func HeadlessName(app string) string { return app + "-pods" }

// headless is the app's headless Service: no ClusterIP, its DNS name is
// the ready pods' addresses, on the container port.
func (a App) headless() *corev1.Service {
	name := a.name()
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: HeadlessName(name), Namespace: a.Namespace,
			Labels: map[string]string{"app": name, "app.kubernetes.io/managed-by": "aftershock"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  map[string]string{"app": name},
			Ports:     []corev1.ServicePort{{Name: sampleapp.PortName, Port: sampleapp.Port, TargetPort: intstr.FromString(sampleapp.PortName)}},
		},
	}
}

// Selector is the label selector of the app's pods.
func (a App) Selector() string { return "app=" + a.name() }

func (a App) name() string {
	if a.Name == "" {
		return sampleapp.Name
	}
	return a.Name
}

func (a App) objects() (*appsv1.Deployment, *corev1.Service, *policyv1.PodDisruptionBudget) {
	labels := map[string]string{"app": a.name(), "app.kubernetes.io/managed-by": "aftershock"}
	return a.deployment(labels), a.service(labels), a.pdb(labels)
}

// container is the app's one container: the sample app's port, probes and
// small requests.
func (a App) container() corev1.Container {
	c := corev1.Container{
		Name:            "app",
		Image:           a.Image,
		ImagePullPolicy: corev1.PullNever, // loaded into the nodes
		Args:            a.Args,
		Ports:           []corev1.ContainerPort{{Name: sampleapp.PortName, ContainerPort: sampleapp.Port}},
		Env: []corev1.EnvVar{
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		},
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi"),
		}},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString(sampleapp.PortName)}},
			PeriodSeconds: 5, FailureThreshold: 3,
		},
	}
	if a.Foreign {
		c.ImagePullPolicy = corev1.PullIfNotPresent
	}
	if a.Autoscale != nil {
		c.Resources.Requests[corev1.ResourceCPU] = resource.MustParse(AutoscaleCPURequest)
	}
	if !a.NoReadinessProbe {
		c.ReadinessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString(sampleapp.PortName)}},
			PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1,
		}
	}
	return c
}

// deployment spreads the app's replicas over the schedulable workers and
// tolerates a lost node for TolerationSeconds.
func (a App) deployment(labels map[string]string) *appsv1.Deployment {
	name := a.name()
	replicas := a.Replicas
	if replicas == 0 {
		replicas = 3
	}
	tol := a.TolerationSeconds
	if tol == 0 {
		tol = 10
	}
	grace := int64(30)
	if a.TerminationGracePeriod > 0 {
		grace = int64(a.TerminationGracePeriod.Seconds())
	}
	c := a.container()
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.Namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers:                    []corev1.Container{c},
					TerminationGracePeriodSeconds: &grace,
					EnableServiceLinks:            ptr.To(false),
					// spread over the schedulable workers; cordoned or
					// unreachable (tainted) nodes do not count
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
						MaxSkew:           1,
						TopologyKey:       "kubernetes.io/hostname",
						WhenUnsatisfiable: corev1.DoNotSchedule,
						LabelSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
						NodeTaintsPolicy:  ptr.To(corev1.NodeInclusionPolicyHonor),
					}},
					Tolerations: []corev1.Toleration{
						{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &tol},
						{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &tol},
					},
				},
			},
		},
	}
}

// service is the app's NodePort Service (ClusterIP on a foreign cluster).
func (a App) service(labels map[string]string) *corev1.Service {
	name := a.name()
	nodePort := a.NodePort
	if nodePort == 0 {
		nodePort = AppNodePort
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.Namespace, Labels: labels},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeNodePort,
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: sampleapp.PortName, Port: AppServicePort, TargetPort: intstr.FromString(sampleapp.PortName), NodePort: nodePort}},
		},
	}
	if a.Foreign {
		svc.Spec.Type, svc.Spec.Ports[0].NodePort = corev1.ServiceTypeClusterIP, 0
	}
	return svc
}

// pdb is the app's PodDisruptionBudget, nil without PDBMinAvailable.
func (a App) pdb(labels map[string]string) *policyv1.PodDisruptionBudget {
	name := a.name()
	var pdb *policyv1.PodDisruptionBudget
	if a.PDBMinAvailable > 0 {
		min := intstr.FromInt32(a.PDBMinAvailable)
		pdb = &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.Namespace, Labels: labels},
			Spec: policyv1.PodDisruptionBudgetSpec{
				MinAvailable: &min,
				Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			},
		}
	}
	return pdb
}

// DeployApp creates the namespace (if missing), the app's Deployment,
// Service and PodDisruptionBudget, and waits until the Deployment is rolled
// out. Then use WaitTrafficReachesAll.
func (c *Cluster) DeployApp(ctx context.Context, a App) error {
	if a.Namespace == "" || a.Image == "" {
		return fmt.Errorf("deploy app: namespace %q and image %q are both required", a.Namespace, a.Image)
	}
	if err := c.ensureNamespace(ctx, a.Namespace); err != nil {
		return err
	}
	cs := c.Clientset
	if a.NodePort == 0 {
		a.NodePort = c.AppNodePort() // this view's published one
	}
	dep, svc, pdb := a.objects()
	if pdb != nil {
		if _, err := cs.PolicyV1().PodDisruptionBudgets(a.Namespace).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("deploy app: pdb: %w", err)
		}
	}
	if _, err := cs.CoreV1().Services(a.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("deploy app: service %s/%s (nodePort %d): %w", a.Namespace, svc.Name, svc.Spec.Ports[0].NodePort, err)
	}
	if a.Headless {
		h := a.headless()
		if _, err := cs.CoreV1().Services(a.Namespace).Create(ctx, h, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("deploy app: headless service %s/%s: %w", a.Namespace, h.Name, err)
		}
	}
	if _, err := cs.AppsV1().Deployments(a.Namespace).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("deploy app: deployment: %w", err)
	}
	if err := c.WaitRolledOut(ctx, a.Namespace, dep.Name, 3*time.Minute); err != nil {
		return err
	}
	if a.Autoscale != nil {
		if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers(a.Namespace).Create(ctx, a.hpa(), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("deploy app: horizontal pod autoscaler: %w", err)
		}
	}
	return nil
}

// WaitRolledOut waits until the Deployment's ready, updated and available
// replicas all equal the desired count.
func (c *Cluster) WaitRolledOut(ctx context.Context, ns, name string, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		d, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		want := ptr.Deref(d.Spec.Replicas, 1)
		s := d.Status
		last = fmt.Sprintf("ready %d, updated %d, available %d of %d", s.ReadyReplicas, s.UpdatedReplicas, s.AvailableReplicas, want)
		return d.Generation <= s.ObservedGeneration && s.ReadyReplicas == want && s.UpdatedReplicas == want && s.AvailableReplicas == want && s.Replicas == want, nil
	})
	if err != nil {
		err = fmt.Errorf("deployment %s/%s not rolled out within %s (%s): %w", ns, name, timeout, last, err)
		// pods that never start on a kind cluster: the machine's kind
		// nodes may be past the kernel's inotify limit (stop 31's CI)
		if h := c.inotifyHint(); h != "" {
			err = fmt.Errorf("%w\n(possible cause: %s)", err, h)
		}
		return err
	}
	return nil
}

// ReadyPods returns the names of the ready pods matching selector.
func (c *Cluster) ReadyPods(ctx context.Context, ns, selector string) ([]string, error) {
	pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		if podutils.IsPodReady(&p) {
			out = append(out, p.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// TrafficCheck is what WaitTrafficReachesAll observed.
type TrafficCheck struct {
	Pods     []string       // ready pods when traffic reached all of them
	Requests int            // requests sent
	Served   map[string]int // per pod, in the last round
	Took     time.Duration  // from the first request to every pod answering
}

// AppURL is the URL that reaches the app's Service through the published
// NodePort on 127.0.0.1.
func (c *Cluster) AppURL() (string, error) {
	if c.AppPort == 0 {
		return "", fmt.Errorf("cluster %q publishes no app port on 127.0.0.1", c.Name)
	}
	return fmt.Sprintf("http://127.0.0.1:%d/", c.AppPort), nil
}

// Probe sends one request to the app and returns the pod that served it
// ("" when the response names none, an error when no response came).
type Probe func(ctx context.Context) (pod string, err error)

// WaitTrafficReachesAll sends new-connection requests through the Service
// (bounded: at most maxRequests, at most timeout) until every ready pod has
// answered within one round of 20 requests per pod. Rollout status is not
// enough: kube-proxy programs the endpoints on each node with a lag. The
// requests are the sample app's (GET /, pod from its header).
func (c *Cluster) WaitTrafficReachesAll(ctx context.Context, ns, selector string, timeout time.Duration, maxRequests int) (TrafficCheck, error) {
	url, err := c.AppURL()
	if err != nil {
		return TrafficCheck{}, err
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	probe := func(ctx context.Context) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			return "", nil
		}
		return resp.Header.Get(HeaderPod), nil
	}
	return c.WaitTrafficReachesAllVia(ctx, ns, selector, probe, timeout, maxRequests)
}

// WaitTrafficReachesAllVia is WaitTrafficReachesAll with the request and
// attribution of probe (one new connection per call).
func (c *Cluster) WaitTrafficReachesAllVia(ctx context.Context, ns, selector string, probe Probe, timeout time.Duration, maxRequests int) (TrafficCheck, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	var (
		res     TrafficCheck
		ready   int
		lastErr error
	)
	for time.Now().Before(deadline) && res.Requests < maxRequests {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		pods, err := c.ReadyPods(ctx, ns, selector)
		ready = len(pods)
		if err != nil || len(pods) == 0 {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		served := map[string]int{}
		answered := 0
		for i := 0; i < 20*len(pods) && res.Requests < maxRequests && time.Now().Before(deadline); i++ {
			res.Requests++
			pod, err := probe(ctx)
			if err != nil {
				lastErr = err
				continue
			}
			answered++
			if pod != "" {
				served[pod]++
			}
		}
		all := true
		for _, p := range pods {
			if served[p] == 0 {
				all = false
			}
		}
		if all {
			res.Pods, res.Served, res.Took = pods, served, time.Since(start)
			return res, nil
		}
		res.Served = served
		if answered == 0 {
			// nothing answers yet (a refused connection fails at once):
			// wait rather than spend the request budget in a few seconds
			time.Sleep(time.Second)
		}
	}
	why := ""
	if lastErr != nil {
		why = fmt.Sprintf("; last error: %v", lastErr)
	}
	return res, fmt.Errorf("traffic did not reach every ready pod (%s) within %s / %d requests (%d requests sent, %d pods ready, last round: %s%s)",
		selector, timeout, maxRequests, res.Requests, ready, fmtServed(res.Served), why)
}

func fmtServed(m map[string]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	if len(parts) == 0 {
		return "none answered"
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// DeleteServices deletes every Service in ns at once, which frees their
// NodePorts for the next scenario.
func (c *Cluster) DeleteServices(ctx context.Context, ns string) error {
	svcs, err := c.Clientset.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list services in %s: %w", ns, err)
	}
	for _, s := range svcs.Items {
		if err := c.Clientset.CoreV1().Services(ns).Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete service %s/%s: %w", ns, s.Name, err)
		}
	}
	return nil
}

// DeleteNamespace deletes the app's Service at once (its NodePort is then
// free for the next scenario), its pods with a 1-second grace period (the
// run is over: nobody is sending them requests, and each would otherwise
// keep serving through its own shutdown delay, 3 s for the sample app, up
// to its grace period; their controllers go first), and the namespace, waiting until it is gone. The
// kubelet still stops every container: nothing is left on the nodes.
func (c *Cluster) DeleteNamespace(ctx context.Context, ns string, timeout time.Duration) error {
	return c.DeleteNamespaceThen(ctx, ns, timeout, nil)
}

// DeleteNamespaceThen is DeleteNamespace calling podsGone (when not nil)
// once the namespace has no pod left, before it waits for the namespace
// itself (the namespace controller takes another 3 to 8 s for the rest,
// which uses no node's CPU or port): a scenario gives the cluster to the
// next one there.
func (c *Cluster) DeleteNamespaceThen(ctx context.Context, ns string, timeout time.Duration, podsGone func()) error {
	cs := c.Clientset
	_ = c.DeleteServices(ctx, ns) // best effort: the namespace deletion removes them anyway
	// the workloads first (their pods are not recreated), then the pods:
	// best effort, as above; the namespace controller alone took ~12 s for
	// the sample app, this ~7 s
	bg, all := metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}, metav1.ListOptions{}
	apps := cs.AppsV1()
	_ = apps.Deployments(ns).DeleteCollection(ctx, bg, all)
	_ = apps.StatefulSets(ns).DeleteCollection(ctx, bg, all)
	_ = apps.DaemonSets(ns).DeleteCollection(ctx, bg, all)
	_ = apps.ReplicaSets(ns).DeleteCollection(ctx, bg, all)
	_ = cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](1)}, all)
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if podsGone != nil {
		err := wait.PollUntilContextCancel(wctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			return err == nil && len(pods.Items) == 0, nil
		})
		if err != nil {
			return fmt.Errorf("delete namespace %s: its pods not gone within %s: %w", ns, timeout, err)
		}
		podsGone()
	}
	err := wait.PollUntilContextCancel(wctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("delete namespace %s: not gone within %s: %w", ns, timeout, err)
	}
	return nil
}

// WaitSettled waits (at most timeout) until every node is Ready and every
// kube-system pod is Ready (or done): after a node was stopped, paused or
// cut off, its kubelet, kube-proxy and CNI pods take a while after the node
// is Ready again, and a scenario started before they are measures them.
// The error names what is not there yet.
func (c *Cluster) WaitSettled(ctx context.Context, timeout time.Duration) error {
	var missing []string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		missing = missing[:0]
		nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			missing = append(missing, "nodes: "+err.Error())
			return false, nil
		}
		for _, n := range nodes.Items {
			if !NodeReady(&n) {
				missing = append(missing, "node "+n.Name+" not Ready")
			}
		}
		pods, err := c.Clientset.CoreV1().Pods(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{})
		if err != nil {
			missing = append(missing, "kube-system pods: "+err.Error())
			return false, nil
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodSucceeded || p.DeletionTimestamp != nil {
				continue
			}
			if !podutils.IsPodReady(&p) {
				missing = append(missing, "pod kube-system/"+p.Name+" ("+p.Spec.NodeName+") not Ready")
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("cluster %s not settled within %s: %s", c.Name, timeout, strings.Join(missing, ", "))
	}
	return nil
}

// NodeReady reports a node's Ready condition.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
