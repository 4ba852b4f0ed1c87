package scenarios

import (
	"strings"

	"sigs.k8s.io/yaml"
)

// Redacted replaces the value of a secret request header in the scenario
// kept in result.json.
const Redacted = "REDACTED"

// secretHeaders are request headers whose values never reach a report.
var secretHeaders = map[string]bool{"authorization": true, "proxy-authorization": true, "cookie": true, "x-api-key": true, "x-auth-token": true}

// SecretHeader reports whether a request header's value is kept out of
// reports.
func SecretHeader(name string) bool { return secretHeaders[strings.ToLower(name)] }

// RedactedSource is a scenario's YAML as reports keep it: the values of
// secret request headers (app.request.headers: Authorization, Cookie, ...)
// replaced by Redacted. redacted says whether anything was; the YAML is
// returned unchanged (comments and all) when nothing was.
func RedactedSource(src []byte) (out []byte, redacted bool) {
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return src, false
	}
	app, _ := doc["app"].(map[string]any)
	req, _ := app["request"].(map[string]any)
	hs, _ := req["headers"].(map[string]any)
	for k := range hs {
		if SecretHeader(k) {
			hs[k] = Redacted
			redacted = true
		}
	}
	if !redacted {
		return src, false
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return []byte("# scenario withheld: it holds secret request headers\n"), true
	}
	return b, true
}
