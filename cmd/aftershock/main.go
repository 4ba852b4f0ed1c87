// Command aftershock runs chaos and resilience scenarios against a kind
// cluster and writes pass/fail reports. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/aftershock-dev/aftershock/clusters/multicall"
	"github.com/aftershock-dev/aftershock/faults"
)

// exitError carries a process exit code without printing twice.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	// run as "sampleapp" or "aftershock-agent", this executable is that program
	multicall.Main()
	ctx, cancel := context.WithCancel(context.Background())
	stop := onSignals(cancel)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "aftershock:", err)
		os.Exit(1)
	}
}

// onSignals cancels the run on the first SIGINT or SIGTERM, so that every
// fault is reverted (bounded by faults.RevertTimeout) and the scenario's
// namespace removed, and says so; a second signal exits at once, naming the
// command that removes what may remain.
func onSignals(cancel context.CancelFunc) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "aftershock: %s: stopping; reverting every fault and removing the scenario namespace (at most %s; a second signal exits at once)\n", s, faults.RevertTimeout)
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "aftershock: %s again: exiting now. Faults may remain (cordoned nodes, paused or stopped node containers, iptables rules, delay agents, scenario namespaces): run `aftershock clean --keep` to remove them\n", s)
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
