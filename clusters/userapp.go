package clusters

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/ptr"

	"github.com/aftershock-dev/aftershock/clusters/appsource"
)

// UserApp is a user's application, rendered to objects (clusters/appsource),
// deployed into a scenario's namespace.
type UserApp struct {
	Namespace string // required
	Objects   []*unstructured.Unstructured
	// Service is the Service load goes through ("" = the only one); Port its
	// port, by name or number ("" = its only port).
	Service, Port string
	// Images were loaded into the nodes: containers that use them get
	// imagePullPolicy IfNotPresent (nothing can be pulled here).
	Images []string
	// AllowClusterScoped permits cluster-scoped objects; they are labelled
	// with the namespace and deleted with it (DeleteNamespace).
	AllowClusterScoped bool
	// Foreign is for a cluster aftershock did not create: the Service keeps
	// its type (no NodePort is published on this machine) and images are
	// pulled as the manifests say.
	Foreign bool
}

// Workload is a Deployment or StatefulSet.
type Workload struct {
	Kind, Name string
	Replicas   int32
}

func (w Workload) String() string { return w.Kind + "/" + w.Name }

// AppTarget is what load and faults aim at: a Service, the selector of its
// pods, the workloads that run them and the container port it reaches.
type AppTarget struct {
	Service       string
	Port          int32 // the Service port
	ContainerPort int32 // the port the pods listen on (0 when named and unresolved)
	Selector      string
	Workloads     []Workload
	// Info describes what was deployed, for the report.
	Info string
}

// Replicas is the desired pod count over the workloads.
func (t AppTarget) Replicas() int32 {
	var n int32
	for _, w := range t.Workloads {
		n += w.Replicas
	}
	return n
}

// NamespaceLabel marks cluster-scoped objects deployed for a scenario
// namespace, so that they go with it.
const NamespaceLabel = "aftershock.dev/namespace"

// FindService returns the Service among objs that load goes through: the
// one named, or the only one. port picks the port by name or number ("":
// the only one). Errors say what there is to choose from.
func FindService(objs []*unstructured.Unstructured, svcName, port string) (*corev1.Service, *corev1.ServicePort, error) {
	var svcs []*corev1.Service
	var names []string
	for _, o := range objs {
		if o.GetKind() != "Service" || o.GetAPIVersion() != "v1" {
			continue
		}
		var s corev1.Service
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &s); err != nil {
			return nil, nil, fmt.Errorf("Service %s: %w", o.GetName(), err)
		}
		svcs = append(svcs, &s)
		names = append(names, s.Name)
	}
	sort.Strings(names)
	var svc *corev1.Service
	switch {
	case len(svcs) == 0:
		return nil, nil, errors.New("the app has no Service to send load through")
	case svcName == "" && len(svcs) > 1:
		return nil, nil, fmt.Errorf("the app has %d Services (%s): name one", len(svcs), strings.Join(names, ", "))
	case svcName == "":
		svc = svcs[0]
	default:
		for _, s := range svcs {
			if s.Name == svcName {
				svc = s
			}
		}
		if svc == nil {
			return nil, nil, fmt.Errorf("no Service %q in the app (it has: %s)", svcName, strings.Join(names, ", "))
		}
	}
	if len(svc.Spec.Selector) == 0 {
		return nil, nil, fmt.Errorf("Service %s has no selector: aftershock finds the pods behind it by its selector", svc.Name)
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return nil, nil, fmt.Errorf("Service %s is headless (clusterIP: None): it has no virtual IP or NodePort to load-balance through", svc.Name)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, nil, fmt.Errorf("Service %s is an ExternalName Service", svc.Name)
	}
	var ports []string
	for _, p := range svc.Spec.Ports {
		ports = append(ports, fmt.Sprintf("%s:%d", p.Name, p.Port))
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if (port == "" && len(svc.Spec.Ports) == 1) || port == p.Name || port == strconv.Itoa(int(p.Port)) {
			if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
				return nil, nil, fmt.Errorf("Service %s port %s is %s; HTTP load needs TCP", svc.Name, port, p.Protocol)
			}
			return svc, p, nil
		}
	}
	if port == "" {
		return nil, nil, fmt.Errorf("Service %s has %d ports (%s): name one as %s:PORT", svc.Name, len(svc.Spec.Ports), strings.Join(ports, ", "), svc.Name)
	}
	return nil, nil, fmt.Errorf("Service %s has no port %q (it has: %s)", svc.Name, port, strings.Join(ports, ", "))
}

// SameImage reports whether two image references name the same image
// ("nginx" and "docker.io/library/nginx:latest" do).
func SameImage(a, b string) bool {
	ra, err1 := name.ParseReference(a)
	rb, err2 := name.ParseReference(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return ra.Name() == rb.Name()
}

// pinPullPolicy sets imagePullPolicy IfNotPresent on containers of pod
// templates that use one of images.
func pinPullPolicy(u *unstructured.Unstructured, images []string) {
	path := []string{"spec", "template", "spec"}
	if u.GetKind() == "Pod" {
		path = []string{"spec"}
	}
	for _, field := range []string{"containers", "initContainers"} {
		cs, found, _ := unstructured.NestedSlice(u.Object, append(path, field)...)
		if !found {
			continue
		}
		for i, c := range cs {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			img, _ := m["image"].(string)
			for _, want := range images {
				if SameImage(img, want) {
					m["imagePullPolicy"] = string(corev1.PullIfNotPresent)
				}
			}
			cs[i] = m
		}
		_ = unstructured.SetNestedSlice(u.Object, cs, append(path, field)...)
	}
}

// DeployUserApp creates the namespace and every object of a (namespaced,
// cluster-scoped only when allowed), exposes the chosen Service on the
// published NodePort, waits until its Deployments and StatefulSets are
// rolled out and returns what load and faults aim at.
func (c *Cluster) DeployUserApp(ctx context.Context, a UserApp) (AppTarget, error) {
	if a.Namespace == "" {
		return AppTarget{}, errors.New("deploy app: namespace required")
	}
	if err := appsource.Check(a.Objects, a.Namespace, a.AllowClusterScoped); err != nil {
		return AppTarget{}, fmt.Errorf("deploy app: %w", err)
	}
	svc, port, err := FindService(a.Objects, a.Service, a.Port)
	if err != nil {
		return AppTarget{}, fmt.Errorf("deploy app: %w", err)
	}
	if c.AppPort == 0 && !a.Foreign {
		return AppTarget{}, fmt.Errorf("deploy app: cluster %q publishes no port on 127.0.0.1 for load from this machine", c.Name)
	}
	if err := c.ensureNamespace(ctx, a.Namespace); err != nil {
		return AppTarget{}, err
	}
	mapper, dyn, err := c.dynamicClients()
	if err != nil {
		return AppTarget{}, fmt.Errorf("deploy app: %w", err)
	}
	objs := installSorted(a.Objects)
	for _, o := range objs {
		ri, namespaced, err := c.place(a, o, svc.Name, port, mapper, dyn)
		if err != nil {
			return AppTarget{}, fmt.Errorf("deploy app: %w", err)
		}
		if !namespaced {
			if !a.AllowClusterScoped {
				return AppTarget{}, fmt.Errorf("deploy app: %s is cluster-scoped; allow it with app.allowClusterScoped: true", appsource.Ref(o))
			}
			// created only when absent: an existing one is not ours
			if _, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{}); err == nil {
				return AppTarget{}, fmt.Errorf("deploy app: cluster-scoped %s already exists on cluster %q and was not created by this run: aftershock neither changes nor deletes it; rename it in the app or remove it from the cluster", appsource.Ref(o), c.Name)
			} else if !apierrors.IsNotFound(err) {
				return AppTarget{}, fmt.Errorf("deploy app: look for %s: %w", appsource.Ref(o), err)
			}
		}
		if _, err := ri.Create(ctx, o, metav1.CreateOptions{FieldManager: "aftershock"}); err != nil {
			return AppTarget{}, fmt.Errorf("deploy app: create %s: %w", appsource.Ref(o), err)
		}
	}
	t := AppTarget{Service: svc.Name, Port: port.Port, Selector: labels.SelectorFromSet(svc.Spec.Selector).String()}
	if port.TargetPort.Type == intstr.Int {
		t.ContainerPort = port.TargetPort.IntVal
	} else if port.TargetPort.StrVal == "" {
		t.ContainerPort = port.Port
	}
	t.Workloads, err = workloadsBehind(objs, svc.Spec.Selector)
	if err != nil {
		return AppTarget{}, fmt.Errorf("deploy app: %w", err)
	}
	if len(t.Workloads) == 0 {
		return AppTarget{}, fmt.Errorf("deploy app: no Deployment or StatefulSet runs pods that Service %s selects (%s)", svc.Name, t.Selector)
	}
	if t.ContainerPort == 0 {
		t.ContainerPort = namedPort(objs, svc.Spec.Selector, port.TargetPort.StrVal)
	}
	var ws []string
	for _, w := range t.Workloads {
		ws = append(ws, fmt.Sprintf("%s (%d)", w, w.Replicas))
		if err := c.WaitWorkloadReady(ctx, a.Namespace, w, 3*time.Minute); err != nil {
			return t, err
		}
	}
	t.Info = fmt.Sprintf("%d objects; Service %s port %d -> pods %s port %d; %s", len(objs), svc.Name, port.Port, t.Selector, t.ContainerPort, strings.Join(ws, ", "))
	return t, nil
}

// place readies o for the cluster as the scenario deploys it (images it
// loaded not pulled, the load's Service on the published NodePort, the
// scenario's label, its namespace) and returns where it goes.
func (c *Cluster) place(a UserApp, o *unstructured.Unstructured, svc string, port *corev1.ServicePort, mapper meta.RESTMapper, dyn dynamic.Interface) (dynamic.ResourceInterface, bool, error) {
	if len(a.Images) > 0 && !a.Foreign {
		pinPullPolicy(o, a.Images)
	}
	if o.GetKind() == "Service" && o.GetName() == svc && !a.Foreign {
		exposeNodePort(o, port.Name, port.Port, c.AppNodePort())
	}
	gvk := o.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, false, fmt.Errorf("%s (%s): the cluster does not serve this kind: %w", appsource.Ref(o), o.GetAPIVersion(), err)
	}
	// every object carries the scenario's label: only labelled objects
	// are ever deleted
	l := o.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l[NamespaceLabel] = a.Namespace
	o.SetLabels(l)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		o.SetNamespace(a.Namespace)
		return dyn.Resource(m.Resource).Namespace(a.Namespace), true, nil
	}
	return dyn.Resource(m.Resource), false, nil
}

// UpgradeUserApp applies a's objects (a new render of the app deployed
// in a.Namespace) as the new state, what `helm upgrade` does to a release:
// every namespaced object server-side applied (created when new, changed
// where it differs); it returns how many were applied. Cluster-scoped
// objects are left as deployed, and objects the new render drops are not
// deleted (they go with the namespace).
func (c *Cluster) UpgradeUserApp(ctx context.Context, a UserApp) (int, error) {
	svc, port, err := FindService(a.Objects, a.Service, a.Port)
	if err != nil {
		return 0, fmt.Errorf("upgrade app: %w", err)
	}
	mapper, dyn, err := c.dynamicClients()
	if err != nil {
		return 0, fmt.Errorf("upgrade app: %w", err)
	}
	n := 0
	for _, o := range installSorted(a.Objects) {
		ri, namespaced, err := c.place(a, o, svc.Name, port, mapper, dyn)
		if err != nil {
			return n, fmt.Errorf("upgrade app: %w", err)
		}
		if !namespaced {
			continue
		}
		b, err := o.MarshalJSON()
		if err != nil {
			return n, fmt.Errorf("upgrade app: %s: %w", appsource.Ref(o), err)
		}
		if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, b, metav1.PatchOptions{FieldManager: "aftershock", Force: ptr.To(true)}); err != nil {
			return n, fmt.Errorf("upgrade app: apply %s: %w", appsource.Ref(o), err)
		}
		n++
	}
	return n, nil
}

// dynamicClients are what acting on objects of any kind needs: a REST
// mapper from the cluster's discovery and a dynamic client.
func (c *Cluster) dynamicClients() (meta.RESTMapper, dynamic.Interface, error) {
	dyn, err := dynamic.NewForConfig(c.REST)
	if err != nil {
		return nil, nil, err
	}
	return restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Clientset.Discovery())), dyn, nil
}

// installSorted is a copy of objs (each object copied: placing them
// changes them) in the order they are installed.
func installSorted(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopy()
	}
	sort.SliceStable(out, func(i, j int) bool { return installOrder(out[i].GetKind()) < installOrder(out[j].GetKind()) })
	return out
}

// installOrder puts what others need first (as Helm does).
func installOrder(kind string) int {
	order := []string{"Namespace", "CustomResourceDefinition", "PriorityClass", "ServiceAccount", "Secret", "ConfigMap", "StorageClass",
		"PersistentVolume", "PersistentVolumeClaim", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service"}
	for i, k := range order {
		if k == kind {
			return i
		}
	}
	return len(order)
}

// exposeNodePort makes the Service a NodePort Service whose chosen port is
// the published nodePort (other ports get whatever the cluster assigns).
func exposeNodePort(u *unstructured.Unstructured, portName string, port, nodePort int32) {
	if t, _, _ := unstructured.NestedString(u.Object, "spec", "type"); t != string(corev1.ServiceTypeLoadBalancer) {
		_ = unstructured.SetNestedField(u.Object, string(corev1.ServiceTypeNodePort), "spec", "type")
	}
	ps, _, _ := unstructured.NestedSlice(u.Object, "spec", "ports")
	for i, p := range ps {
		m, ok := p.(map[string]any)
		if !ok {
			continue
		}
		delete(m, "nodePort")
		n, _ := m["name"].(string)
		if n == portName && toInt(m["port"]) == int64(port) {
			m["nodePort"] = int64(nodePort)
		}
		ps[i] = m
	}
	_ = unstructured.SetNestedSlice(u.Object, ps, "spec", "ports")
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case int:
		return int64(x)
	}
	return -1
}

// workloadsBehind lists the Deployments and StatefulSets whose pods sel
// selects.
func workloadsBehind(objs []*unstructured.Unstructured, sel map[string]string) ([]Workload, error) {
	s := labels.SelectorFromSet(sel)
	var out []Workload
	for _, o := range objs {
		if o.GetKind() != "Deployment" && o.GetKind() != "StatefulSet" {
			continue
		}
		l, _, _ := unstructured.NestedStringMap(o.Object, "spec", "template", "metadata", "labels")
		if !s.Matches(labels.Set(l)) {
			continue
		}
		r := int64(1) // Kubernetes' default
		if v, found, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "replicas"); found {
			if n := toInt(v); n >= 0 {
				r = n
			}
		}
		out = append(out, Workload{Kind: o.GetKind(), Name: o.GetName(), Replicas: int32(r)})
	}
	return out, nil
}

// namedPort resolves a named target port in the pod templates sel selects.
func namedPort(objs []*unstructured.Unstructured, sel map[string]string, port string) int32 {
	s := labels.SelectorFromSet(sel)
	for _, o := range objs {
		l, _, _ := unstructured.NestedStringMap(o.Object, "spec", "template", "metadata", "labels")
		if !s.Matches(labels.Set(l)) {
			continue
		}
		cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range cs {
			m, _ := c.(map[string]any)
			ps, _ := m["ports"].([]any)
			for _, p := range ps {
				pm, _ := p.(map[string]any)
				if pm["name"] == port {
					return int32(toInt(pm["containerPort"]))
				}
			}
		}
	}
	return 0
}

// WaitWorkloadReady waits until a Deployment is rolled out or a
// StatefulSet has every replica ready and updated.
func (c *Cluster) WaitWorkloadReady(ctx context.Context, ns string, w Workload, timeout time.Duration) error {
	if w.Kind == "Deployment" {
		return c.WaitRolledOut(ctx, ns, w.Name, timeout)
	}
	var last string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		s, err := c.Clientset.AppsV1().StatefulSets(ns).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		want := ptr.Deref(s.Spec.Replicas, 1)
		last = fmt.Sprintf("ready %d, updated %d of %d", s.Status.ReadyReplicas, s.Status.UpdatedReplicas, want)
		return s.Generation <= s.Status.ObservedGeneration && s.Status.ReadyReplicas == want && s.Status.Replicas == want, nil
	})
	if err != nil {
		return fmt.Errorf("statefulset %s/%s not ready within %s (%s): %w", ns, w.Name, timeout, last, err)
	}
	return nil
}

// WaitEndpointsReady waits until the Service's EndpointSlices list want
// ready endpoints (readiness without traffic, for apps that name no pod).
func (c *Cluster) WaitEndpointsReady(ctx context.Context, ns, svc string, want int, timeout time.Duration) error {
	got := 0
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		l, err := c.Clientset.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + svc})
		if err != nil {
			return false, nil
		}
		got = 0
		for _, s := range l.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready == nil || *e.Conditions.Ready {
					got++
				}
			}
		}
		return got >= want, nil
	})
	if err != nil {
		return fmt.Errorf("service %s/%s: %d of %d endpoints ready after %s: %w", ns, svc, got, want, timeout, err)
	}
	return nil
}

// DeleteClusterScoped deletes the cluster-scoped objects of objs deployed
// for ns: only those whose live object carries NamespaceLabel=ns (an object
// of the same name that this scenario did not create is never deleted).
func (c *Cluster) DeleteClusterScoped(ctx context.Context, ns string, objs []*unstructured.Unstructured) error {
	mapper, dyn, err := c.dynamicClients()
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range objs {
		if !appsource.ClusterScoped(o.GetKind()) {
			continue
		}
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ri := dyn.Resource(m.Resource)
		live, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("look for %s: %w", appsource.Ref(o), err))
			continue
		}
		if live.GetLabels()[NamespaceLabel] != ns {
			continue // not created for this scenario: never deleted
		}
		// delete exactly the object looked at (a same-named one made since is not ours)
		uid := live.GetUID()
		if err := ri.Delete(ctx, o.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", appsource.Ref(o), err))
		}
	}
	return errors.Join(errs...)
}

// LoadImages loads images into every node of a kind cluster: each is a
// docker-save or OCI archive file (path) or an image in the local Docker
// engine (saved first).
func (c *Cluster) LoadImages(ctx context.Context, images []string, workDir string) error {
	for i, img := range images {
		if st, err := os.Stat(img); err == nil && !st.IsDir() {
			if err := c.LoadImage(ctx, AppImage{Ref: img, Archive: img}); err != nil {
				return fmt.Errorf("image %s: %w", img, err)
			}
			continue
		}
		if _, err := dockerOutput(ctx, "image", "inspect", "--format", "{{.Id}}", img); err != nil {
			return fmt.Errorf("image %q: not a file and not in the local Docker engine (docker build or docker load it first)", img)
		}
		archive := filepath.Join(workDir, fmt.Sprintf("image-%d.tar", i))
		if _, err := dockerOutput(ctx, "image", "save", "-o", archive, img); err != nil {
			return fmt.Errorf("image %q: %w", img, err)
		}
		err := c.LoadImage(ctx, AppImage{Ref: img, Archive: archive})
		os.Remove(archive)
		if err != nil {
			return fmt.Errorf("image %s: %w", img, err)
		}
	}
	return nil
}

// ensureNamespace creates ns (labelled as aftershock's) and waits for its
// default service account.
func (c *Cluster) ensureNamespace(ctx context.Context, ns string) error {
	cs := c.Clientset
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "aftershock"}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("deploy app: namespace %s: %w", ns, err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		return fmt.Errorf("deploy app: namespace %s has no default service account: %w", ns, err)
	}
	return nil
}

// ScenarioNamespaceSelector selects the namespaces runs create (each
// scenario's own, labelled by ensureNamespace), not those of aftershock's
// components (the Ingress controller's, metrics-server's: labelled
// aftershock.dev/component), which only their own uninstall may remove:
// metrics-server's namespace deleted before its APIService leaves the
// cluster unable to delete any namespace.
const ScenarioNamespaceSelector = ManagedSelector + ",!" + ComponentLabel

// ManagedSelector selects everything aftershock labelled as its own.
const ManagedSelector = "app.kubernetes.io/managed-by=aftershock"

// ComponentLabel marks what belongs to a component aftershock installs into
// its clusters (its value: which).
const ComponentLabel = "aftershock.dev/component"

// DeleteScenarioNamespaces deletes every namespace a run created (found by
// label; a killed run leaves its namespace and the NodePort its Service
// holds) and the cluster-scoped objects deployed with them, and waits until
// they are gone. It returns what it deleted; idempotent.
func (c *Cluster) DeleteScenarioNamespaces(ctx context.Context) ([]string, error) {
	l, err := c.Clientset.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: ScenarioNamespaceSelector})
	if err != nil {
		return nil, fmt.Errorf("list scenario namespaces: %w", err)
	}
	var done []string
	var errs []error
	for _, ns := range l.Items {
		if ns.Name == "kube-system" || ns.Name == "default" {
			continue
		}
		if err := c.DeleteNamespace(ctx, ns.Name, 2*time.Minute); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, "namespace "+ns.Name)
	}
	if c.REST == nil {
		return done, errors.Join(errs...)
	}
	// cluster-scoped objects of own apps carry NamespaceLabel
	mapper, dyn, err := c.dynamicClients()
	if err != nil {
		return done, errors.Join(append(errs, err)...)
	}
	for kind := range appsource.ClusterScopedKinds() {
		if kind == "Namespace" || kind == "Node" {
			continue
		}
		ms, err := mapper.RESTMappings(schema.GroupKind{Group: appsource.ClusterScopedKinds()[kind], Kind: kind})
		if err != nil || len(ms) == 0 {
			continue
		}
		ri := dyn.Resource(ms[0].Resource)
		objs, err := ri.List(ctx, metav1.ListOptions{LabelSelector: NamespaceLabel})
		if err != nil {
			continue
		}
		for _, o := range objs.Items {
			if err := ri.Delete(ctx, o.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
				continue
			}
			done = append(done, fmt.Sprintf("%s/%s", kind, o.GetName()))
		}
	}
	return done, errors.Join(errs...)
}

// Workers counts the cluster's worker nodes (those without the
// control-plane role).
func (c *Cluster) Workers(ctx context.Context) (int, error) {
	l, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "!node-role.kubernetes.io/control-plane"})
	if err != nil {
		return 0, fmt.Errorf("count workers: %w", err)
	}
	return len(l.Items), nil
}

// NodeMonitorGracePeriod reads the cluster's node-monitor-grace-period from
// its kube-controller-manager's command line (kubeadm and kind run it as a
// static pod): Kubernetes' 40s when the flag is absent.
func (c *Cluster) NodeMonitorGracePeriod(ctx context.Context) (time.Duration, error) {
	pods, err := c.Clientset.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "component=kube-controller-manager"})
	if err != nil {
		return 0, fmt.Errorf("read node-monitor-grace-period: %w", err)
	}
	if len(pods.Items) == 0 {
		return 0, errors.New("read node-monitor-grace-period: no kube-controller-manager pod in kube-system (a managed control plane?)")
	}
	for _, ctr := range pods.Items[0].Spec.Containers {
		for _, a := range append(append([]string{}, ctr.Command...), ctr.Args...) {
			if v, ok := strings.CutPrefix(a, "--node-monitor-grace-period="); ok {
				d, err := time.ParseDuration(v)
				if err != nil {
					return 0, fmt.Errorf("read node-monitor-grace-period: %q: %w", v, err)
				}
				return d, nil
			}
		}
	}
	return 40 * time.Second, nil
}

// Apply server-side applies objs as they are (each in its own namespace,
// cluster-scoped ones as such), in install order, as field manager
// "aftershock": how aftershock installs a component of its own (e.g.
// metrics-server), not a user's app.
func (c *Cluster) Apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	mapper, dyn, err := c.dynamicClients()
	if err != nil {
		return err
	}
	for _, o := range installSorted(objs) {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("apply %s: %w", appsource.Ref(o), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		b, err := o.MarshalJSON()
		if err != nil {
			return fmt.Errorf("apply %s: %w", appsource.Ref(o), err)
		}
		if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, b, metav1.PatchOptions{FieldManager: "aftershock", Force: ptr.To(true)}); err != nil {
			return fmt.Errorf("apply %s: %w", appsource.Ref(o), err)
		}
	}
	return nil
}

// DeleteObjects deletes objs (absent ones are no error), in the reverse of
// install order, and does not wait for them to be gone.
func (c *Cluster) DeleteObjects(ctx context.Context, objs []*unstructured.Unstructured) error {
	mapper, dyn, err := c.dynamicClients()
	if err != nil {
		return err
	}
	sorted := installSorted(objs)
	var errs []error
	for i := len(sorted) - 1; i >= 0; i-- {
		o := sorted[i]
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			if meta.IsNoMatchError(err) {
				continue // its kind is not served: nothing of it to delete
			}
			errs = append(errs, fmt.Errorf("delete %s: %w", appsource.Ref(o), err))
			continue
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		if err := ri.Delete(ctx, o.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", appsource.Ref(o), err))
		}
	}
	return errors.Join(errs...)
}
