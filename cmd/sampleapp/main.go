// Command sampleapp is the application under test: a small HTTP server that
// says which pod and node served each request (see package server). The
// aftershock executable carries the same program as its "sampleapp" role.
package main

import (
	"os"

	"github.com/aftershock-dev/aftershock/cmd/sampleapp/server"
)

func main() { os.Exit(server.Main(os.Args[1:])) }
