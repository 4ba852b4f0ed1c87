// Command image puts the go-httpbin example's image
// (aftershock.dev/examples/go-httpbin:v2.26.0) into the local Docker engine,
// built from the Go module proxy without a registry: `make example-images`.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aftershock-dev/aftershock/clusters/clustertest"
)

func main() {
	ref, err := clustertest.EnsureHTTPBinImage(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "example image:", err)
		os.Exit(1)
	}
	fmt.Println(ref)
}
