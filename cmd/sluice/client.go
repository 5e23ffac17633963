package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/client"
)

// Environment variables the commands that talk to the controller read.
const (
	envServer = "SLUICE_SERVER"
	envToken  = "SLUICE_TOKEN"
)

// Default --timeout of requests, and of release admissions, which wait for
// the controller to download or receive and check an APK.
const (
	defaultTimeout        = 30 * time.Second
	defaultReleaseTimeout = 10 * time.Minute
)

// clientFlags are the global flags of every command that talks to the
// controller.
type clientFlags struct {
	server    string
	token     string
	tokenFile string
	timeout   time.Duration
}

// clientHelp is appended to the Long help of every such command.
const clientHelp = `

The controller is --server, else $SLUICE_SERVER, else http://127.0.0.1:8080.
The token is --token, else the first line of --token-file, else $SLUICE_TOKEN.`

// addClientFlags adds --server, --token, --token-file and --timeout to cmd
// and its sub-commands.
func addClientFlags(cmd *cobra.Command, timeout time.Duration) *clientFlags {
	f := &clientFlags{}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.server, "server", "", "controller base URL (default $"+envServer+" or "+client.DefaultServer+")")
	pf.StringVar(&f.token, "token", "", "API token (default $"+envToken+")")
	pf.StringVar(&f.tokenFile, "token-file", "", "file whose first line is the API token")
	pf.DurationVar(&f.timeout, "timeout", timeout, "give up when the controller has not answered after this long (0: wait forever)")
	return f
}

// resolveToken applies the precedence --token, --token-file, $SLUICE_TOKEN.
func (f *clientFlags) resolveToken() (string, error) {
	if f.token != "" && f.tokenFile != "" {
		return "", cli.Errorf(cli.ExitUsage, "--token and --token-file: give one of them, not both")
	}
	if f.token != "" {
		return strings.TrimSpace(f.token), nil
	}
	if f.tokenFile != "" {
		data, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return "", cli.Errorf(cli.ExitUsage, "--token-file: %v", err)
		}
		first, _, _ := strings.Cut(string(data), "\n")
		tok := strings.TrimSpace(first)
		if tok == "" {
			return "", cli.Errorf(cli.ExitUsage, "--token-file: %s holds no token on its first line", f.tokenFile)
		}
		return tok, nil
	}
	return strings.TrimSpace(os.Getenv(envToken)), nil
}

// connection is a client and the context bounded by --timeout.
type connection struct {
	*client.Client
	flags  *clientFlags
	token  bool
	ctx    context.Context
	cancel context.CancelFunc
}

// connect builds the client from the flags and the environment. The
// caller calls Close.
func (f *clientFlags) connect(cmd *cobra.Command) (*connection, error) {
	if f.timeout < 0 {
		return nil, cli.Errorf(cli.ExitUsage, "--timeout: %s is negative; want a duration such as 30s, or 0 to wait forever", f.timeout)
	}
	server := f.server
	if server == "" {
		server = os.Getenv(envServer)
	}
	tok, err := f.resolveToken()
	if err != nil {
		return nil, err
	}
	c, err := client.New(client.Config{Server: server, Token: tok, UserAgent: "sluice/" + version, HTTPClient: &http.Client{}})
	var ce *client.ConfigError
	if errors.As(err, &ce) {
		return nil, cli.Errorf(cli.ExitUsage, "--%s: %s", ce.Field, strings.TrimPrefix(ce.Error(), "client: "))
	}
	if err != nil {
		return nil, cli.WithCode(cli.ExitUsage, err)
	}
	ctx, cancel := cmd.Context(), context.CancelFunc(func() {})
	if ctx == nil {
		ctx = context.Background()
	}
	if f.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
	}
	return &connection{Client: c, flags: f, token: tok != "", ctx: ctx, cancel: cancel}, nil
}

// Close releases the connection's context.
func (c *connection) Close() { c.cancel() }

// fail turns a client error into the error the command exits with: the
// server's sentences as they are, with the exit code of their status.
func (c *connection) fail(err error) error {
	if err == nil {
		return nil
	}
	var ue *client.UnavailableError
	var ae *client.APIError
	switch {
	case errors.As(err, &ue) && ue.Timeout:
		return cli.Errorf(cli.ExitUnavailable, "the controller at %s did not answer within %s (raise --timeout if it is busy): %v", c.Server(), c.flags.timeout, ue.Err)
	case errors.As(err, &ue):
		return cli.Errorf(cli.ExitUnavailable, "cannot reach the controller at %s: is `sluice server` running? (%v)", c.Server(), ue.Err)
	case errors.As(err, &ae):
		msg := ae.Error()
		if ae.Status == http.StatusUnauthorized && !c.token {
			msg += "\n  give a token with --token, --token-file or $" + envToken
		}
		return cli.WithCode(exitCodeOf(ae.Status), errors.New(msg))
	case errors.Is(err, context.Canceled):
		return cli.Errorf(cli.ExitError, "interrupted")
	}
	return cli.WithCode(cli.ExitError, err)
}

// exitCodeOf maps an HTTP status of an error answer to an exit code.
func exitCodeOf(status int) int {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return cli.ExitInvalid
	case http.StatusUnauthorized, http.StatusForbidden:
		return cli.ExitForbidden
	case http.StatusNotFound:
		return cli.ExitNotFound
	case http.StatusConflict:
		return cli.ExitConflict
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		return cli.ExitUnavailable
	}
	return cli.ExitError
}

// timeText formats a time for tables: UTC to the second, "-" when unset.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// usage marks a flag or argument mistake found by a command itself.
func usage(format string, args ...any) error {
	return cli.Errorf(cli.ExitUsage, format, args...)
}

// outputFlag adds -o with the formats allowed, the first the default.
func outputFlag(cmd *cobra.Command, dst *string, formats ...string) {
	cmd.Flags().StringVarP(dst, "output", "o", formats[0], "output format: "+strings.Join(formats, ", "))
}

// needSubcommand is the RunE of a command that only groups others.
func needSubcommand(cmd *cobra.Command, args []string) error {
	names := []string{}
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	what := "give a sub-command"
	if len(args) > 0 {
		what = fmt.Sprintf("%q is not a sub-command", args[0])
	}
	return usage("%s: %s; want one of %s (see '%s --help')", cmd.CommandPath(), what, strings.Join(names, ", "), cmd.CommandPath())
}
