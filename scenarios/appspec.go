package scenarios

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/appsource"
	"github.com/aftershock-dev/aftershock/loadgen"
)

// OwnApp is a user's application in place of the sample app: rendered from
// manifests, a kustomization or a Helm chart, with images to load into the
// nodes, the Service load goes through, the request to send and how a
// response names its pod.
type OwnApp struct {
	Source  appsource.Source // paths resolved against the scenario file
	Images  []string         // docker-engine names or archive paths (resolved)
	Service string           // "" = the only Service
	Port    string           // by name or number; "" = its only port
	// AllowClusterScoped permits cluster-scoped objects (deleted after the run).
	AllowClusterScoped bool
	// Objects are the rendered objects (filled by Validate).
	Objects []*unstructured.Unstructured
}

// rawOwnApp are app's fields for a user's application.
type rawOwnApp struct {
	Manifests          []string    `json:"manifests"`
	Helm               *rawHelm    `json:"helm"`
	Images             []string    `json:"images"`
	Service            string      `json:"service"`
	Request            *rawRequest `json:"request"`
	Attribution        any         `json:"attribution"`
	AllowClusterScoped bool        `json:"allowClusterScoped"`
}

type rawHelm struct {
	Chart   string            `json:"chart"`
	Values  []string          `json:"values"`
	Set     map[string]string `json:"set"`
	Release string            `json:"release"`
}

type rawRequest struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

// ownApp reads the user-app fields of app.
func (p *parser) ownApp(a rawApp, s *Spec) {
	r := a.rawOwnApp
	if len(r.Manifests) > 0 || r.Helm != nil {
		o := &OwnApp{Service: r.Service, AllowClusterScoped: r.AllowClusterScoped}
		if i := strings.LastIndex(r.Service, ":"); i >= 0 {
			o.Service, o.Port = r.Service[:i], r.Service[i+1:]
			if o.Service == "" || o.Port == "" {
				p.fail("app.service", r.Service, "want NAME or NAME:PORT")
			}
		}
		for i, m := range r.Manifests {
			if strings.TrimSpace(m) == "" {
				p.fail(fmt.Sprintf("app.manifests[%d]", i), m, "empty path")
			}
			o.Source.Manifests = append(o.Source.Manifests, p.path(m))
		}
		if h := r.Helm; h != nil {
			if h.Chart == "" {
				p.fail("app.helm.chart", "", "required: a chart folder or .tgz")
			}
			o.Source.Helm = &appsource.Helm{Chart: p.path(h.Chart), Set: h.Set, Release: h.Release}
			for _, v := range h.Values {
				o.Source.Helm.Values = append(o.Source.Helm.Values, p.path(v))
			}
			if h.Release != "" && !nameRE.MatchString(h.Release) {
				p.fail("app.helm.release", h.Release, "want a DNS label")
			}
		}
		for i, img := range r.Images {
			if strings.TrimSpace(img) == "" {
				p.fail(fmt.Sprintf("app.images[%d]", i), img, "empty image")
				continue
			}
			if looksLikeArchive(img) {
				pth := p.path(img)
				if st, err := os.Stat(pth); err != nil || st.IsDir() {
					p.fail(fmt.Sprintf("app.images[%d]", i), img, "no such image archive (a docker-save or OCI .tar)")
				}
				img = pth
			}
			o.Images = append(o.Images, img)
		}
		s.App.Own = o
	} else {
		switch {
		case r.Service != "":
			p.fail("app.service", r.Service, "needs app.manifests or app.helm (the sample app's Service is its own)")
		case len(r.Images) > 0:
			p.fail("app.images", r.Images[0], "needs app.manifests or app.helm")
		case r.AllowClusterScoped:
			p.fail("app.allowClusterScoped", "true", "needs app.manifests or app.helm")
		}
	}
	if q := r.Request; q != nil {
		s.App.Request = p.request(q)
	}
	s.App.Attribution = p.attribution(r.Attribution, s.App.Own != nil)
	if v, _ := r.Attribution.(string); v == "auto" {
		if s.App.Own == nil {
			p.fail("app.attribution", v, "auto is for your own app (app.manifests or app.helm): the sample app names its pod in a header")
		}
		s.App.AutoAttribution = true
	}
}

// request reads app.request.
func (p *parser) request(q *rawRequest) loadgen.Request {
	req := loadgen.Request{Method: strings.ToUpper(q.Method), Path: q.Path}
	if req.Method != "" && !slices.Contains(methods, req.Method) {
		p.fail("app.request.method", q.Method, "want one of "+strings.Join(methods, ", "))
	}
	if q.Path != "" && !strings.HasPrefix(q.Path, "/") {
		p.fail("app.request.path", q.Path, "must start with /")
	}
	if len(q.Headers) > 0 {
		req.Header = http.Header{}
		keys := make([]string, 0, len(q.Headers))
		for k := range q.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !headerName.MatchString(k) {
				p.fail("app.request.headers", k, "not a valid header name")
			}
			req.Header.Set(k, q.Headers[k])
		}
	}
	if q.Body != "" {
		req.Body = []byte(q.Body)
		if req.Method == "" || req.Method == http.MethodGet || req.Method == http.MethodHead {
			p.fail("app.request.body", q.Body, "a body needs a method such as POST or PUT")
		}
	}
	return req
}

var headerName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)

func looksLikeArchive(s string) bool {
	return strings.HasSuffix(s, ".tar") || strings.HasSuffix(s, ".tar.gz") || strings.HasSuffix(s, ".tgz") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "/")
}

// path resolves a path against the scenario file's folder.
func (p *parser) path(v string) string {
	if filepath.IsAbs(v) || p.file == "" {
		return v
	}
	return filepath.Join(filepath.Dir(p.file), v)
}

// attribution reads `none`, {header: X}, {json: a.b} or {regex: "..."}.
// The sample app's default is its header; a user's app defaults to none.
func (p *parser) attribution(v any, own bool) loadgen.Attribution {
	switch x := v.(type) {
	case nil:
		if own {
			return loadgen.Attribution{None: true}
		}
		return loadgen.Attribution{}
	case string:
		if x == "none" || x == "auto" { // auto: found at run time
			return loadgen.Attribution{None: true}
		}
		p.fail("app.attribution", x, "want none, auto, {header: NAME}, {json: PATH} or {regex: EXPR}")
	case map[string]any:
		if len(x) != 1 {
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			p.fail("app.attribution", strings.Join(keys, ", "), "want exactly one of header, json, regex, grpcHeader, grpcField")
			return loadgen.Attribution{}
		}
		for k, raw := range x {
			val, ok := raw.(string)
			if !ok || val == "" {
				b, _ := json.Marshal(raw)
				p.fail("app.attribution."+k, string(b), "want a non-empty string")
				return loadgen.Attribution{}
			}
			switch k {
			case "header":
				if !headerName.MatchString(val) {
					p.fail("app.attribution.header", val, "not a valid header name")
				}
				return loadgen.Attribution{Header: val}
			case "json", "grpcField":
				for _, part := range strings.Split(val, ".") {
					if part == "" {
						p.fail("app.attribution."+k, val, "want a dot path like hostname or meta.pod")
					}
				}
				if k == "grpcField" {
					return loadgen.Attribution{GRPCField: val}
				}
				return loadgen.Attribution{JSON: val}
			case "grpcHeader":
				if !headerName.MatchString(val) {
					p.fail("app.attribution.grpcHeader", val, "not a valid metadata key")
				}
				return loadgen.Attribution{GRPCHeader: strings.ToLower(val)}
			case "regex":
				re, err := regexp.Compile(val)
				if err != nil {
					p.fail("app.attribution.regex", val, "not a regular expression: "+err.Error())
					return loadgen.Attribution{}
				}
				if re.NumSubexp() < 1 {
					p.fail("app.attribution.regex", val, "needs a capture group for the pod name, like Hostname: (\\S+)")
				}
				return loadgen.Attribution{Regex: re}
			default:
				p.fail("app.attribution."+k, val, "unknown attribution; want header, json, regex, grpcHeader or grpcField")
			}
		}
	default:
		b, _ := json.Marshal(x)
		p.fail("app.attribution", string(b), "want none, {header: NAME}, {json: PATH} or {regex: EXPR}")
	}
	return loadgen.Attribution{}
}

// validateOwnApp renders a user's app (no cluster needed) and checks it:
// every input renders, nothing leaves the namespace unless allowed, the
// Service exists and selects pods of a Deployment or StatefulSet.
func (s *Spec) validateOwnApp(fail func(field, value, problem string) error) error {
	o := s.App.Own
	objs, err := appsource.Render(o.Source, validateNamespace)
	if err != nil {
		var ae *appsource.Error
		if errors.As(err, &ae) {
			return fail("app."+ae.Input, ae.Path, ae.Err.Error())
		}
		return fail("app", "", err.Error())
	}
	if err := appsource.Check(objs, validateNamespace, o.AllowClusterScoped); err != nil {
		return fail("app", "", err.Error())
	}
	svc, _, err := clusters.FindService(objs, o.Service, o.Port)
	if err != nil {
		v := o.Service
		if o.Port != "" {
			v += ":" + o.Port
		}
		return fail("app.service", v, err.Error())
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	if appWorkload(objs, sel) == nil {
		return fail("app.service", svc.Name, fmt.Sprintf("selects %s, but no Deployment or StatefulSet of the app runs such pods", sel))
	}
	for i, img := range o.Images {
		used := false
		for _, obj := range objs {
			used = used || usesImage(obj, img)
		}
		if !used && !filepath.IsAbs(img) {
			return fail(fmt.Sprintf("app.images[%d]", i), img, "no container of the app uses this image")
		}
	}
	o.Objects = objs
	return nil
}

// appWorkload is the first Deployment or StatefulSet among objs whose
// pods sel selects; nil when none.
func appWorkload(objs []*unstructured.Unstructured, sel labels.Selector) *unstructured.Unstructured {
	for _, obj := range objs {
		if k := obj.GetKind(); k == "Deployment" || k == "StatefulSet" {
			l, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "template", "metadata", "labels")
			if sel.Matches(labels.Set(l)) {
				return obj
			}
		}
	}
	return nil
}

// validateNamespace stands for the scenario's namespace (made per run) when
// an app is rendered to validate it: charts that name
// {{ .Release.Namespace }} get it, and Check accepts it.
const validateNamespace = "aftershock-validate"

func usesImage(u *unstructured.Unstructured, img string) bool {
	for _, path := range [][]string{{"spec", "template", "spec", "containers"}, {"spec", "template", "spec", "initContainers"}, {"spec", "containers"}} {
		cs, _, _ := unstructured.NestedSlice(u.Object, path...)
		for _, c := range cs {
			m, _ := c.(map[string]any)
			if v, _ := m["image"].(string); v != "" && clusters.SameImage(v, img) {
				return true
			}
		}
	}
	return false
}
