package clusters

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"k8s.io/client-go/rest"
)

// guardREST makes every client built from rc (clientset, dynamic client,
// service proxy) send requests only to the API server rc names: a redirect
// to any other host is refused before a byte leaves this machine, so the
// kubeconfig's credentials (bearer token, client certificate) never reach
// another server.
func guardREST(rc *rest.Config) error {
	host := rc.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err != nil {
		return fmt.Errorf("API server %q: %w", rc.Host, err)
	}
	rc.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return apiOnly{rt: rt, host: u.Host}
	})
	return nil
}

// apiOnly refuses requests to any host but the API server's.
type apiOnly struct {
	rt   http.RoundTripper
	host string
}

func (a apiOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != a.host {
		return nil, fmt.Errorf("refusing a request to %s: credentials for the API server %s go only there (a redirect?)", r.URL.Host, a.host)
	}
	return a.rt.RoundTrip(r)
}
