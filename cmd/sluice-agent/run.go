package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/agent"
	"github.com/sluice-mdm/sluice/agent/platform"
	"github.com/sluice-mdm/sluice/agent/platform/android"
	"github.com/sluice-mdm/sluice/agent/platform/sim"
	"github.com/sluice-mdm/sluice/internal/cli"
)

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice-agent",
		Short: "Enforce Sluice update directives on this device",
		Long: `sluice-agent keeps this device's apps updated the way the Sluice controller
decides: it receives signed directives over NATS, waits for the right moment
(Wi-Fi, charging, idle, not in the foreground, maintenance window), downloads
and verifies the APK, installs it, and reports back.`,
		Example: `  sluice-agent run --nats nats://controller:4222 --device-id pos-001 \
      --data /var/lib/sluice-agent --controller-key controller.pub --platform android
  sluice-agent run --config /etc/sluice-agent.yaml
  sluice-agent status`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newRunCmd(), newStatusCmd(), newSimCmd(), newVersionCmd())
	root.AddCommand(newServiceCmds()...)
	return root
}

func newRunCmd() *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the agent in the foreground",
		Long: `Run the agent until interrupted (SIGINT or SIGTERM). Settings come from
flags or from a YAML file given with --config, whose keys are the flag names
in camelCase (nats, deviceId, data, controllerKey, platform, labels, channel,
promptAddr, senseInterval, reportInterval, logFormat, logLevel); flags
override the file and unknown keys are refused.

Under a service manager (see install) run answers its stop requests.`,
		Example: `  sluice-agent run --nats nats://127.0.0.1:4222 --device-id pos-001 --data ./agent \
      --controller-key controller.pub --platform sim --labels store=berlin-01,model=P2
  sluice-agent run --config agent.yaml --log-format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := f.resolve(cmd)
			if err != nil {
				return err
			}
			if !interactive() {
				return runAsService(r, cmd.ErrOrStderr())
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runAgent(ctx, r, cmd.ErrOrStderr())
		},
	}
	f.register(cmd)
	return cmd
}

func newLogger(r *resolved, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(r.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if r.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// simDir is where the simulated device of a data directory lives.
func simDir(data string) string { return filepath.Join(data, "sim") }

func openPlatform(r *resolved, log *slog.Logger) (platform.Platform, error) {
	if r.Platform == "sim" {
		d, err := sim.Open(simDir(r.Data), sim.Options{Logger: log})
		if err != nil {
			return nil, cli.WithCode(cli.ExitInvalid, err)
		}
		return d, nil
	}
	p, err := android.New(android.Config{DataDir: r.Data, Logger: log})
	if err != nil {
		return nil, cli.WithCode(cli.ExitInvalid, err)
	}
	return p, nil
}

// newAgent builds the agent from checked settings.
func newAgent(r *resolved, logw io.Writer) (*agent.Agent, error) {
	log := newLogger(r, logw)
	p, err := openPlatform(r, log)
	if err != nil {
		return nil, err
	}
	a, err := agent.New(agent.Config{
		NATSURL: r.NATS, DeviceID: r.DeviceID, DataDir: r.Data, ControllerKeys: r.keys, Platform: p,
		Labels: r.Labels, Channel: r.Channel, AgentVersion: version,
		SenseInterval: r.senseInterval, ReportInterval: r.reportInterval, PromptAddr: r.promptAddr,
		Logger: log,
	})
	if err != nil {
		return nil, cli.WithCode(cli.ExitInvalid, err)
	}
	return a, nil
}

func runAgent(ctx context.Context, r *resolved, logw io.Writer) error {
	a, err := newAgent(r, logw)
	if err != nil {
		return err
	}
	if err := a.Run(ctx); err != nil {
		return cli.WithCode(cli.ExitUnavailable, err)
	}
	return nil
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the agent's version",
		Example: "  sluice-agent version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "sluice-agent", version)
			return err
		},
	}
}
