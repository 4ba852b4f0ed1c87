package scenarios

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/appsource"
	"github.com/aftershock-dev/aftershock/loadgen"
)

// DraftOptions say what a first scenario is drafted for (`aftershock init`).
type DraftOptions struct {
	// Source is the user's app; paths relative to the working directory.
	Source appsource.Source
	// Service is NAME or NAME:PORT; "" when the app has one Service with
	// one port.
	Service string
	// File is where the scenario will be written: its paths are written
	// relative to its folder, and its name comes from it.
	File string
	// ImagePresent says whether an image is in the local Docker engine
	// (those are loaded into the nodes); nil: none is.
	ImagePresent func(image string) bool
	// Attribution is how a response names its pod, when known (a probe
	// found it); the zero value: not known.
	Attribution loadgen.Attribution
	// Path is the request path (default /).
	Path string
}

// Draft renders the app, finds the Service to load through and the
// workload behind it, and returns a commented scenario (pod kill + node
// drain, SLOs with defaults that suit most HTTP services) that validates:
// it is parsed and checked before it is returned.
func Draft(o DraftOptions) ([]byte, error) {
	if o.Source.Empty() {
		return nil, errors.New("init: name the app: --manifests DIR, --kustomize DIR or --helm CHART")
	}
	if o.File == "" {
		return nil, errors.New("init: no file to write")
	}
	svcName, port := o.Service, ""
	if i := strings.LastIndex(svcName, ":"); i >= 0 {
		svcName, port = svcName[:i], svcName[i+1:]
	}
	objs, err := appsource.Render(o.Source, validateNamespace)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	svc, sp, err := clusters.FindService(objs, svcName, port)
	if err != nil {
		return nil, fmt.Errorf("init: %w (--service NAME[:PORT])", err)
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var workload *unstructured.Unstructured
	for _, obj := range objs {
		if k := obj.GetKind(); k == "Deployment" || k == "StatefulSet" {
			l, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "template", "metadata", "labels")
			if sel.Matches(labels.Set(l)) {
				workload = obj
				break
			}
		}
	}
	if workload == nil {
		return nil, fmt.Errorf("init: Service %s selects %s, but no Deployment or StatefulSet of the app runs such pods", svc.Name, sel)
	}
	dir := filepath.Dir(o.File)
	rel := func(p string) (string, error) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		absDir, err := filepath.Abs(dir)
		if err != nil {
			return "", err
		}
		r, err := filepath.Rel(absDir, abs)
		if err != nil {
			return abs, nil
		}
		return filepath.ToSlash(r), nil
	}

	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	name := strings.TrimSuffix(filepath.Base(o.File), filepath.Ext(o.File))
	w("# A first resilience scenario for Service %s (port %s), drafted by `aftershock init`.\n", svc.Name, portName(sp.Name, sp.Port))
	w("# Run it: aftershock run %s\n", o.File)
	w("# (a kind cluster is made, your app deployed into a namespace of its own, load sent\n")
	w("# through the Service while the faults below happen, and a pass/fail report written).\n")
	w("name: %s\n", yamlString(name))
	w("seed: 1 # the same seed picks the same victims: a run can be replayed\n")
	w("cluster: {workers: 2} # kind nodes for your pods (plus a control plane)\n")
	w("app:\n")
	if len(o.Source.Manifests) > 0 {
		var ms []string
		for _, m := range o.Source.Manifests {
			r, err := rel(m)
			if err != nil {
				return nil, err
			}
			ms = append(ms, yamlString(r))
		}
		w("  manifests: [%s] # files, folders or a kustomization, rendered as kubectl apply -f / -k would\n", strings.Join(ms, ", "))
	}
	if h := o.Source.Helm; h != nil {
		chart, err := rel(h.Chart)
		if err != nil {
			return nil, err
		}
		w("  helm:\n    chart: %s\n", yamlString(chart))
		if len(h.Values) > 0 {
			var vs []string
			for _, v := range h.Values {
				r, err := rel(v)
				if err != nil {
					return nil, err
				}
				vs = append(vs, yamlString(r))
			}
			w("    values: [%s]\n", strings.Join(vs, ", "))
		}
		if len(h.Set) > 0 {
			keys := make([]string, 0, len(h.Set))
			for k := range h.Set {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var kv []string
			for _, k := range keys {
				kv = append(kv, yamlString(k)+": "+yamlString(h.Set[k]))
			}
			w("    set: {%s}\n", strings.Join(kv, ", "))
		}
		if h.Release != "" {
			w("    release: %s\n", yamlString(h.Release))
		}
	}
	present, absent := appImages(objs, o.ImagePresent)
	if len(present) > 0 {
		w("  images: [%s] # from your Docker engine into the nodes\n", strings.Join(quoteAll(present), ", "))
	}
	if len(absent) > 0 {
		w("  # not in your Docker engine, so the nodes pull them: %s\n", strings.Join(absent, ", "))
		w("  # (build them first and list them under images: to test what you built)\n")
	}
	w("  service: %s\n", yamlString(svc.Name+":"+portName(sp.Name, sp.Port)))
	path := o.Path
	if path == "" {
		path = "/"
	}
	w("  request: {path: %s} # every request; best an endpoint that is cheap and answers 200\n", yamlString(path))
	attr := o.Attribution.String()
	switch {
	case o.Attribution.Header != "":
		w("  attribution: {header: %s} # the response header that names the pod that served it\n", yamlString(o.Attribution.Header))
	case o.Attribution.JSON != "":
		w("  attribution: {json: %s} # the response field that names the pod that served it\n", yamlString(o.Attribution.JSON))
	case o.Attribution.Regex != nil:
		w("  attribution: {regex: %s} # where the body names the pod that served it\n", yamlString(o.Attribution.Regex.String()))
	default:
		attr = ""
		w("  # attribution: how a response names the pod that served it. auto: the run looks\n")
		w("  # at a few responses for a header, JSON field or text line with the pod's name\n")
		w("  # (the report says what it found, or \"not found\": then how evenly traffic spreads\n")
		w("  # over the pods is not measured). Once known, write it here ({header: NAME},\n")
		w("  # {json: FIELD} or {regex: 'pod=(\\S+)'}) and add slo.jain to gate on evenness.\n")
		w("  attribution: auto\n")
	}
	if r := replicas(workload); r < 2 {
		w("  # %s %s runs %d replica: a pod kill or a drain is then an outage, and this\n", workload.GetKind(), workload.GetName(), r)
		w("  # scenario fails. Run 2 or more (and a PodDisruptionBudget) to survive them.\n")
	}
	w("load: {rate: 50/s, duration: 70s, keepAlive: false} # a new connection per request: every request may reach any pod\n")
	w("faults:\n")
	w("  # a pod of %s killed at 15 s: are requests to it retried or failed, and how fast\n", workload.GetName())
	w("  # does the Service stop sending to it?\n")
	w("  - {type: pod-kill, at: 15s, pods: 1}\n")
	w("  # a node drained at 35 s (cordoned, its pods evicted, PodDisruptionBudgets\n")
	w("  # honoured) and uncordoned 20 s later: do its pods move without errors?\n")
	w("  - {type: node-drain, at: 35s, for: 20s}\n")
	w("slo:\n")
	w("  availability: 99.0%% # of requests answered 2xx/3xx over the whole run\n")
	w("  p99: 1s # 99th percentile latency, in every phase of the run\n")
	w("  recovery: 15s # from each fault until clients see no more errors\n")
	if attr != "" {
		w("  jain: 0.9 # how evenly requests spread over the pods (1 = perfectly even)\n")
	}
	out := []byte(b.String())
	if _, err := Parse(out, o.File); err != nil {
		return nil, fmt.Errorf("init: the drafted scenario does not validate: %w\n%s", err, out)
	}
	return out, nil
}

func portName(name string, port int32) string {
	if name != "" {
		return name
	}
	return strconv.Itoa(int(port))
}

// appImages are the images of the app's containers, split into those in
// the local Docker engine and the others, each list sorted.
func appImages(objs []*unstructured.Unstructured, present func(string) bool) (in, out []string) {
	seen := map[string]bool{}
	for _, obj := range objs {
		for _, path := range [][]string{{"spec", "template", "spec", "containers"}, {"spec", "template", "spec", "initContainers"}} {
			cs, _, _ := unstructured.NestedSlice(obj.Object, path...)
			for _, c := range cs {
				m, _ := c.(map[string]any)
				img, _ := m["image"].(string)
				if img == "" || seen[img] {
					continue
				}
				seen[img] = true
				if present != nil && present(img) {
					in = append(in, img)
				} else {
					out = append(out, img)
				}
			}
		}
	}
	sort.Strings(in)
	sort.Strings(out)
	return in, out
}

// replicas is a workload's spec.replicas (1 when unset, as Kubernetes
// defaults it).
func replicas(u *unstructured.Unstructured) int64 {
	v, found, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "replicas")
	switch r := v.(type) {
	case int64:
		return r
	case int:
		return int64(r)
	case float64:
		return int64(r)
	}
	if found {
		return 2 // not a number we can read (a template left as text): say nothing
	}
	return 1
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = yamlString(x)
	}
	return out
}

// yamlString writes s as a YAML flow scalar: plain when that reads back as
// the same string, else double-quoted.
func yamlString(s string) string {
	plain := s != "" && !strings.ContainsAny(s, ":{}[],&*#?|<>=!%@`'\"\\ \t\n") && !strings.HasPrefix(s, "-")
	if plain {
		switch strings.ToLower(s) {
		case "true", "false", "yes", "no", "on", "off", "null", "~":
			plain = false
		}
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			plain = false
		}
	}
	if plain {
		return s
	}
	return strconv.Quote(s)
}
