package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/kardianos/service"
	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/internal/cli"
)

// ServiceName is the name the agent is installed under.
const ServiceName = "sluice-agent"

// stopTimeout bounds how long Stop waits for the agent to finish.
const stopTimeout = 10 * time.Second

// program runs the agent for kardianos/service: Start returns at once,
// running the agent in a goroutine; Stop cancels it and waits at most
// stopTimeout.
type program struct {
	r      *resolved
	logw   io.Writer
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

func (p *program) Start(service.Service) error {
	a, err := newAgent(p.r, p.logw)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		if err := a.Run(ctx); err != nil {
			p.mu.Lock()
			p.err = err
			p.mu.Unlock()
		}
	}()
	return nil
}

func (p *program) Stop(service.Service) error {
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		return fmt.Errorf("agent did not stop within %s", stopTimeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func interactive() bool { return service.Interactive() }

func serviceConfig(args []string) *service.Config {
	return &service.Config{
		Name:        ServiceName,
		DisplayName: "Sluice agent",
		Description: "Enforces Sluice app-update directives on this device.",
		Arguments:   args,
		Option:      service.KeyValue{"Restart": "always"},
	}
}

// runWait is what the service run waits for after Start: a stop signal,
// or the agent ending on its own. In the second case Stop returns the
// agent's error and the process exits non-zero, so the service manager
// restarts it instead of keeping a process that enforces nothing.
func (p *program) runWait() func() {
	return func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		defer signal.Stop(sig)
		select {
		case <-sig:
		case <-p.done:
		}
	}
}

func runAsService(r *resolved, logw io.Writer) error {
	p := &program{r: r, logw: logw}
	cfg := serviceConfig(nil)
	cfg.Option["RunWait"] = p.runWait()
	s, err := service.New(p, cfg)
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	return s.Run()
}

func newServiceCmds() []*cobra.Command {
	f := &runFlags{}
	install := &cobra.Command{
		Use:   "install --config FILE",
		Short: "Install the agent as a system service (systemd, launchd, Windows)",
		Long: `Install registers "sluice-agent run --config FILE" with the system's service
manager under the name sluice-agent. The config file is checked first. On
Android no service manager is known: an init script or companion app starts
"sluice-agent run" instead.`,
		Example: "  sudo sluice-agent install --config /etc/sluice-agent.yaml\n  sudo sluice-agent start",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.config == "" {
				return cli.Errorf(cli.ExitUsage, "config: missing; install needs --config FILE with the agent's settings")
			}
			if _, err := f.resolve(cmd); err != nil {
				return err
			}
			abs, err := filepath.Abs(f.config)
			if err != nil {
				return err
			}
			return control(cmd, "install", []string{"run", "--config", abs})
		},
	}
	install.Flags().StringVar(&f.config, "config", "", "YAML file with the agent's settings (required)")
	cmds := []*cobra.Command{install}
	for _, c := range []struct{ action, short string }{
		{"uninstall", "Remove the agent's system service"},
		{"start", "Start the installed service"},
		{"stop", "Stop the service (the agent finishes or pauses its work within 10 s)"},
	} {
		action := c.action
		cmds = append(cmds, &cobra.Command{
			Use: action, Short: c.short, Args: cobra.NoArgs,
			Example: "  sudo sluice-agent " + action,
			RunE:    func(cmd *cobra.Command, _ []string) error { return control(cmd, action, nil) },
		})
	}
	return cmds
}

func control(cmd *cobra.Command, action string, args []string) error {
	s, err := service.New(&program{}, serviceConfig(args))
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if err := service.Control(s, action); err != nil {
		if errors.Is(err, service.ErrNoServiceSystemDetected) {
			return cli.Errorf(cli.ExitUnavailable, "%s: no service manager found on this system; start `sluice-agent run` from an init script", action)
		}
		return fmt.Errorf("%s %s: %w", action, ServiceName, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: %s done\n", ServiceName, action)
	return nil
}
