// Command aftershock-agent is the userspace network-fault agent. The
// aftershock executable carries the same program: copied into a node as
// aftershock-agent, it runs as the agent (clusters/multicall).
package main

import (
	"fmt"
	"os"

	"github.com/aftershock-dev/aftershock/clusters/multicall"
)

func main() {
	code, err := multicall.Run(multicall.Agent, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "aftershock-agent:", err)
	}
	os.Exit(code)
}
