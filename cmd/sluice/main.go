// Command sluice is the Sluice controller and the fleet admin's command
// line: it runs the server, applies manifests, admits releases, explains
// decisions and reads the audit logs. Run `sluice --help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return cli.ExitOK
	}
	code := cli.Code(err)
	var usage *usageError
	if errors.As(err, &usage) {
		code = cli.ExitUsage
	}
	fmt.Fprintf(stderr, "sluice: %v\n", err)
	return code
}

// usageError marks errors cobra reports about flags and arguments.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "Decide when and how apps on a fleet of Android and POS devices are updated",
		Long: `sluice runs the Sluice controller and talks to it.

Fleet admins describe update policies in YAML; the controller evaluates a
decision per device and app with OPA/Rego, signs it, and publishes it over
NATS to the sluice-agent on each device, which enforces it.

Exit codes: 0 ok, 1 error, 2 usage, 3 invalid input, 4 not found,
5 conflict, 6 forbidden, 7 controller unreachable, 8 unexpected outcome.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(
		newEvalCommand(),
		newServerCommand(),
		newVersionCommand(),
		newApplyCommand(),
		newGetCommand(),
		newDeleteCommand(),
		newExplainCommand(),
		newAuditCommand(),
		newTokenCommand(),
		newReleaseCommand(),
		newRolloutCommand(),
		newDemoCommand(),
	)
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of sluice",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "sluice %s\n", version)
			return err
		},
	}
}

// noArgs and exactArgs report argument mistakes as usage errors.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return &usageError{fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())}
		}
		return nil
	}
}
