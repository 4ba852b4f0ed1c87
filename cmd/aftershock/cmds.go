package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/ingress"
	"github.com/aftershock-dev/aftershock/clusters/metrics"
	"github.com/aftershock-dev/aftershock/faults"
	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/report/render"
	"github.com/aftershock-dev/aftershock/scenarios"
)

func newListCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List scenario files and the kind clusters aftershock created",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			files, err := scenarios.Files(dir)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "scenarios:")
			listScenarios(w, files)
			names, err := clusters.List(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "clusters:")
			for _, n := range names {
				fmt.Fprintf(w, "  %s\n", n)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "scenarios", "folder of scenario files")
	return cmd
}

// listScenarios writes a line per scenario file, in columns: file, name,
// fault types, expected verdict (or why the file is invalid).
func listScenarios(w io.Writer, files []string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	for _, f := range files {
		s, err := scenarios.ParseFile(f)
		if err != nil {
			fmt.Fprintf(tw, "  %s\tINVALID: %s\n", f, strings.ReplaceAll(err.Error(), "\n", "; "))
			continue
		}
		var types []string
		for _, ft := range s.Faults {
			types = append(types, ft.Type)
		}
		fmt.Fprintf(tw, "  %s\t%s\tfaults: %s\texpect %s\n", f, s.Name, orDash(strings.Join(types, ",")), s.Expect)
	}
}

func newReportCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "report RESULT.json|DIR",
		Short: "Re-render junit.xml, report.md and report.html from a result.json",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := report.ReadFile(args[0])
			if err != nil {
				return err
			}
			src := args[0]
			if fi, err := os.Stat(src); err == nil && !fi.IsDir() {
				src = filepath.Dir(src)
			}
			if out == "" {
				out = src
			}
			// the original result.json is never rewritten
			write := render.WriteDir
			if same, _ := sameDir(out, src); same {
				write = render.WriteReports
			}
			if err := write(out, r); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), render.Summary(r))
			fmt.Fprintln(cmd.OutOrStdout(), "written to", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "folder to write to (default: the result's folder)")
	return cmd
}

func newCleanCmd() *cobra.Command {
	var (
		keep, allowForeign bool
		kubeconfig         string
	)
	cmd := &cobra.Command{
		Use:   "clean [CLUSTER...]",
		Short: "Remove what faults left behind (after a killed run) and delete aftershock's clusters",
		Long: `For each aftershock kind cluster (or the named ones): uncordons marked nodes,
restarts paused or stopped node containers, removes tagged iptables rules,
netem qdiscs and delay agents, then deletes the cluster; with --keep it
instead deletes the scenario namespaces runs left (found by label, with the
NodePort their Services hold), cluster-scoped objects deployed with them,
the Ingress controller and metrics-server (reinstalled by the next run that
needs them).
Without cluster names it also removes the lease files (~/.cache/aftershock/
locks) of aftershock clusters that no longer exist. Idempotent. It takes
each cluster alone: while scenarios run on it (another aftershock run, a
--parallel suite, a go test) it waits, at most 10 minutes, until they end.

With --kubeconfig (and --allow-foreign-cluster), for a cluster aftershock did
not create: uncordons the nodes a drain marked (never one its owner
cordoned) and deletes the scenario namespaces runs left; the cluster stays.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if kubeconfig != "" {
				if len(args) > 0 {
					return errors.New("--kubeconfig names the cluster: give no cluster names")
				}
				return cleanForeign(cmd.Context(), cmd.OutOrStdout(), kubeconfig, allowForeign)
			}
			names := args
			if len(names) == 0 {
				var err error
				if names, err = clusters.List(cmd.Context()); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			var failed bool
			for _, n := range names {
				if !cleanCluster(cmd.Context(), w, n, keep) {
					failed = true
				}
			}
			if len(names) == 0 {
				fmt.Fprintln(w, "no aftershock clusters")
			}
			if len(args) == 0 {
				// every cluster cleaned: lease files of ones gone go too
				if gone, err := clusters.RemoveStaleLeaseFiles(cmd.Context()); err == nil && len(gone) > 0 {
					fmt.Fprintf(w, "removed %d lease file(s) of clusters that no longer exist\n", len(gone))
				}
			}
			if failed {
				return exitError{exitFail}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "clean leftovers but keep the clusters")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "clean a cluster aftershock did not create (needs --allow-foreign-cluster; never deletes it)")
	cmd.Flags().BoolVar(&allowForeign, "allow-foreign-cluster", false, "allow cleaning a cluster aftershock did not create")
	return cmd
}

// cleanCluster removes what faults left on the aftershock cluster name, then
// deletes it, or with keep removes the scenario namespaces, the Ingress
// controller and metrics-server instead. It says what it did on w and
// whether all went well.
func cleanCluster(ctx context.Context, w io.Writer, name string, keep bool) bool {
	ok := true
	fail := func(err error) {
		fmt.Fprintf(w, "%s: %v\n", name, err)
		ok = false
	}
	c, err := clusters.Open(ctx, name, nil)
	if err != nil {
		fail(err)
		return false
	}
	l, err := holdAlone(ctx, w, c)
	if err != nil {
		fail(err)
		return false
	}
	defer l.Release()
	removed, err := faults.Clean(ctx, c)
	for _, r := range removed {
		fmt.Fprintf(w, "%s: removed %s\n", name, r)
	}
	if err != nil {
		fail(err)
	}
	if !keep {
		if err := c.Delete(ctx); err != nil {
			fail(err)
			return false
		}
		fmt.Fprintf(w, "%s: deleted\n", name)
		return ok
	}
	if ingress.Installed(ctx, c) {
		if err := ingress.Uninstall(ctx, c); err != nil {
			fail(err)
		} else {
			fmt.Fprintf(w, "%s: removed the Ingress controller (namespace %s, its RBAC and IngressClass)\n", name, ingress.Namespace)
		}
	}
	// before the namespaces: its namespace is aftershock's too, and deleted
	// without its APIService it would leave that pointing at nothing, which
	// blocks the deletion of every namespace of the cluster
	if metrics.Installed(ctx, c) {
		if err := metrics.Uninstall(ctx, c); err != nil {
			fail(err)
		} else {
			fmt.Fprintf(w, "%s: removed metrics-server (namespace %s, its APIService %s and RBAC)\n", name, metrics.Namespace, metrics.APIService)
		}
	}
	// a killed run's namespace still holds the NodePort
	gone, err := c.DeleteScenarioNamespaces(ctx)
	for _, g := range gone {
		fmt.Fprintf(w, "%s: removed %s\n", name, g)
	}
	if err != nil {
		fail(err)
	}
	return ok
}

// cleanWait bounds how long clean waits for the scenarios running on a
// cluster (on this machine) to end.
const cleanWait = 10 * time.Minute

// holdAlone takes c alone for clean: it never removes what a running
// scenario is using.
func holdAlone(ctx context.Context, w io.Writer, c *clusters.Cluster) (*clusters.Lease, error) {
	wctx, cancel := context.WithTimeout(ctx, cleanWait)
	defer cancel()
	return c.Lease(wctx, true, func() {
		fmt.Fprintf(w, "%s: scenarios are running on it; waiting until they end (at most %s)\n", c.Name, cleanWait)
	})
}

// cleanForeign cleans what runs left on a cluster aftershock did not create.
func cleanForeign(ctx context.Context, w io.Writer, kubeconfig string, allow bool) error {
	c, err := clusters.FromKubeconfig(kubeconfig, allow)
	if err != nil {
		return err
	}
	l, err := holdAlone(ctx, w, c)
	if err != nil {
		return err
	}
	defer l.Release()
	done, err := faults.CleanForeign(ctx, c)
	gone, nerr := c.DeleteScenarioNamespaces(ctx)
	for _, g := range gone {
		done = append(done, "removed "+g)
	}
	for _, d := range done {
		fmt.Fprintf(w, "%s: %s\n", c.Name, d)
	}
	if len(done) == 0 && err == nil && nerr == nil {
		fmt.Fprintf(w, "%s: nothing left by aftershock\n", c.Name)
	}
	if err := errors.Join(err, nerr); err != nil {
		fmt.Fprintf(w, "%s: %v\n", c.Name, err)
		return exitError{exitFail}
	}
	return nil
}

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check scenario files without a cluster (for a pre-merge CI step); exit 1 on any error",
		Long: `Reads every scenario file as run would: strict YAML, every field checked,
your manifests, kustomization or Helm chart rendered, the Service to load
through found. Needs no Docker and no cluster.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			w := cmd.OutOrStdout()
			bad := 0
			for _, f := range files {
				s, err := scenarios.ParseFile(f)
				if err != nil {
					bad++
					fmt.Fprintf(w, "INVALID %v\n", err)
					continue
				}
				app := "sample app"
				if s.App.Own != nil {
					app = fmt.Sprintf("own app, %d objects", len(s.App.Own.Objects))
				}
				fmt.Fprintf(w, "ok      %s (%s; %d fault(s); expect %s)\n", f, app, len(s.Faults), s.Expectation())
			}
			if bad > 0 {
				return exitError{exitFail}
			}
			return nil
		},
	}
}

// sameDir reports whether a and b name the same folder.
func sameDir(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}
