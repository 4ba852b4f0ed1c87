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
)

// exitError carries a process exit code without printing twice.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	// run as "sampleapp" or "aftershock-agent", this executable is that program
	multicall.Main()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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
