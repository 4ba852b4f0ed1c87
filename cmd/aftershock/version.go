package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aftershock-dev/aftershock/clusters/nodeimage"
)

// The modules whose versions say what this build targets.
var versionModules = []struct{ path, what string }{
	{"sigs.k8s.io/kind", "kind library"},
	{"k8s.io/client-go", "Kubernetes client"},
	{"github.com/tsenart/vegeta/v12", "vegeta"},
	{"google.golang.org/grpc", "grpc-go"},
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print aftershock's version, the libraries it targets and the node image a run uses",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, ok := debug.ReadBuildInfo()
			if !ok {
				return fmt.Errorf("version: no build information in this binary")
			}
			writeVersion(cmd.OutOrStdout(), bi)
			c, err := nodeimage.Choose(cmd.Context(), nodeimage.ChooseOptions{DryRun: true})
			if err != nil {
				return err
			}
			img := c.Image
			if img == "" {
				img = "-"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node image:        %s: %s\n", img, c.Why)
			fmt.Fprintf(cmd.OutOrStdout(), "kind default:      %s\n", nodeimage.KindDefault)
			fmt.Fprintf(cmd.OutOrStdout(), "offline build:     Kubernetes %s\n", nodeimage.DefaultVersions.Kubernetes)
			return nil
		},
	}
}

// writeVersion prints the main module's version (with the VCS revision of
// a build from a checkout) and the versions of versionModules.
func writeVersion(w io.Writer, bi *debug.BuildInfo) {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if rev != "" {
		v += fmt.Sprintf(" (%.12s%s)", rev, dirty)
	}
	fmt.Fprintf(w, "aftershock %s, %s\n", v, bi.GoVersion)
	deps := map[string]string{}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		deps[d.Path] = d.Version
	}
	for _, m := range versionModules {
		ver := deps[m.path]
		if ver == "" {
			ver = "-"
		}
		extra := ""
		if m.path == "k8s.io/client-go" && strings.HasPrefix(ver, "v0.") {
			extra = " (Kubernetes 1." + strings.SplitN(strings.TrimPrefix(ver, "v0."), ".", 2)[0] + ")"
		}
		fmt.Fprintf(w, "%-18s %s %s%s\n", m.what+":", m.path, ver, extra)
	}
}
