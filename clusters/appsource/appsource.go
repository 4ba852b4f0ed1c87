// Package appsource renders a user's application into Kubernetes objects:
// plain manifests (files or folders of YAML), a kustomization (rendered with
// sigs.k8s.io/kustomize/api, as `kubectl apply -k` does) or a Helm chart (a
// folder or .tgz, rendered with the Helm Go SDK as `helm template` does,
// with values files and --set overrides). It needs no cluster: rendering
// errors surface when a scenario is parsed, naming the file.
//
// It does not apply objects or load images (clusters does); it checks what
// can be checked without a cluster: every object namespaced or allowed,
// namespaces consistent, the Service to load through present.
package appsource

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/loader"
	"helm.sh/helm/v4/pkg/cli/values"
	"helm.sh/helm/v4/pkg/getter"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Helm is a local chart to render.
type Helm struct {
	Chart   string            // a chart folder or .tgz
	Values  []string          // values files, merged in order
	Set     map[string]string // --set overrides, e.g. {"replicaCount": "4"}
	Release string            // release name (default: the chart's name)
}

// Source is a user's application: manifests (files, folders, or folders
// holding a kustomization) and/or a Helm chart. Paths are absolute or
// relative to the working directory.
type Source struct {
	Manifests []string
	Helm      *Helm
}

// Empty reports whether s names nothing (the built-in sample app is used).
func (s Source) Empty() bool { return len(s.Manifests) == 0 && s.Helm == nil }

// Error says which input failed to render, and why.
type Error struct {
	Input string // "manifests[1]" or "helm.chart", "helm.values[0]", "helm.set"
	Path  string // the file or folder, when there is one
	Err   error
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s: %v", e.Input, e.Err)
	}
	return fmt.Sprintf("%s %s: %v", e.Input, e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Render renders s for namespace ns. Objects keep the namespace they name
// (Check refuses a foreign one); the caller places the others in ns.
func Render(s Source, ns string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for i, p := range s.Manifests {
		objs, err := renderPath(p)
		if err != nil {
			return nil, &Error{Input: fmt.Sprintf("manifests[%d]", i), Path: p, Err: err}
		}
		out = append(out, objs...)
	}
	if s.Helm != nil {
		objs, err := renderHelm(*s.Helm, ns)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	if len(out) == 0 {
		return nil, &Error{Input: "manifests", Err: errors.New("no Kubernetes objects rendered")}
	}
	return out, nil
}

// isKustomization reports whether dir holds a kustomization file.
func isKustomization(dir string) bool {
	for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

func renderPath(p string) ([]*unstructured.Unstructured, error) {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errors.New("no such file or folder")
		}
		return nil, err
	}
	if !st.IsDir() {
		return decodeFile(p)
	}
	if isKustomization(p) {
		return renderKustomization(p)
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	n := 0
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		n++
		objs, err := decodeFile(filepath.Join(p, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	if n == 0 {
		return nil, errors.New("folder has no .yaml, .yml or .json file and no kustomization")
	}
	return out, nil
}

func decodeFile(p string) ([]*unstructured.Unstructured, error) {
	b, err := ReadFileLimited(p, MaxFileBytes)
	if err != nil {
		return nil, err
	}
	objs, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(p), err)
	}
	return objs, nil
}

// Decode reads a stream of YAML or JSON documents (a List is expanded).
// Every object must have apiVersion, kind and metadata.name.
func Decode(b []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: not valid YAML: %w", doc, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			l, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", doc, err)
			}
			for i := range l.Items {
				if err := complete(&l.Items[i], doc); err != nil {
					return nil, err
				}
				out = append(out, &l.Items[i])
			}
			continue
		}
		if err := complete(u, doc); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
}

func complete(u *unstructured.Unstructured, doc int) error {
	switch {
	case u.GetAPIVersion() == "":
		return fmt.Errorf("document %d: no apiVersion", doc)
	case u.GetKind() == "":
		return fmt.Errorf("document %d: no kind", doc)
	case u.GetName() == "" && u.GetGenerateName() == "":
		return fmt.Errorf("document %d (%s): no metadata.name", doc, u.GetKind())
	}
	return nil
}

func renderKustomization(dir string) ([]*unstructured.Unstructured, error) {
	if err := checkNoRemote(dir, map[string]bool{}); err != nil {
		return nil, fmt.Errorf("kustomize: %w", err)
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize: %w", err)
	}
	b, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize: %w", err)
	}
	return Decode(b)
}

func renderHelm(h Helm, ns string) ([]*unstructured.Unstructured, error) {
	if h.Chart == "" {
		return nil, &Error{Input: "helm.chart", Err: errors.New("required: a chart folder or .tgz")}
	}
	if _, err := os.Stat(h.Chart); err != nil {
		return nil, &Error{Input: "helm.chart", Path: h.Chart, Err: errors.New("no such file or folder")}
	}
	ch, err := loader.Load(h.Chart)
	if err != nil {
		return nil, &Error{Input: "helm.chart", Path: h.Chart, Err: fmt.Errorf("not a loadable chart: %w", err)}
	}
	for i, f := range h.Values {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, &Error{Input: fmt.Sprintf("helm.values[%d]", i), Path: f, Err: errors.New("no such file")}
		}
		if fi.Size() > MaxFileBytes || !fi.Mode().IsRegular() {
			return nil, &Error{Input: fmt.Sprintf("helm.values[%d]", i), Path: f, Err: fmt.Errorf("%d bytes (%s); want a regular file of at most %d bytes", fi.Size(), fi.Mode().Type(), MaxFileBytes)}
		}
	}
	opts := values.Options{ValueFiles: h.Values}
	keys := make([]string, 0, len(h.Set))
	for k := range h.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		// a value is one value, commas and all (Helm's --set splits on
		// unescaped commas)
		opts.Values = append(opts.Values, k+"="+strings.ReplaceAll(h.Set[k], ",", `\,`))
	}
	vals, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		return nil, &Error{Input: "helm.values", Err: err}
	}
	cfg := action.NewConfiguration()
	in := action.NewInstall(cfg)
	in.DryRunStrategy = action.DryRunClient
	in.Replace = true
	in.Namespace = ns
	in.ReleaseName = h.Release
	if in.ReleaseName == "" {
		if acc, err := ch.(interface{ Name() string }); err {
			in.ReleaseName = acc.Name()
		}
	}
	if in.ReleaseName == "" {
		in.ReleaseName = "app"
	}
	rel, err := in.Run(ch, vals)
	if err != nil {
		return nil, &Error{Input: "helm.chart", Path: h.Chart, Err: fmt.Errorf("render: %w", err)}
	}
	r, ok := rel.(*releasev1.Release)
	if !ok {
		return nil, &Error{Input: "helm.chart", Path: h.Chart, Err: fmt.Errorf("render: unexpected release type %T", rel)}
	}
	objs, err := Decode([]byte(r.Manifest))
	if err != nil {
		return nil, &Error{Input: "helm.chart", Path: h.Chart, Err: fmt.Errorf("rendered manifest: %w", err)}
	}
	return objs, nil
}

// clusterScoped are the built-in kinds that have no namespace; Check refuses
// them unless allowed (the cluster's RESTMapper has the final word when
// objects are applied).
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"CustomResourceDefinition": true, "StorageClass": true, "PriorityClass": true, "IngressClass": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true, "ValidatingAdmissionPolicy": true,
	"ValidatingAdmissionPolicyBinding": true, "APIService": true, "CSIDriver": true, "CSINode": true,
	"RuntimeClass": true, "VolumeAttachment": true, "CertificateSigningRequest": true, "FlowSchema": true,
	"PriorityLevelConfiguration": true,
}

// ClusterScopedKinds lists the built-in cluster-scoped kinds with their API
// groups ("" for the core group).
func ClusterScopedKinds() map[string]string { return clusterScopedGroups }

var clusterScopedGroups = map[string]string{
	"Namespace": "", "Node": "", "PersistentVolume": "", "ClusterRole": "rbac.authorization.k8s.io",
	"ClusterRoleBinding": "rbac.authorization.k8s.io", "CustomResourceDefinition": "apiextensions.k8s.io",
	"StorageClass": "storage.k8s.io", "PriorityClass": "scheduling.k8s.io", "IngressClass": "networking.k8s.io",
	"ValidatingWebhookConfiguration": "admissionregistration.k8s.io", "MutatingWebhookConfiguration": "admissionregistration.k8s.io",
	"ValidatingAdmissionPolicy": "admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding": "admissionregistration.k8s.io",
	"APIService": "apiregistration.k8s.io", "CSIDriver": "storage.k8s.io", "CSINode": "storage.k8s.io",
	"RuntimeClass": "node.k8s.io", "VolumeAttachment": "storage.k8s.io", "CertificateSigningRequest": "certificates.k8s.io",
	"FlowSchema": "flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration": "flowcontrol.apiserver.k8s.io",
}

// ClusterScoped reports whether kind is a built-in cluster-scoped kind.
func ClusterScoped(kind string) bool { return clusterScoped[kind] }

// Ref names an object for messages: "Deployment/web".
func Ref(u *unstructured.Unstructured) string { return u.GetKind() + "/" + u.GetName() }

// Check refuses objects that would leave the scenario's namespace: a
// namespace other than ns, or a cluster-scoped kind unless allowCluster.
func Check(objs []*unstructured.Unstructured, ns string, allowCluster bool) error {
	var bad []string
	for _, o := range objs {
		if ClusterScoped(o.GetKind()) {
			if !allowCluster {
				bad = append(bad, Ref(o)+" is cluster-scoped (allow it with app.allowClusterScoped: true; it is deleted after the run)")
			}
			continue
		}
		if n := o.GetNamespace(); n != "" && n != ns {
			bad = append(bad, fmt.Sprintf("%s names namespace %q; aftershock deploys into the scenario's own namespace (remove metadata.namespace)", Ref(o), n))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}
