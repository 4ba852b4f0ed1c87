package scenarios

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spec wraps an app: block into an otherwise valid scenario in testdata/.
func ownSpec(app string, extra ...string) []byte {
	s := fmt.Sprintf("name: own\napp: %s\nload: {rate: 10/s, duration: 10s}\nslo: {availability: 99%%}\n", app)
	for _, e := range extra {
		s += e + "\n"
	}
	return []byte(s)
}

func TestOwnAppFromManifestsKustomizeAndHelm(t *testing.T) {
	file := filepath.Join("testdata", "own.yaml")
	tests := []struct {
		name, app    string
		replicas     int64
		service      string
		wantObjects  int
		wantReleased string
	}{
		{"manifests folder", `{manifests: [../examples/httpbin/manifests], images: [aftershock.dev/examples/go-httpbin:v2.26.0], service: httpbin:http, attribution: {json: hostname}}`, 3, "httpbin", 3, ""},
		{"manifest files", `{manifests: [../examples/httpbin/manifests/deployment.yaml, ../examples/httpbin/manifests/service.yaml], attribution: none}`, 3, "", 3, ""},
		{"kustomization", `{manifests: [kustomize], attribution: {regex: "\"hostname\": \"([^\"]+)\""}}`, 4, "", 3, ""},
		{"helm chart", `{helm: {chart: ../examples/httpbin/chart, set: {replicaCount: "5"}, release: web}, service: web, attribution: {json: hostname}}`, 5, "web", 3, "web"},
		{"helm chart naming its namespace, a set value with commas", `{helm: {chart: nschart, set: {replicaCount: "4", hosts: "a.example,b.example"}, release: ns}, attribution: none}`, 4, "ns", 2, "ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(ownSpec(tt.app), file)
			require.NoError(t, err)
			require.NotNil(t, s.App.Own)
			assert.Len(t, s.App.Own.Objects, tt.wantObjects)
			for _, o := range s.App.Own.Objects {
				if o.GetKind() == "Deployment" {
					r, _, _ := unstructuredInt(o.Object, "spec", "replicas")
					assert.Equal(t, tt.replicas, r)
					if tt.wantReleased != "" {
						assert.Equal(t, tt.wantReleased, o.GetName())
					}
				}
			}
		})
	}
}

func unstructuredInt(m map[string]any, path ...string) (int64, bool, error) {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return 0, false, nil
		}
		v = mm[p]
	}
	switch x := v.(type) {
	case int64:
		return x, true, nil
	case float64:
		return int64(x), true, nil
	}
	return 0, false, nil
}

// Twenty hand-written bad app: blocks, each failing with the file, the
// field and the value that is wrong.
func TestOwnAppErrorsNameFileFieldAndValue(t *testing.T) {
	const m = `manifests: [../examples/httpbin/manifests]`
	tests := []struct {
		name, app, field, value, problem string
		extra                            []string
	}{
		{"missing manifest file", `{manifests: [nope.yaml]}`, "app.manifests[0]", "testdata/nope.yaml", "no such file", nil},
		{"empty manifest path", `{manifests: [""]}`, "app.manifests[0]", "", "empty path", nil},
		{"broken YAML", `{manifests: [bad/broken.yaml]}`, "app.manifests[0]", "testdata/bad/broken.yaml", "not valid YAML", nil},
		{"object without apiVersion", `{manifests: [bad/no-apiversion.yaml]}`, "app.manifests[0]", "testdata/bad/no-apiversion.yaml", "no apiVersion", nil},
		{"folder without YAML", `{manifests: [bad/notachart]}`, "app.manifests[0]", "testdata/bad/notachart", "no .yaml", nil},
		{"missing chart", `{helm: {chart: nochart}}`, "app.helm.chart", "testdata/nochart", "no such file", nil},
		{"chart field missing", `{helm: {values: [x.yaml]}}`, "app.helm.chart", "", "required", nil},
		{"not a chart", `{helm: {chart: bad/notachart}}`, "app.helm.chart", "testdata/bad/notachart", "not a loadable chart", nil},
		{"chart that fails to render", `{helm: {chart: bad/badchart}}`, "app.helm.chart", "testdata/bad/badchart", "render", nil},
		{"missing values file", `{helm: {chart: ../examples/httpbin/chart, values: [missing.yaml]}}`, "app.helm.values[0]", "testdata/missing.yaml", "no such file", nil},
		{"broken values file", `{helm: {chart: ../examples/httpbin/chart, values: [bad/values-broken.yaml]}}`, "app.helm.values", "", "values-broken.yaml", nil},
		{"no such Service", `{` + m + `, service: web}`, "app.service", "web", `no Service "web"`, nil},
		{"no such port", `{` + m + `, service: httpbin:9999}`, "app.service", "httpbin:9999", `no port "9999"`, nil},
		{"Service selects no workload", `{manifests: [../examples/httpbin/manifests, bad/orphan-service.yaml], service: lonely}`, "app.service", "lonely", "no Deployment or StatefulSet", nil},
		{"two Services, none named", `{manifests: [../examples/httpbin/manifests, bad/orphan-service.yaml]}`, "app.service", "", "name one", nil},
		{"cluster-scoped object", `{manifests: [../examples/httpbin/manifests, bad/clusterrole.yaml]}`, "app", "", "ClusterRole/peek is cluster-scoped", nil},
		{"object in another namespace", `{manifests: [../examples/httpbin/manifests, bad/other-namespace.yaml]}`, "app", "", `names namespace "prod"`, nil},
		{"regex without a group", `{` + m + `, attribution: {regex: "Hostname: \\S+"}}`, "app.attribution.regex", `Hostname: \S+`, "capture group", nil},
		{"regex that does not compile", `{` + m + `, attribution: {regex: "(unclosed"}}`, "app.attribution.regex", "(unclosed", "not a regular expression", nil},
		{"two attributions", `{` + m + `, attribution: {header: X-Pod, json: hostname}}`, "app.attribution", "header, json", "exactly one", nil},
		{"unknown attribution", `{` + m + `, attribution: {cookie: x}}`, "app.attribution.cookie", "x", "unknown attribution", nil},
		{"attribution word", `{` + m + `, attribution: hostname}`, "app.attribution", "hostname", "want none", nil},
		{"image archive missing", `{` + m + `, images: [./images/app.tar]}`, "app.images[0]", "./images/app.tar", "no such image archive", nil},
		{"image no container uses", `{` + m + `, images: [nginx:1.27]}`, "app.images[0]", "nginx:1.27", "no container", nil},
		{"images without an app", `{images: [nginx:1.27]}`, "app.images", "nginx:1.27", "needs app.manifests", nil},
		{"service for the sample app", `{service: web}`, "app.service", "web", "needs app.manifests", nil},
		{"sample app setting with own app", `{` + m + `, replicas: 4}`, "app.replicas", "", "setting of the built-in sample app", nil},
		{"bad request method", `{` + m + `, request: {method: FETCH}}`, "app.request.method", "FETCH", "want one of", nil},
		{"request path without slash", `{` + m + `, request: {path: hostname}}`, "app.request.path", "hostname", "must start with /", nil},
		{"body on GET", `{` + m + `, request: {body: "{}"}}`, "app.request.body", "{}", "needs a method", nil},
		{"bad header name", `{` + m + `, request: {headers: {"X Bad": "1"}}}`, "app.request.headers", "X Bad", "not a valid header name", nil},
		{"jain without attribution", `{` + m + `}`, "slo.jain", "0.9", "attribution none", []string{"slo: {availability: 99%, jain: 0.9}"}},
		{"unknown app field", `{` + m + `, chart: x}`, "app.chart", "", "unknown field", nil},
		{"fault target without selector", `{` + m + `}`, "faults[0].target.selector", "", "required", []string{"faults: [{type: pod-kill, at: 2s, target: {port: 6379}}]"}},
		{"fault target bad selector", `{` + m + `}`, "faults[0].target.selector", "app in (", "not a label selector", []string{"faults: [{type: pod-kill, at: 2s, target: {selector: \"app in (\"}}]"}},
	}
	require.GreaterOrEqual(t, len(tests), 20)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ownSpec(tt.app)
			if len(tt.extra) > 0 {
				b = []byte(fmt.Sprintf("name: own\napp: %s\nload: {rate: 10/s, duration: 10s}\n", tt.app))
				hasSLO := false
				for _, e := range tt.extra {
					b = append(b, e+"\n"...)
					hasSLO = hasSLO || len(e) > 4 && e[:4] == "slo:"
				}
				if !hasSLO {
					b = append(b, "slo: {availability: 99%}\n"...)
				}
			}
			_, err := Parse(b, filepath.Join("testdata", "own.yaml"))
			require.Error(t, err)
			var fe *FieldError
			require.ErrorAs(t, err, &fe, "%v", err)
			assert.Equal(t, filepath.Join("testdata", "own.yaml"), fe.File)
			assert.Equal(t, tt.field, fe.Field, "%v", err)
			assert.Equal(t, tt.value, fe.Value, "%v", err)
			assert.Contains(t, err.Error(), tt.problem)
		})
	}
}

// attribution: auto is found at run time: parsed as none for now, with
// slo.jain allowed (skipped, so inconclusive, when none is found); the
// sample app names its pod already, so auto is refused there.
func TestAttributionAuto(t *testing.T) {
	m := `manifests: [../examples/httpbin/manifests]`
	s, err := Parse([]byte("name: own\napp: {"+m+", attribution: auto}\nload: {rate: 10/s, duration: 10s}\nslo: {availability: 99%, jain: 0.9}\n"), filepath.Join("testdata", "own.yaml"))
	require.NoError(t, err)
	assert.True(t, s.App.AutoAttribution)
	assert.True(t, s.App.Attribution.None, "none until the run finds it")

	_, err = Parse([]byte("name: sample\napp: {attribution: auto}\nload: {rate: 10/s, duration: 10s}\nslo: {availability: 99%}\n"), filepath.Join("testdata", "s.yaml"))
	var fe *FieldError
	require.ErrorAs(t, err, &fe, "%v", err)
	assert.Equal(t, "app.attribution", fe.Field)
	assert.Contains(t, err.Error(), "auto is for your own app")
}

// A user's gRPC service: the method it is called with, its request as
// JSON and where the answer names the pod; what does not fit is named.
func TestOwnGRPCService(t *testing.T) {
	const m = `manifests: [../examples/httpbin/manifests], service: httpbin:http`
	spec := func(app, grpc string) []byte {
		return []byte(fmt.Sprintf("name: own\napp: {%s}\nload: {protocol: grpc, grpc: %s, rate: 10/s, duration: 10s}\nslo: {availability: 99%%}\n", app, grpc))
	}
	s, err := Parse(spec(m+", attribution: {grpcField: meta.hostname}", `{method: info.InfoService/Info, data: {message: hi, count: 2}}`), filepath.Join("testdata", "own.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "/info.InfoService/Info", s.Load.GRPCMethod)
	assert.JSONEq(t, `{"message": "hi", "count": 2}`, string(s.Load.GRPCData))
	assert.Equal(t, "meta.hostname", s.App.Attribution.GRPCField)
	assert.Equal(t, "gRPC response field meta.hostname", s.App.Attribution.String())

	s, err = Parse(spec(m+", attribution: {grpcHeader: X-Pod}", `{method: /pkg.Svc/Get}`), filepath.Join("testdata", "own.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "x-pod", s.App.Attribution.GRPCHeader, "metadata keys are lower case")

	for _, c := range []struct{ app, grpc, field, value, problem string }{
		{m + ", attribution: {grpcField: hostname}", `{data: {a: 1}}`, "load.grpc.method", "", "required with your own gRPC service"},
		{m + ", attribution: {grpcField: hostname}", `{method: Info}`, "load.grpc.method", "Info", "want package.Service/Method"},
		{m + ", attribution: {grpcField: hostname}", `{method: a.B/C, data: [1, 2]}`, "load.grpc.data", "[1,2]", "want the request message as an object"},
		{m + ", attribution: {json: hostname}", `{method: a.B/C}`, "app.attribution", "json hostname", "{grpcHeader: NAME} or {grpcField: PATH}"},
		{m + ", attribution: auto", `{method: a.B/C}`, "app.attribution", "auto", "auto reads HTTP responses"},
		{m + ", attribution: {grpcField: a..b}", `{method: a.B/C}`, "app.attribution.grpcField", "a..b", "dot path"},
		{"replicas: 2", `{method: a.B/C}`, "load.grpc.method", "/a.B/C", "the sample app is called on its info method"},
		{m + ", attribution: {grpcField: hostname}", `{method: a.B/C, balancer: round_robin}`, "load.grpc.balancer", "round_robin", "sample app only"},
	} {
		_, err := Parse(spec(c.app, c.grpc), filepath.Join("testdata", "own.yaml"))
		require.Error(t, err, "%s %s", c.app, c.grpc)
		var fe *FieldError
		require.ErrorAs(t, err, &fe, "%v", err)
		assert.Equal(t, c.field, fe.Field, "%v", err)
		assert.Equal(t, c.value, fe.Value, "%v", err)
		assert.Contains(t, err.Error(), c.problem)
	}
	// gRPC attribution without gRPC load
	_, err = Parse(ownSpec("{"+m+", attribution: {grpcField: hostname}}"), filepath.Join("testdata", "own.yaml"))
	require.ErrorContains(t, err, "grpcHeader and grpcField are for load.protocol: grpc")
}
