// Package ingress puts a real Ingress controller in front of a scenario's
// app: Traefik (v3.6.12, built offline from the Go module proxy into a
// one-file image, cached), installed by aftershock with its own namespace,
// RBAC, IngressClass and NodePort Service published on 127.0.0.1, and one
// Ingress (a host rule) per scenario for the app's Service.
//
// The controller's namespace is aftershock's own, so faults may target its
// pods (kube-system stays refused).
package ingress

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/aftershock-dev/aftershock/clusters"
)

// Names of what Install creates.
const (
	Namespace = "aftershock-ingress"
	Name      = "aftershock-traefik"
	Class     = "aftershock"
	// Selector picks the controller's pods (a fault target).
	Selector = "app.kubernetes.io/name=" + Name
	// Port is the controller's web entry point in its pods.
	Port = 8000
	// HostSuffix makes each scenario's Ingress host: NAMESPACE + HostSuffix.
	HostSuffix = ".ingress.aftershock.test"
)

// Controller is an installed Ingress controller.
type Controller struct {
	Replicas int32
	Image    string
	// URL is where host load reaches it: http://127.0.0.1:PORT/.
	URL string
}

func labels() map[string]string {
	return map[string]string{"app.kubernetes.io/name": Name, "app.kubernetes.io/managed-by": "aftershock", clusters.ComponentLabel: "ingress"}
}

// Install installs (or updates to replicas) the controller in c and waits
// until every replica is ready. img must be loaded into the nodes (kind) or
// pullable.
func Install(ctx context.Context, c *clusters.Cluster, image string, replicas int32) (*Controller, error) {
	if c.IngressPort == 0 {
		return nil, fmt.Errorf("ingress: cluster %s publishes no Ingress port (NodePort %d); it was made by an older aftershock: delete it (`aftershock clean %s`) and let the run create one", c.Name, clusters.IngressNodePort, c.Name)
	}
	if replicas < 1 {
		replicas = 1
	}
	a := &applier{ctx: ctx, cs: c.Clientset}
	a.access()
	a.workload(image, replicas)
	if err := errors.Join(a.errs...); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, c, replicas, 2*time.Minute); err != nil {
		return nil, err
	}
	// a replica counts as ready in its Deployment before it is in the
	// Service's endpoints (and then in each node's kube-proxy)
	if err := c.WaitEndpointsReady(ctx, Namespace, Name, int(replicas), time.Minute); err != nil {
		return nil, fmt.Errorf("ingress controller: %w", err)
	}
	return &Controller{Replicas: replicas, Image: image, URL: fmt.Sprintf("http://127.0.0.1:%d/", c.IngressPort)}, nil
}

// applier creates the controller's objects, updating those that must follow
// this version (rules, the Deployment's spec), and gathers the errors.
type applier struct {
	ctx  context.Context
	cs   kubernetes.Interface
	errs []error
}

var createOpts = metav1.CreateOptions{}

func meta(name, ns string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels()}
}

// apply runs create; when the object exists it runs update (nil: keep it).
func (a *applier) apply(what string, create func() error, update func() error) {
	err := create()
	if apierrors.IsAlreadyExists(err) && update != nil {
		err = update()
	} else if apierrors.IsAlreadyExists(err) {
		err = nil
	}
	if err != nil {
		a.errs = append(a.errs, fmt.Errorf("ingress: %s: %w", what, err))
	}
}

// access applies the namespace, service account, read-only cluster role and
// its binding, and the IngressClass.
func (a *applier) access() {
	ctx, cs, co := a.ctx, a.cs, createOpts
	a.apply("namespace", func() error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: meta(Namespace, "")}, co)
		return err
	}, nil)
	a.apply("service account", func() error {
		_, err := cs.CoreV1().ServiceAccounts(Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: meta(Name, Namespace)}, co)
		return err
	}, nil)
	ro := []string{"get", "list", "watch"}
	role := &rbacv1.ClusterRole{ObjectMeta: meta(Name, ""), Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services", "secrets", "nodes"}, Verbs: ro},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: ro},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses", "ingressclasses"}, Verbs: ro},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses/status"}, Verbs: []string{"update"}},
	}}
	a.apply("cluster role", func() error { _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, co); return err }, func() error {
		cur, err := cs.RbacV1().ClusterRoles().Get(ctx, Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Rules = role.Rules
		_, err = cs.RbacV1().ClusterRoles().Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: meta(Name, ""),
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: Name, Namespace: Namespace}}}
	a.apply("cluster role binding", func() error { _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, co); return err }, nil)
	class := &networkingv1.IngressClass{ObjectMeta: meta(Class, ""), Spec: networkingv1.IngressClassSpec{Controller: "traefik.io/ingress-controller"}}
	a.apply("ingress class", func() error { _, err := cs.NetworkingV1().IngressClasses().Create(ctx, class, co); return err }, nil)
}

// workload applies the controller's Deployment (its spec updated to this
// image and replicas) and its NodePort Service.
func (a *applier) workload(image string, replicas int32) {
	ctx, cs, co := a.ctx, a.cs, createOpts
	dep := deployment(image, replicas)
	a.apply("deployment", func() error { _, err := cs.AppsV1().Deployments(Namespace).Create(ctx, dep, co); return err }, func() error {
		cur, err := cs.AppsV1().Deployments(Namespace).Get(ctx, Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec = dep.Spec
		_, err = cs.AppsV1().Deployments(Namespace).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	svc := &corev1.Service{ObjectMeta: meta(Name, Namespace), Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app.kubernetes.io/name": Name},
		Ports: []corev1.ServicePort{{Name: "web", Port: 80, TargetPort: intstr.FromString("web"), NodePort: clusters.IngressNodePort}},
	}}
	a.apply("service", func() error {
		// a Service's create allocates its NodePort before it finds the name
		// taken: look first
		if _, err := cs.CoreV1().Services(Namespace).Get(ctx, Name, metav1.GetOptions{}); err == nil {
			return nil
		}
		_, err := cs.CoreV1().Services(Namespace).Create(ctx, svc, co)
		return err
	}, nil)
}

// CPURequest is each Traefik replica's CPU request.
const CPURequest = "200m"

func deployment(image string, replicas int32) *appsv1.Deployment {
	l := labels()
	one := int64(1)
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("admin")}},
			PeriodSeconds: 1, FailureThreshold: 2}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace, Labels: l},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": Name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{
					ServiceAccountName:            Name,
					TerminationGracePeriodSeconds: &one,
					Containers: []corev1.Container{{
						Name: "traefik", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
						Args: []string{
							"--entryPoints.web.address=:8000",
							"--entryPoints.traefik.address=:8080",
							"--ping=true",
							"--providers.kubernetesingress=true",
							"--providers.kubernetesingress.ingressClass=" + Class,
							"--global.checkNewVersion=false",
							"--global.sendAnonymousUsage=false",
							"--log.level=ERROR",
						},
						Ports:          []corev1.ContainerPort{{Name: "web", ContainerPort: Port}, {Name: "admin", ContainerPort: 8080}},
						ReadinessProbe: probe("/ping"),
						LivenessProbe:  probe("/ping"),
						// a CPU request: BestEffort, the proxy every request
						// goes through would wait behind every other pod of its
						// node when the node is busy (loadgen.PodResources)
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: resource.MustParse(CPURequest), corev1.ResourceMemory: resource.MustParse("64Mi"),
						}},
					}},
				},
			},
		},
	}
}

func waitReady(ctx context.Context, c *clusters.Cluster, replicas int32, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		d, err := c.Clientset.AppsV1().Deployments(Namespace).Get(ctx, Name, metav1.GetOptions{})
		if err == nil && d.Status.ObservedGeneration >= d.Generation && d.Status.ReadyReplicas == replicas &&
			d.Status.UpdatedReplicas == replicas && d.Status.Replicas == replicas {
			return nil
		}
		if time.Now().After(deadline) {
			why := "no status"
			if err != nil {
				why = err.Error()
			} else {
				why = fmt.Sprintf("%d of %d replicas ready", d.Status.ReadyReplicas, replicas)
			}
			return fmt.Errorf("ingress controller not ready within %s: %s", timeout, why)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// Host is the Ingress host of a scenario namespace.
func Host(ns string) string { return ns + HostSuffix }

// Route creates the Ingress that sends Host(ns) to service:port in ns for
// the IngressClass class ("" is the cluster's default one: a foreign
// cluster's own controller) and returns the host. The Ingress goes with the
// namespace.
func Route(ctx context.Context, c *clusters.Cluster, ns, service string, port int32, class string) (string, error) {
	host := Host(ns)
	var className *string // the cluster's default IngressClass
	if class != "" {
		className = &class
	}
	pt := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: service, Namespace: ns, Labels: labels()},
		Spec: networkingv1.IngressSpec{
			IngressClassName: className,
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pt, Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: service, Port: networkingv1.ServiceBackendPort{Number: port}},
				}}},
			}}}},
		},
	}
	if _, err := c.Clientset.NetworkingV1().Ingresses(ns).Create(ctx, ing, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("ingress %s/%s: %w", ns, service, err)
	}
	return host, nil
}

// AnnotationServersScheme on a Service tells the controller (Traefik) how to
// speak to its pods: "h2c" is HTTP/2 without TLS, which gRPC needs.
const AnnotationServersScheme = "traefik.ingress.kubernetes.io/service.serversscheme"

// H2CBackend has the controller speak HTTP/2 without TLS to service's pods
// (gRPC and h2c load through it).
func H2CBackend(ctx context.Context, c *clusters.Cluster, ns, service string) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"h2c"}}}`, AnnotationServersScheme)
	if _, err := c.Clientset.CoreV1().Services(ns).Patch(ctx, service, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("service %s/%s: h2c to its pods: %w", ns, service, err)
	}
	return nil
}

// Installed reports whether the controller's namespace exists in c.
func Installed(ctx context.Context, c *clusters.Cluster) bool {
	_, err := c.Clientset.CoreV1().Namespaces().Get(ctx, Namespace, metav1.GetOptions{})
	return err == nil
}

// Uninstall removes the controller and its cluster-scoped objects
// (idempotent).
func Uninstall(ctx context.Context, c *clusters.Cluster) error {
	var errs []error
	ok := func(err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	ok(c.Clientset.NetworkingV1().IngressClasses().Delete(ctx, Class, metav1.DeleteOptions{}))
	ok(c.Clientset.RbacV1().ClusterRoleBindings().Delete(ctx, Name, metav1.DeleteOptions{}))
	ok(c.Clientset.RbacV1().ClusterRoles().Delete(ctx, Name, metav1.DeleteOptions{}))
	ok(c.DeleteNamespace(ctx, Namespace, 2*time.Minute))
	return errors.Join(errs...)
}

// Describe says which path traffic takes through the controller.
func (ctl *Controller) Describe(host string) string {
	return fmt.Sprintf("Traefik %s, %d replica(s), host %s, from this host to %s", strings.TrimPrefix(Version, "v"), ctl.Replicas, host, ctl.URL)
}
