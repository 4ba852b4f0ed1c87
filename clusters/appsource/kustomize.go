package appsource

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// remoteLike matches what kustomize would fetch over the network: a URL,
// a git address, or a host/path reference (github.com/org/repo//dir?ref=v1).
var remoteLike = regexp.MustCompile(`://|^git@|\?ref=|^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+/`)

// checkNoRemote refuses a kustomization (and the local ones it includes)
// that names a remote resource, base, component or Helm chart repository:
// aftershock never fetches anything while it validates or runs. The error
// names the remote reference and the file naming it.
func checkNoRemote(dir string, seen map[string]bool) error {
	abs, err := filepath.Abs(dir)
	if err != nil || seen[abs] {
		return err
	}
	seen[abs] = true
	var file string
	for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			file = filepath.Join(dir, n)
			break
		}
	}
	if file == "" {
		return nil
	}
	b, err := ReadFileLimited(file, MaxFileBytes)
	if err != nil {
		return err
	}
	var k struct {
		Resources  []string `json:"resources"`
		Bases      []string `json:"bases"`
		Components []string `json:"components"`
		HelmCharts []struct {
			Name string `json:"name"`
			Repo string `json:"repo"`
		} `json:"helmCharts"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	for _, h := range k.HelmCharts {
		if h.Repo != "" {
			return fmt.Errorf("%s: helmCharts %q: repo %q is remote; aftershock never fetches from the network: vendor the chart into the folder", file, h.Name, h.Repo)
		}
	}
	for _, field := range [][]string{k.Resources, k.Bases, k.Components} {
		for _, r := range field {
			local := filepath.Join(dir, r)
			st, err := os.Stat(local)
			if err == nil && st.IsDir() {
				if err := checkNoRemote(local, seen); err != nil {
					return err
				}
				continue
			}
			if err != nil && remoteLike.MatchString(strings.TrimSpace(r)) {
				return fmt.Errorf("%s: resource %q is remote; aftershock never fetches from the network while validating or running: vendor it into the folder", file, r)
			}
		}
	}
	return nil
}
