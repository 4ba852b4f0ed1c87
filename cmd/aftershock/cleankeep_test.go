package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/clusters/metrics"
)

// `clean --keep` on a cluster where a scenario installed metrics-server
// removes it whole, its APIService included: until session 19 it deleted
// metrics-server's namespace (labelled like a scenario's) and left the
// APIService pointing at a Service that no longer existed, and from then on
// no namespace of the cluster could be deleted (each stayed Terminating,
// DiscoveryFailed for metrics.k8s.io; seen on a kept cluster after a
// --parallel run of the shipped scenarios). And when the APIService cannot
// be deleted (here an admission policy refuses it), clean says so and
// leaves the rest of metrics-server, its namespace above all, in place.
func TestIntegrationCleanKeepRemovesMetricsServer(t *testing.T) {
	clustertest.RequireDocker(t)
	t.Parallel()              // after the package's serial tests
	c := clustertest.Extra(t) // clean --keep reaches every namespace: the shared cluster, alone
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	img, err := metrics.EnsureImage(ctx, io.Discard)
	require.NoError(t, err)
	require.NoError(t, c.LoadImage(ctx, img))
	require.NoError(t, metrics.Install(ctx, c, img.Ref, 3*time.Minute))

	unrefuse := refuseAPIServiceDelete(ctx, t, c.Clientset)
	var refused strings.Builder
	ok := cleanCluster(ctx, &refused, c.Name, true)
	t.Logf("clean --keep, the APIService's deletion refused:\n%s", refused.String())
	assert.False(t, ok, "clean fails: %s", refused.String())
	assert.Contains(t, refused.String(), "APIService "+metrics.APIService+" not deleted")
	ns, err := c.Clientset.CoreV1().Namespaces().Get(ctx, metrics.Namespace, metav1.GetOptions{})
	require.NoError(t, err, "metrics-server's namespace is left")
	assert.Nil(t, ns.DeletionTimestamp, "and not being deleted")
	unrefuse()

	var out strings.Builder
	ok = cleanCluster(ctx, &out, c.Name, true)
	t.Logf("clean --keep:\n%s", out.String())
	require.True(t, ok, out.String())
	assert.Contains(t, out.String(), "removed metrics-server")

	_, err = c.Clientset.CoreV1().RESTClient().Get().AbsPath("/apis/apiregistration.k8s.io/v1/apiservices/" + metrics.APIService).DoRaw(ctx)
	assert.True(t, apierrors.IsNotFound(err), "the APIService is gone: %v", err)
	assert.False(t, metrics.Installed(ctx, c))
	// namespaces can be deleted again: metrics-server's own, and one created now
	probe, err := c.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "as-probe-"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, c.DeleteNamespace(ctx, probe.Name, time.Minute), "a namespace deleted after clean --keep goes")
	t.Logf("namespace %s deleted in %s", probe.Name, time.Since(start).Round(100*time.Millisecond))
	require.Eventually(t, func() bool {
		_, err := c.Clientset.CoreV1().Namespaces().Get(ctx, metrics.Namespace, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, time.Minute, time.Second, "namespace %s gone", metrics.Namespace)
}

// refuseAPIServiceDelete makes the API server refuse to delete metrics-server's
// APIService (a ValidatingAdmissionPolicy) until the returned func, which
// also runs at the test's end.
func refuseAPIServiceDelete(ctx context.Context, t *testing.T, cs kubernetes.Interface) func() {
	t.Helper()
	name := "aftershock-test-refuse-apiservice-delete"
	ar := cs.AdmissionregistrationV1()
	_, err := ar.ValidatingAdmissionPolicies().Create(ctx, &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				ResourceNames: []string{metrics.APIService},
				RuleWithOperations: admissionv1.RuleWithOperations{Operations: []admissionv1.OperationType{admissionv1.Delete},
					Rule: admissionv1.Rule{APIGroups: []string{"apiregistration.k8s.io"}, APIVersions: []string{"*"}, Resources: []string{"apiservices"}}},
			}}},
			Validations: []admissionv1.Validation{{Expression: "false", Message: "refused by " + t.Name()}},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = ar.ValidatingAdmissionPolicyBindings().Create(ctx, &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       admissionv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name, ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	// in force when a dry-run delete is refused (policies take a moment)
	dryDelete := func() error {
		return cs.CoreV1().RESTClient().Delete().AbsPath("/apis/apiregistration.k8s.io/v1/apiservices/"+metrics.APIService).Param("dryRun", "All").Do(ctx).Error()
	}
	require.Eventually(t, func() bool { return dryDelete() != nil }, time.Minute, 500*time.Millisecond, "the policy refuses the APIService's deletion")
	done := false
	undo := func() {
		if done {
			return
		}
		done = true
		assert.NoError(t, ar.ValidatingAdmissionPolicyBindings().Delete(context.Background(), name, metav1.DeleteOptions{}))
		assert.NoError(t, ar.ValidatingAdmissionPolicies().Delete(context.Background(), name, metav1.DeleteOptions{}))
		assert.Eventually(t, func() bool { return dryDelete() == nil }, time.Minute, 500*time.Millisecond, "the APIService can be deleted again")
	}
	t.Cleanup(undo)
	return undo
}
