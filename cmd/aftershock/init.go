package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aftershock-dev/aftershock/clusters/appsource"
	"github.com/aftershock-dev/aftershock/clusters/nodeimage"
	"github.com/aftershock-dev/aftershock/scenarios"
)

func newInitCmd() *cobra.Command {
	var (
		manifests, values, set []string
		kustomize, chart       string
		service, out, path     string
		force, probe           bool
		f                      runFlags
	)
	cmd := &cobra.Command{
		Use:   "init (--manifests DIR | --kustomize DIR | --helm CHART) [--service NAME[:PORT]] [--out FILE]",
		Short: "Write a first scenario for your own service",
		Long: `Renders your app (manifests, a kustomization or a Helm chart, as a run
does), finds the Service to send load through (asks nothing when there is one
with one port; else name it with --service) and the Deployment behind it,
and writes a commented scenario: a pod kill and a node drain under load, with
SLOs that suit most HTTP services. The scenario is validated before it is
written. Images of the app present in your Docker engine are listed to be
loaded into the nodes.

With --probe it deploys the app once into a kind cluster (a new one, deleted
after, or --cluster NAME), sends a few requests and finds where a response
names the pod that served it (a header, a JSON field or a line of text: the
request path first, then a few well-known paths such as /hostname), and
writes that attribution, the path that showed it, and an evenness SLO.
Without --probe, or when nothing names the pod, it writes attribution: auto
(the run looks itself).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := initSource(manifests, kustomize, chart, values, set)
			if err != nil {
				return err
			}
			if out == "" {
				out = "first-scenario.yaml"
			}
			if _, err := os.Stat(out); err == nil && !force {
				return fmt.Errorf("%s exists; choose another --out, or --force to replace it", out)
			}
			draft := scenarios.DraftOptions{
				Source: src, Service: service, File: out, Path: path,
				ImagePresent: func(img string) bool { return nodeimage.Exists(cmd.Context(), img) },
			}
			b, err := scenarios.Draft(draft)
			if err != nil {
				return err
			}
			if probe {
				if b, err = probeDraft(cmd.Context(), draft, b, f, cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s; run it with: aftershock run %s\n", out, out)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&manifests, "manifests", nil, "manifest files or folders (repeatable)")
	fl.StringVar(&kustomize, "kustomize", "", "a folder holding a kustomization")
	fl.StringVar(&chart, "helm", "", "a local Helm chart (folder or .tgz)")
	fl.StringArrayVar(&values, "values", nil, "Helm values files (repeatable)")
	fl.StringArrayVar(&set, "set", nil, "Helm value overrides KEY=VALUE (repeatable)")
	fl.StringVar(&service, "service", "", "the Service to load through, NAME or NAME:PORT (default: the only one)")
	fl.StringVar(&path, "path", "/", "the request path")
	fl.StringVarP(&out, "out", "o", "first-scenario.yaml", "the scenario file to write")
	fl.BoolVar(&force, "force", false, "replace --out if it exists")
	fl.BoolVar(&probe, "probe", false, "deploy the app once into a kind cluster and find how responses name their pod")
	fl.StringVar(&f.clusterName, "cluster", "", "with --probe: an aftershock kind cluster to use (default: a new one, deleted after)")
	fl.StringVar(&f.nodeImage, "node-image", "", "with --probe: kind node image for the new cluster")
	fl.BoolVar(&f.keepCluster, "keep-cluster", false, "with --probe: leave the new cluster in place")
	fl.BoolVar(&f.verbose, "verbose", false, "log what the libraries do")
	return cmd
}

// initSource is the app source init's flags name: manifests, a
// kustomization, or a Helm chart with its values and KEY=VALUE overrides.
func initSource(manifests []string, kustomize, chart string, values, set []string) (appsource.Source, error) {
	var src appsource.Source
	src.Manifests = append(src.Manifests, manifests...)
	if kustomize != "" {
		src.Manifests = append(src.Manifests, kustomize)
	}
	if chart == "" {
		if len(values) > 0 || len(set) > 0 {
			return src, errors.New("--values and --set are for --helm")
		}
		return src, nil
	}
	h := &appsource.Helm{Chart: chart, Values: values}
	for _, kv := range set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return src, fmt.Errorf("--set %q: want KEY=VALUE", kv)
		}
		if h.Set == nil {
			h.Set = map[string]string{}
		}
		h.Set[k] = v
	}
	src.Helm = h
	return src, nil
}

// probePaths are the paths --probe tries after the request's own, in
// order: where services commonly say who they are.
var probePaths = []string{"/hostname", "/whoami", "/info", "/version", "/healthz", "/"}

// probeDraft deploys the drafted scenario's app once, finds its
// attribution (scenarios.Probe) and drafts again with it.
func probeDraft(ctx context.Context, o scenarios.DraftOptions, drafted []byte, f runFlags, stderr io.Writer) ([]byte, error) {
	s, err := scenarios.Parse(drafted, o.File)
	if err != nil {
		return nil, err
	}
	env, logger, closeEnv, err := openEnv(ctx, f, stderr)
	if err != nil {
		return nil, err
	}
	defer closeEnv()
	a, path, said, err := scenarios.Probe(ctx, s, scenarios.Options{Env: env, Progress: stderr, Logger: logger}, probePaths...)
	if err != nil {
		return nil, fmt.Errorf("init --probe: %w", err)
	}
	fmt.Fprintf(stderr, "probe: %s\n", said)
	if a.None {
		return drafted, nil
	}
	o.Attribution, o.Path = a, path
	return scenarios.Draft(o)
}
