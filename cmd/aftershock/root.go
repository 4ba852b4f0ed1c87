package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/ingress"
	"github.com/aftershock-dev/aftershock/clusters/metrics"
	"github.com/aftershock-dev/aftershock/clusters/nodeimage"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "aftershock",
		Short:         "Chaos and resilience scenarios for Kubernetes on kind, with pass/fail reports",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newValidateCmd(), newListCmd(), newReportCmd(), newCompareCmd(), newTrendCmd(), newReplayCmd(), newNodeImageCmd(), newIngressImageCmd(), newMetricsImageCmd(), newImageCmd(), newCleanCmd(), newVersionCmd(), newInitCmd())
	return root
}

func newNodeImageCmd() *cobra.Command {
	var opts nodeimage.Options
	var printOnly, force bool
	cmd := &cobra.Command{
		Use:   "node-image",
		Short: "Build (or reuse) the offline kind node image and print its tag",
		Long: `Builds a kind node image without any container registry: Kubernetes and
its components are compiled from the Go module proxy, the root file system
comes from Debian. An image with the same inputs is reused at once.

This is the one command that needs the Go toolchain and the aftershock source
tree (run it from the source folder). Every other command, "run" included,
works from an installed binary with only Docker present: "run" then uses the
node image present in Docker (this build, kind's default kindest/node, or
the newest one built here), else pulls kind's default where a registry is
reachable ("aftershock version" says which it will use).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Progress = os.Stderr
			if printOnly {
				tag, err := nodeimage.Tag(opts)
				if err != nil {
					return err
				}
				fmt.Println(tag)
				return nil
			}
			start := time.Now()
			var tag string
			var err error
			if force {
				tag, err = nodeimage.Tag(opts)
				if err == nil {
					err = nodeimage.Build(cmd.Context(), opts)
				}
			} else {
				tag, err = nodeimage.Ensure(cmd.Context(), opts)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "node image ready in %s\n", time.Since(start).Round(10*time.Millisecond))
			fmt.Println(tag)
			return nil
		},
	}
	cmd.Flags().BoolVar(&printOnly, "print-tag", false, "print the tag the inputs give, build nothing")
	cmd.Flags().BoolVar(&force, "force", false, "build even if the image exists")
	cmd.Flags().StringVar(&opts.CacheDir, "cache-dir", "", "where binaries and the root file system are cached (default ~/.cache/aftershock/nodeimage)")
	return cmd
}

func newIngressImageCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "ingress-image",
		Short: "Build (or reuse) the Ingress controller's image (Traefik " + ingress.Version + ") and print its archive",
		Long: `Builds the image of the Ingress controller that load.via: ingress installs:
Traefik ` + ingress.Version + `, compiled from the Go module proxy (about 5 min on 2 cores;
needs the Go toolchain, like node-image), packed as a one-file image and kept
in ~/.cache/aftershock/ingress. "run" builds it on first use when Go is
present.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			if force {
				if a, err := ingress.Archive(); err == nil {
					os.Remove(a)
				}
			}
			img, err := ingress.EnsureImage(cmd.Context(), os.Stderr)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "ingress image ready in %s\n", time.Since(start).Round(10*time.Millisecond))
			fmt.Println(img.Archive)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "build even if it is cached")
	return cmd
}

func newMetricsImageCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "metrics-image",
		Short: "Build (or reuse) metrics-server's image (" + metrics.Version + ") and print its archive",
		Long: `Builds the image of metrics-server, which an autoscaling scenario installs:
` + metrics.Module + ` ` + metrics.Version + `, compiled from the Go module proxy (needs the Go
toolchain, like node-image), packed as a one-file image and kept in
~/.cache/aftershock/metrics-server. "run" builds it on first use when Go is
present.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			if force {
				if a, err := metrics.Archive(); err == nil {
					os.Remove(a)
				}
			}
			img, err := metrics.EnsureImage(cmd.Context(), os.Stderr)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "metrics-server image ready in %s\n", time.Since(start).Round(10*time.Millisecond))
			fmt.Println(img.Archive)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "build even if it is cached")
	return cmd
}

func newImageCmd() *cobra.Command {
	var repo, out string
	var push bool
	cmd := &cobra.Command{
		Use:   "image --image-repo REPO [--push]",
		Short: "Pack this executable as the image a cluster aftershock did not create pulls (sample app, load pods)",
		Long: `Packs the running aftershock executable as REPO/aftershock:TAG (TAG from
its digest, the tag "run --kubeconfig --image-repo REPO" asks the nodes to
pull), writes it as a docker-save archive into --out and prints the
reference and the archive. With --push it pushes the image to REPO's
registry with the credentials of your Docker config (docker login).
Without --push, load the archive where your nodes can pull it (docker load,
then docker push; or crane push ARCHIVE REF).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if repo == "" {
				return errors.New("--image-repo: required, e.g. registry.example.com/team")
			}
			if out == "" {
				d, err := os.UserCacheDir()
				if err != nil {
					return err
				}
				out = filepath.Join(d, "aftershock", "images")
			}
			img, err := clusters.BuildAppImageIn(cmd.Context(), out, repo)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), img.Ref)
			fmt.Fprintln(cmd.OutOrStdout(), img.Archive)
			if push {
				start := time.Now()
				if err := clusters.PushImage(cmd.Context(), img); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "pushed %s in %s\n", img.Ref, time.Since(start).Round(10*time.Millisecond))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&repo, "image-repo", "", "repository to tag (and push) the image under: REPO/aftershock:TAG")
	cmd.Flags().StringVar(&out, "out", "", "folder for the archive (default: the user cache dir, aftershock/images)")
	cmd.Flags().BoolVar(&push, "push", false, "push the image to REPO's registry")
	return cmd
}
