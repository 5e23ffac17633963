package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/controller"
	"github.com/sluice-mdm/sluice/internal/cli"
)

type serverOptions struct {
	dataDir    string
	natsURL    string
	natsListen string
	httpAddr   string
	publicURL  string
	replicas   int
	logFormat  string
	logLevel   string
}

func newServerCommand() *cobra.Command {
	var o serverOptions
	cmd := &cobra.Command{
		Use:   "server [--data DIR] [--nats-url URL] [--nats-listen ADDR] [--http ADDR] [--public-url URL]",
		Short: "Run the Sluice controller",
		Long: `server runs the controller: it keeps policies, releases, groups,
assignments, the device inventory and every log in NATS JetStream, evaluates a
decision per device and app, and publishes signed directives to the agents.

Without --nats-url it runs its own NATS server with JetStream, storing under
--data and listening for devices on --nats-listen. With --nats-url it uses an
external NATS (cluster) instead; run several controllers on one cluster to
share the work (they must share the same controller.key).

On first start it creates, under --data, the Ed25519 signing key
(controller.key) and the public key agents pin (controller.pub), and prints a
superadmin API token once. SIGINT or SIGTERM stops it cleanly: requests in
flight finish, queued evaluations complete, nothing is left half-written.`,
		Example: `  # One machine, everything in ./sluice-data
  sluice server

  # Devices on the LAN reach NATS and artifacts at this machine's address
  sluice server --nats-listen 0.0.0.0:4222 --http 0.0.0.0:8080 \
    --public-url http://sluice.lan:8080

  # Join an external JetStream cluster, JSON logs for the log collector
  sluice server --nats-url nats://n1:4222,nats://n2:4222,nats://n3:4222 \
    --replicas 3 --log-format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServerCommand(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data", controller.DefaultDataDir, "data directory: signing key and, with the embedded NATS server, JetStream storage")
	f.StringVar(&o.natsURL, "nats-url", "", "external NATS URL(s), comma-separated; empty runs an embedded NATS server")
	f.StringVar(&o.natsListen, "nats-listen", controller.DefaultNATSListenAddr, "where the embedded NATS server listens for devices")
	f.StringVar(&o.httpAddr, "http", controller.DefaultHTTPAddr, "where the HTTP API listens")
	f.StringVar(&o.publicURL, "public-url", "", "base URL devices use for /artifacts (default http://<--http address>)")
	f.IntVar(&o.replicas, "replicas", 1, "JetStream replicas of every bucket and stream (3 or 5 on a cluster)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

func runServerCommand(cmd *cobra.Command, o serverOptions) error {
	logger, err := newServerLogger(cmd.ErrOrStderr(), o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	s, err := controller.NewServer(controller.Config{
		DataDir:    o.dataDir,
		NATSURL:    o.natsURL,
		NATSListen: o.natsListen,
		HTTPAddr:   o.httpAddr,
		PublicURL:  o.publicURL,
		Replicas:   o.replicas,
		Logger:     logger,
		Stdout:     cmd.OutOrStdout(),
	})
	if err != nil {
		return cli.WithCode(cli.ExitUsage, err)
	}
	if err := s.Run(cmd.Context()); err != nil {
		return err
	}
	return nil
}

// newServerLogger builds the slog logger the flags ask for.
func newServerLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, cli.Errorf(cli.ExitUsage, "--log-level: %q is not one of debug, info, warn, error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, cli.WithCode(cli.ExitUsage, fmt.Errorf("--log-format: %q is not one of text, json", format))
}
