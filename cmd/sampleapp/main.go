// Command sampleapp is the application under test: a small HTTP server that
// says which pod and node served each request. The aftershock executable
// carries the same program as its "sampleapp" role (clusters/multicall).
package main

import (
	"fmt"
	"os"

	"github.com/aftershock-dev/aftershock/clusters/multicall"
)

func main() {
	code, err := multicall.Run(multicall.SampleApp, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "sampleapp:", err)
	}
	os.Exit(code)
}
