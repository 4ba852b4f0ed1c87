// Command aftershock-agent is the userspace network-fault agent (see package
// delay). The aftershock executable carries the same program: copied into a
// node as aftershock-agent, it runs as the agent.
package main

import (
	"os"

	"github.com/aftershock-dev/aftershock/cmd/aftershock-agent/delay"
)

func main() { os.Exit(delay.Main(os.Args[1:])) }
