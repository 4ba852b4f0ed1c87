// Command image puts the podinfo example's image
// (aftershock.dev/examples/podinfo:6.9.2) into the local Docker engine,
// built from the Go module proxy without a registry: `make example-images`.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aftershock-dev/aftershock/clusters/clustertest"
)

func main() {
	ref, err := clustertest.EnsurePodinfoImage(context.Background(), os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "example image:", err)
		os.Exit(1)
	}
	fmt.Println(ref)
}
