// Command aftershock runs chaos and resilience scenarios against a kind
// cluster and writes pass/fail reports. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aftershock-dev/aftershock/clusters/multicall"
)

// exitError carries a process exit code without printing twice.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	// run as "sampleapp" or "aftershock-agent", this executable is that program
	multicall.Main()
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	stop := onSignals(sigs, cancel, os.Exit, InterruptBound, os.Stderr)
	err := newRootCmd().ExecuteContext(ctx)
	signal.Stop(sigs)
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

// InterruptBound is how long a stopping run may take to revert its faults
// and remove its namespace after the first signal before it exits anyway.
const InterruptBound = 4 * time.Minute

// leftHint names what an exit without reverting may leave and what removes it.
const leftHint = "Faults may remain (cordoned nodes, paused or stopped node containers, iptables rules, delay agents, scenario namespaces): run `aftershock clean --keep` to remove them"

// onSignals cancels the run on the first SIGINT, SIGTERM or SIGHUP, so
// that every fault is reverted and the scenario's namespace removed, and
// says so. A second signal does not stop that (CI runners such as GitHub
// Actions send SIGINT, then SIGTERM 7.5 s later); a third one, or bound
// passing, exits at once, naming the command that removes what may remain.
func onSignals(sigs <-chan os.Signal, cancel context.CancelFunc, exit func(int), bound time.Duration, w io.Writer) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(w, "aftershock: %s: stopping; reverting every fault and removing the scenario namespace (at most %s; a third signal exits at once)\n", s, bound)
			cancel()
		case <-done:
			return
		}
		timer := time.NewTimer(bound)
		defer timer.Stop()
		for n := 2; ; n++ {
			select {
			case s := <-sigs:
				if n < 3 {
					fmt.Fprintf(w, "aftershock: %s: still reverting (a third signal exits at once)\n", s)
					continue
				}
				fmt.Fprintf(w, "aftershock: %s, the third signal: exiting now. %s\n", s, leftHint)
				exit(130)
				return
			case <-timer.C:
				fmt.Fprintf(w, "aftershock: reverting took longer than %s: exiting now. %s\n", bound, leftHint)
				exit(130)
				return
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}
