// Command sluice-agent is the Sluice on-device agent. It enforces the
// controller's signed directives on an Android device (or the simulated
// one), serves the local prompt API, and installs itself as a system
// service through kardianos/service. It is a thin layer over package agent.
//
// On Android no init system is known to kardianos/service: there, `run` is
// what an init script or a companion app starts.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/sluice-mdm/sluice/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sluice-agent:", err)
		os.Exit(cli.Code(err))
	}
}

// run executes the command line args.
func run(args []string, stdout, stderr io.Writer) error {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	return root.Execute()
}
