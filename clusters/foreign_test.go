package clusters

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/aftershock-dev/aftershock/clusters/multicall"
)

// The image for a foreign cluster is the executable under the user's
// repository, tagged by its digest; a push lands in the registry with the
// same layers (a real registry server from go-containerregistry on
// 127.0.0.1).
func TestAppImageInPushes(t *testing.T) {
	b, err := multicall.Executable()
	require.NoError(t, err)
	digest, err := b.Digest()
	require.NoError(t, err)
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/team"
	ref, err := appImageIn(repo+"/", b)
	require.NoError(t, err)
	assert.Equal(t, repo+"/aftershock:"+digest[:12], ref)

	img, err := buildAppImageAs(context.Background(), t.TempDir(), b, ref)
	require.NoError(t, err)
	require.NoError(t, PushImage(context.Background(), img))
	tag, err := name.NewTag(ref)
	require.NoError(t, err)
	pulled, err := remote.Image(tag)
	require.NoError(t, err)
	cf, err := pulled.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, []string{"/" + multicall.SampleApp}, cf.Config.Entrypoint)

	_, err = appImageIn("Bad Repo", b)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `--image-repo "Bad Repo"`)
}

func waitingPod(name, reason, msg string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec:       corev1.PodSpec{NodeName: "node-a"},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			Image: "reg.example/team/aftershock:abc",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}},
		}}},
	}
}

// A pod whose image its node cannot get is named with the image, node and
// the kubelet's words; a pod still creating its container is not.
func TestPullFailures(t *testing.T) {
	require.NoError(t, PullFailureOf(waitingPod("a", "ContainerCreating", "")))
	err := PullFailureOf(waitingPod("b", "ErrImagePull", `failed to resolve reference "reg.example/team/aftershock:abc": not found`))
	require.Error(t, err)
	assert.Equal(t, `image reg.example/team/aftershock:abc cannot be pulled by node node-a (pod b, ErrImagePull): failed to resolve reference "reg.example/team/aftershock:abc": not found`, err.Error())

	c := &Cluster{Name: "x", Clientset: fake.NewClientset(waitingPod("a", "ContainerCreating", ""))}
	require.NoError(t, c.PullFailures(context.Background(), "ns"))
	c = &Cluster{Name: "x", Clientset: fake.NewClientset(waitingPod("a", "ContainerCreating", ""),
		waitingPod("b", "ImagePullBackOff", "Back-off pulling image"), waitingPod("c", "ImagePullBackOff", "Back-off pulling image"))}
	err = c.PullFailures(context.Background(), "ns")
	require.Error(t, err)
	assert.Equal(t, 1, strings.Count(err.Error(), "cannot be pulled"), "one line per image: %v", err)

	ctx, stop := c.WatchPullFailures(context.Background(), "ns")
	defer stop()
	<-ctx.Done()
	assert.ErrorContains(t, PullFailure(context.Background(), ctx), "ImagePullBackOff")

	// ended by its stop, not by a failure: nothing to report
	quiet := &Cluster{Name: "x", Clientset: fake.NewClientset(waitingPod("a", "ContainerCreating", ""))}
	ctx, stop = quiet.WatchPullFailures(context.Background(), "ns")
	stop()
	<-ctx.Done()
	assert.NoError(t, PullFailure(context.Background(), ctx))
}

// The service proxy URL keeps the API server's own path prefix.
func TestServiceProxyURL(t *testing.T) {
	c := &Cluster{REST: &rest.Config{Host: "https://127.0.0.1:6443/prefix"}}
	u, client, err := c.ServiceProxy("as-x", "web", 80)
	require.NoError(t, err)
	require.NotNil(t, client)
	assert.Equal(t, "https://127.0.0.1:6443/prefix/api/v1/namespaces/as-x/services/http:web:80/proxy/", u)
}
