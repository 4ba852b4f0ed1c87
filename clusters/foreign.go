package clusters

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/aftershock-dev/aftershock/clusters/multicall"
)

// A cluster aftershock did not create (FromKubeconfig) gets nothing loaded
// into its nodes and publishes no port on 127.0.0.1: its nodes pull every
// image (the aftershock image for the sample app and load pods from the
// repository the user names: AppImageIn), and readiness is checked through
// the API server's service proxy (ServiceProxy).

// AppImageName is the image name under a user's repository (--image-repo).
const AppImageName = "aftershock"

// AppImageIn is the aftershock executable's image under repo (e.g.
// "registry.example.com/team" gives "registry.example.com/team/aftershock:TAG",
// TAG from the executable's digest, as BuildAppImage tags it).
func AppImageIn(repo string) (string, error) {
	b, err := multicall.Executable()
	if err != nil {
		return "", err
	}
	return appImageIn(repo, b)
}

func appImageIn(repo string, b multicall.Bundle) (string, error) {
	sum, err := b.Digest()
	if err != nil {
		return "", err
	}
	ref := strings.TrimSuffix(repo, "/") + "/" + AppImageName + ":" + sum[:12]
	if _, err := name.NewTag(ref, name.StrictValidation); err != nil {
		return "", fmt.Errorf("--image-repo %q: %q is not a valid image reference: %w", repo, ref, err)
	}
	return ref, nil
}

// BuildAppImageIn is BuildAppImage tagged under repo (AppImageIn): the
// archive to push to the registry a foreign cluster pulls from.
func BuildAppImageIn(ctx context.Context, workDir, repo string) (AppImage, error) {
	b, err := multicall.Executable()
	if err != nil {
		return AppImage{}, fmt.Errorf("aftershock image: %w", err)
	}
	ref, err := appImageIn(repo, b)
	if err != nil {
		return AppImage{}, err
	}
	return buildAppImageAs(ctx, workDir, b, ref)
}

// PushImage pushes an image archive (BuildAppImageIn) to its reference's
// registry with the credentials of the Docker config (docker login).
func PushImage(ctx context.Context, img AppImage) error {
	tag, err := name.NewTag(img.Ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("push %s: %w", img.Ref, err)
	}
	v1img, err := tarball.ImageFromPath(img.Archive, &tag)
	if err != nil {
		return fmt.Errorf("push %s: read %s: %w", img.Ref, img.Archive, err)
	}
	if err := remote.Write(tag, v1img, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return fmt.Errorf("push %s: %w", img.Ref, err)
	}
	return nil
}

// ServiceProxy returns the base URL of a Service's port through the API
// server's service proxy and a client authenticated for it: the way to reach
// an app on a cluster that publishes no port on this machine. The API server
// sends each request to one of the Service's ready endpoints.
func (c *Cluster) ServiceProxy(ns, svc string, port int32) (string, *http.Client, error) {
	cfg := rest.CopyConfig(c.REST)
	cfg.Timeout = 5 * time.Second
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return "", nil, fmt.Errorf("service proxy: %w", err)
	}
	host := cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err != nil {
		return "", nil, fmt.Errorf("service proxy: API server %q: %w", cfg.Host, err)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + fmt.Sprintf("/api/v1/namespaces/%s/services/http:%s:%d/proxy/", ns, svc, port)
	return u.String(), client, nil
}

// pullFailures are the kubelet's reasons for a container whose image it
// could not get.
var pullFailures = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"ErrImageNeverPull": true, "ErrInvalidImageName": true,
}

// ImagePullFailure is a pod's container whose image its node cannot get.
type ImagePullFailure struct {
	Pod, Node, Image, Reason, Message string
}

func (f ImagePullFailure) Error() string {
	msg := f.Message
	if msg == "" {
		msg = f.Reason
	}
	return fmt.Sprintf("image %s cannot be pulled by node %s (pod %s, %s): %s", f.Image, f.Node, f.Pod, f.Reason, msg)
}

// PullFailureOf returns the first container of pod waiting for an image its
// node cannot get, or nil.
func PullFailureOf(pod *corev1.Pod) error {
	all := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range all {
		if w := cs.State.Waiting; w != nil && pullFailures[w.Reason] {
			return ImagePullFailure{Pod: pod.Name, Node: pod.Spec.NodeName, Image: cs.Image, Reason: w.Reason, Message: w.Message}
		}
	}
	return nil
}

// PullFailures lists the pods in ns whose images cannot be pulled (nil when
// none): a deployment waiting on them would only time out.
func (c *Cluster) PullFailures(ctx context.Context, ns string) error {
	pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil // the wait this guards reports API errors itself
	}
	var msgs []string
	seen := map[string]bool{}
	for i := range pods.Items {
		if err := PullFailureOf(&pods.Items[i]); err != nil {
			f := err.(ImagePullFailure)
			if !seen[f.Image] {
				seen[f.Image] = true
				msgs = append(msgs, f.Error())
			}
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	sort.Strings(msgs)
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}

// WatchPullFailures returns a context that is cancelled, with the failure as
// its cause, as soon as a pod in ns cannot pull its image (polled every
// second); stop ends the watch.
func (c *Cluster) WatchPullFailures(ctx context.Context, ns string) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancelCause(ctx)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				if err := c.PullFailures(wctx, ns); err != nil {
					cancel(err)
					return
				}
			}
		}
	}()
	return wctx, func() { cancel(nil) }
}

// PullFailure is the image pull failure that ended watched (a context of
// WatchPullFailures on parent), or nil when something else ended it (the
// parent, the stop) or nothing did: the error to report instead of the
// wait's own.
func PullFailure(parent, watched context.Context) error {
	if parent.Err() != nil {
		return nil
	}
	if cause := context.Cause(watched); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}
