// Package metrics installs the real metrics-server into a kind cluster of
// aftershock's, so that a HorizontalPodAutoscaler on CPU works there:
// sigs.k8s.io/metrics-server built offline from the Go module proxy into a
// one-file image (cached, like the Ingress controller's), installed as its
// upstream components.yaml does, in aftershock's own namespace, only when a
// scenario asks for autoscaling.
package metrics

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/appsource"
	"github.com/aftershock-dev/aftershock/clusters/goimage"
)

// The component: metrics-server, built from its module source.
const (
	Module    = "sigs.k8s.io/metrics-server"
	Version   = "v0.8.0"
	ImageRef  = "aftershock.dev/metrics-server:" + Version
	Namespace = "aftershock-metrics"
	// APIService is what the API server aggregates the metrics API through.
	APIService = "v1beta1.metrics.k8s.io"
	// Resolution is how often metrics-server scrapes the kubelets (its
	// upstream default is 60 s; the HPA controller reads every 15 s).
	Resolution = 15 * time.Second
)

//go:embed metrics-server.yaml
var manifest string

var program = goimage.Program{Name: "metrics-server", Module: Module, Version: Version, Package: "./cmd/metrics-server", Ref: ImageRef,
	Cache: "metrics-server", File: "metrics-server-" + Version + ".tar", About: "a few minutes on 2 cores", Command: "metrics-image"}

// EnsureImage returns metrics-server's image archive, building it when it
// is not cached.
func EnsureImage(ctx context.Context, progress io.Writer) (clusters.AppImage, error) {
	return program.Ensure(ctx, progress)
}

// Archive is the image archive's path in the cache.
func Archive() (string, error) { return program.Archive() }

// Objects are what Install applies, with image as metrics-server's image.
func Objects(image string) ([]*unstructured.Unstructured, error) {
	y := strings.NewReplacer("NAMESPACE", Namespace, "IMAGE", image, "METRIC_RESOLUTION", Resolution.String()).Replace(manifest)
	return appsource.Decode([]byte(y))
}

// Install applies metrics-server (image loaded into the nodes) and waits
// until the metrics API answers for every node, at most timeout.
func Install(ctx context.Context, c *clusters.Cluster, image string, timeout time.Duration) error {
	objs, err := Objects(image)
	if err != nil {
		return fmt.Errorf("metrics-server: %w", err)
	}
	if err := c.Apply(ctx, objs); err != nil {
		return fmt.Errorf("metrics-server: %w", err)
	}
	return WaitServing(ctx, c, timeout)
}

// WaitServing waits until the metrics API reports every node (the first
// scrape comes one resolution after metrics-server starts).
func WaitServing(ctx context.Context, c *clusters.Cluster, timeout time.Duration) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			last = err
			return false, nil
		}
		raw, err := c.Clientset.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/nodes").DoRaw(ctx)
		if err != nil {
			last = err
			return false, nil
		}
		for _, n := range nodes.Items {
			if !strings.Contains(string(raw), `"name":"`+n.Name+`"`) {
				last = fmt.Errorf("no metrics yet for node %s", n.Name)
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("metrics-server: the metrics API did not report every node within %s: %v", timeout, last)
	}
	return nil
}

// Installed reports whether aftershock's metrics-server is on c (its
// namespace is there).
func Installed(ctx context.Context, c *clusters.Cluster) bool {
	_, err := c.Clientset.CoreV1().Namespaces().Get(ctx, Namespace, metav1.GetOptions{})
	return err == nil
}

// Uninstall deletes what Install applied (absent objects are no error), the
// APIService first: one left behind whose Service is gone fails the API
// discovery the namespace controller needs, and then no namespace of the
// cluster can be deleted (each stays Terminating with DiscoveryFailed).
func Uninstall(ctx context.Context, c *clusters.Cluster) error {
	objs, err := Objects(ImageRef)
	if err != nil {
		return err
	}
	// the APIService first, and nothing else unless it went: without the
	// Service it names, the namespace controller cannot delete any namespace
	var api, rest []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "APIService":
			api = append(api, o)
		case "Namespace": // last, by DeleteNamespace
		default:
			rest = append(rest, o)
		}
	}
	if err := c.DeleteObjects(ctx, api); err != nil {
		return fmt.Errorf("uninstall metrics-server: its APIService %s not deleted, so the rest of it is left in place: %w", APIService, err)
	}
	if err := c.DeleteObjects(ctx, rest); err != nil {
		return fmt.Errorf("uninstall metrics-server: %w", err)
	}
	return c.DeleteNamespace(ctx, Namespace, 2*time.Minute) // and waits until it is gone, not Terminating
}
