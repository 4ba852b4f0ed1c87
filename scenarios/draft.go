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
	t, err := draftTarget(o)
	if err != nil {
		return nil, err
	}
	d := &drafter{o: o}
	name := strings.TrimSuffix(filepath.Base(o.File), filepath.Ext(o.File))
	d.w("# A first resilience scenario for Service %s (port %s), drafted by `aftershock init`.\n", t.svc, t.port)
	d.w("# Run it: aftershock run %s\n", o.File)
	d.w("# (a kind cluster is made, your app deployed into a namespace of its own, load sent\n")
	d.w("# through the Service while the faults below happen, and a pass/fail report written).\n")
	d.w("name: %s\n", yamlString(name))
	d.w("seed: 1 # the same seed picks the same victims: a run can be replayed\n")
	d.w("cluster: {workers: 2} # kind nodes for your pods (plus a control plane)\n")
	d.w("app:\n")
	if err := d.source(); err != nil {
		return nil, err
	}
	present, absent := appImages(t.objs, o.ImagePresent)
	if len(present) > 0 {
		d.w("  images: [%s] # from your Docker engine into the nodes\n", strings.Join(quoteAll(present), ", "))
	}
	if len(absent) > 0 {
		d.w("  # not in your Docker engine, so the nodes pull them: %s\n", strings.Join(absent, ", "))
		d.w("  # (build them first and list them under images: to test what you built)\n")
	}
	d.w("  service: %s\n", yamlString(t.svc+":"+t.port))
	path := o.Path
	if path == "" {
		path = "/"
	}
	d.w("  request: {path: %s} # every request; best an endpoint that is cheap and answers 200\n", yamlString(path))
	known := d.attribution()
	if r := replicas(t.workload); r < 2 {
		d.w("  # %s %s runs %d replica: a pod kill or a drain is then an outage, and this\n", t.workload.GetKind(), t.workload.GetName(), r)
		d.w("  # scenario fails. Run 2 or more (and a PodDisruptionBudget) to survive them.\n")
	}
	d.w("load: {rate: 50/s, duration: 70s, keepAlive: false} # a new connection per request: every request may reach any pod\n")
	d.w("faults:\n")
	d.w("  # a pod of %s killed at 15 s: are requests to it retried or failed, and how fast\n", t.workload.GetName())
	d.w("  # does the Service stop sending to it?\n")
	d.w("  - {type: pod-kill, at: 15s, pods: 1}\n")
	d.w("  # a node drained at 35 s (cordoned, its pods evicted, PodDisruptionBudgets\n")
	d.w("  # honoured) and uncordoned 20 s later: do its pods move without errors?\n")
	d.w("  - {type: node-drain, at: 35s, for: 20s}\n")
	d.w("slo:\n")
	d.w("  availability: 99.0%% # of requests answered 2xx/3xx over the whole run\n")
	d.w("  p99: 1s # 99th percentile latency, in every phase of the run\n")
	d.w("  recovery: 15s # from each fault until clients see no more errors\n")
	if known {
		d.w("  jain: 0.9 # how evenly requests spread over the pods (1 = perfectly even)\n")
	}
	out := []byte(d.b.String())
	if _, err := Parse(out, o.File); err != nil {
		return nil, fmt.Errorf("init: the drafted scenario does not validate: %w\n%s", err, out)
	}
	return out, nil
}

// draftedTarget is what a draft aims at: the Service and port load goes
// through and the workload behind it, among the rendered objects.
type draftedTarget struct {
	objs      []*unstructured.Unstructured
	svc, port string
	workload  *unstructured.Unstructured
}

func draftTarget(o DraftOptions) (draftedTarget, error) {
	svcName, port := o.Service, ""
	if i := strings.LastIndex(svcName, ":"); i >= 0 {
		svcName, port = svcName[:i], svcName[i+1:]
	}
	objs, err := appsource.Render(o.Source, validateNamespace)
	if err != nil {
		return draftedTarget{}, fmt.Errorf("init: %w", err)
	}
	svc, sp, err := clusters.FindService(objs, svcName, port)
	if err != nil {
		return draftedTarget{}, fmt.Errorf("init: %w (--service NAME[:PORT])", err)
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	if w := appWorkload(objs, sel); w != nil {
		return draftedTarget{objs: objs, svc: svc.Name, port: portName(sp.Name, sp.Port), workload: w}, nil
	}
	return draftedTarget{}, fmt.Errorf("init: Service %s selects %s, but no Deployment or StatefulSet of the app runs such pods", svc.Name, sel)
}

// drafter writes a draft's text.
type drafter struct {
	o DraftOptions
	b strings.Builder
}

func (d *drafter) w(format string, a ...any) { fmt.Fprintf(&d.b, format, a...) }

// rel is p relative to the scenario file's folder (paths in a scenario
// are), with forward slashes.
func (d *drafter) rel(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	absDir, err := filepath.Abs(filepath.Dir(d.o.File))
	if err != nil {
		return "", err
	}
	r, err := filepath.Rel(absDir, abs)
	if err != nil {
		return abs, nil
	}
	return filepath.ToSlash(r), nil
}

func (d *drafter) rels(ps []string) (string, error) {
	var out []string
	for _, p := range ps {
		r, err := d.rel(p)
		if err != nil {
			return "", err
		}
		out = append(out, yamlString(r))
	}
	return strings.Join(out, ", "), nil
}

// source writes app.manifests and app.helm.
func (d *drafter) source() error {
	src := d.o.Source
	if len(src.Manifests) > 0 {
		ms, err := d.rels(src.Manifests)
		if err != nil {
			return err
		}
		d.w("  manifests: [%s] # files, folders or a kustomization, rendered as kubectl apply -f / -k would\n", ms)
	}
	h := src.Helm
	if h == nil {
		return nil
	}
	chart, err := d.rel(h.Chart)
	if err != nil {
		return err
	}
	d.w("  helm:\n    chart: %s\n", yamlString(chart))
	if len(h.Values) > 0 {
		vs, err := d.rels(h.Values)
		if err != nil {
			return err
		}
		d.w("    values: [%s]\n", vs)
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
		d.w("    set: {%s}\n", strings.Join(kv, ", "))
	}
	if h.Release != "" {
		d.w("    release: %s\n", yamlString(h.Release))
	}
	return nil
}

// attribution writes app.attribution: the one found, or auto. known says
// whether one was found.
func (d *drafter) attribution() (known bool) {
	a := d.o.Attribution
	switch {
	case a.Header != "":
		d.w("  attribution: {header: %s} # the response header that names the pod that served it\n", yamlString(a.Header))
	case a.JSON != "":
		d.w("  attribution: {json: %s} # the response field that names the pod that served it\n", yamlString(a.JSON))
	case a.Regex != nil:
		d.w("  attribution: {regex: %s} # where the body names the pod that served it\n", yamlString(a.Regex.String()))
	default:
		d.w("  # attribution: how a response names the pod that served it. auto: the run looks\n")
		d.w("  # at a few responses for a header, JSON field or text line with the pod's name\n")
		d.w("  # (the report says what it found, or \"not found\": then how evenly traffic spreads\n")
		d.w("  # over the pods is not measured). Once known, write it here ({header: NAME},\n")
		d.w("  # {json: FIELD} or {regex: 'pod=(\\S+)'}) and add slo.jain to gate on evenness.\n")
		d.w("  attribution: auto\n")
		return false
	}
	return true
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
