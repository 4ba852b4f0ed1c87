package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/scenarios"
)

func newReplayCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "replay RESULT.json|DIR",
		Short: "Run a scenario again as a result.json recorded it: same spec, seed, fault times and victims",
		Long: `Reruns the scenario embedded in a result.json (the YAML as run; its own
paths resolve from where it was read) with the same seed and fault times,
and pins each fault to the victims it hit: a pod on the same node (by its
name without the kind cluster's prefix, e.g. worker2) at the same position
among the ready pods there, the same node for node faults. Where the
cluster has no such pod or node, the seeded choice; the new report's
victims say what was hit. Flags as for run (--cluster to reuse a cluster,
--keep-cluster to keep one).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := report.ReadFile(args[0])
			if err != nil {
				return err
			}
			if r.Spec == "" {
				return fmt.Errorf("%s: no scenario embedded (written before replay existed, or an aggregate of --repeat): rerun the scenario file with --seed %d", args[0], r.Seed)
			}
			s, err := scenarios.Parse([]byte(r.Spec), r.SpecFile)
			if err != nil {
				return fmt.Errorf("%s: embedded scenario: %w", args[0], err)
			}
			if hasRedacted(s) {
				// secret request headers were kept out of result.json: the file has them
				if s, err = scenarios.ParseFile(r.SpecFile); err != nil {
					return fmt.Errorf("%s: its scenario's secret request headers were redacted, and the scenario file cannot be read for them: %w", args[0], err)
				}
			}
			pins := ReplayPins(r)
			f.seed, f.repeat = r.Seed, 1
			if err := checkRunFlags(f); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "replay %s: seed %d, %d fault(s) pinned to their victims\n", s.Name, r.Seed, len(pins))
			return runSpecs(cmd.Context(), f, []*scenarios.Spec{s}, pins, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "reports", "folder for the reports")
	fl.BoolVar(&f.keepCluster, "keep-cluster", false, "leave the cluster in place")
	fl.StringVar(&f.nodeImage, "node-image", "", "kind node image (default: one present in Docker, else kind's default pulled, else the offline build)")
	fl.StringVar(&f.clusterName, "cluster", "", "reuse this aftershock kind cluster")
	fl.BoolVar(&f.verbose, "verbose", false, "log what the libraries do")
	return cmd
}

// ReplayPins are the victims a result recorded, by fault occurrence ID.
func ReplayPins(r *report.Result) map[string][]report.Victim {
	pins := map[string][]report.Victim{}
	for _, fr := range r.Faults {
		if len(fr.Victims) > 0 {
			pins[fr.ID] = fr.Victims
		}
	}
	return pins
}

// hasRedacted reports whether a scenario read from result.json lost a
// secret request header's value to redaction.
func hasRedacted(s *scenarios.Spec) bool {
	for k, v := range s.App.Request.Header {
		if scenarios.SecretHeader(k) && len(v) > 0 && v[0] == scenarios.Redacted {
			return true
		}
	}
	return false
}
