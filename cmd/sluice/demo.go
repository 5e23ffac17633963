package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/sandbox"
)

// demoOptions are the flags of `sluice demo`.
type demoOptions struct {
	keep    bool
	devices int
	speed   float64
	logFile string
}

// Limits of the demo's flags.
const (
	minDemoDevices = 20
	maxDemoDevices = 300
	maxDemoSpeed   = 100
	// keepHTTP and keepNATS are where --keep leaves the controller, the
	// CLI's defaults.
	keepHTTP = "127.0.0.1:8080"
	keepNATS = "127.0.0.1:4222"
)

func newDemoCommand() *cobra.Command {
	o := demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo [--keep] [--devices N] [--speed FACTOR] [--log FILE]",
		Short: "Run a controller and a fleet of simulated tills, and watch a story of updates",
		Long: `demo starts a whole Sluice system in a temporary directory: a controller with
its embedded NATS server, and simulated tills (the sim platform) in three
stores (Berlin, Hamburg, Munich), each running the real agent. It admits the
demo apps' releases (real signed APKs) at their publication dates, applies
the example manifests (examples/fleet: one policy per behaviour), and plays
a short story in accelerated time, printing what happens:

  1. every till reports;
  2. default mode: Berlin's tills wait for Wi-Fi, charging, idleness, the
     app leaving the foreground and the maintenance window, then install;
  3. high priority installs at once; a 50% rollout picks half of the P2s;
  4. a closable prompt put off with "later" and shown again the next day,
     and a forced update that cannot be put off;
  5. a version range with an excluded version;
  6. a 90-day postponement that ends when the clock jumps to its end;
  7. a till whose agent is too old, told to update by hand.

It ends with a summary table and the commands to look further. The exit
code is 8 when any till ends in a state the story did not expect.

With --keep the controller stays up on 127.0.0.1:8080 (NATS on :4222) until
Ctrl-C, so that the CLI can be tried against it; the token is printed.`,
		Example: `  sluice demo
  sluice demo --keep
  sluice demo --devices 60 --speed 4 --log demo.log`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.devices < minDemoDevices || o.devices > maxDemoDevices {
				return usage("--devices: %d is not allowed; want %d to %d tills", o.devices, minDemoDevices, maxDemoDevices)
			}
			if !(o.speed > 0 && o.speed <= maxDemoSpeed) {
				return usage("--speed: %g is not allowed; want a factor above 0 and at most %d (2 plays the story twice as fast)", o.speed, maxDemoSpeed)
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.keep, "keep", false, "leave the controller running on "+keepHTTP+" until Ctrl-C")
	f.IntVar(&o.devices, "devices", 21, fmt.Sprintf("number of simulated tills (%d to %d)", minDemoDevices, maxDemoDevices))
	f.Float64Var(&o.speed, "speed", 1, "play the story this many times faster (pauses and watched downloads)")
	f.StringVar(&o.logFile, "log", "", "write the controller's and agents' logs to this file")
	return cmd
}

// runDemo sets up the system, plays the story, prints the summary and,
// with --keep, waits for ctx to end; everything it started is stopped
// and its directory removed before it returns.
func runDemo(ctx context.Context, out io.Writer, o demoOptions) (err error) {
	logger := slog.New(slog.DiscardHandler)
	if o.logFile != "" {
		f, err := os.OpenFile(o.logFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return cli.WithCode(cli.ExitInvalid, fmt.Errorf("--log: %w", err))
		}
		defer f.Close()
		logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	dir, err := os.MkdirTemp("", "sluice-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(dir)

	history, err := demoReleases()
	if err != nil {
		return err
	}
	clock := sandbox.NewClock(history[0].At)
	cfg := sandbox.Config{Dir: dir, Clock: clock, Logger: logger}
	if o.keep {
		if err := portsFree(keepHTTP, keepNATS); err != nil {
			return err
		}
		cfg.HTTPAddr, cfg.NATSListen = keepHTTP, keepNATS
	}
	started := time.Now()
	fmt.Fprintf(out, "Sluice demo: a controller, %d simulated tills in three stores, and a story in accelerated time.\n", o.devices)
	fmt.Fprintf(out, "Everything runs in this process, with its data in %s (removed at the end).\n", dir)
	sys, err := sandbox.Start(ctx, cfg)
	if err != nil {
		return cli.WithCode(cli.ExitUnavailable, fmt.Errorf("demo: %w", err))
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if cerr := sys.Close(cctx); cerr != nil && err == nil {
			err = fmt.Errorf("demo: shut down: %w", cerr)
		}
	}()

	d := &demo{
		out: out, term: isTerminal(out), speed: o.speed, sys: sys, clock: clock, c: sys.Client(),
		tills: demoFleet(o.devices), history: history, prompt: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	if err := d.play(ctx); err != nil {
		if ctx.Err() != nil {
			return errors.New("demo: interrupted; everything it started is stopped")
		}
		return err
	}
	fmt.Fprintf(out, "\nThe story took %s.\n", time.Since(started).Round(100*time.Millisecond))
	d.lookFurther(o.keep)
	if o.keep {
		// Kept even after an unexpected outcome: that is when to look.
		fmt.Fprintf(out, "\nThe controller keeps running on %s (NATS %s). Press Ctrl-C to stop it.\n", sys.HTTPURL(), sys.NATSURL())
		<-ctx.Done()
		fmt.Fprintln(out, "\nStopping.")
	}
	return d.unexpected
}

// portsFree checks, before anything starts, that --keep's addresses can
// be bound: a controller already running there would otherwise make the
// embedded NATS server wait for its port.
func portsFree(addrs ...string) error {
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return cli.Errorf(cli.ExitUnavailable, "--keep: %s is in use (another controller, or an earlier demo?): stop it, or run the demo without --keep: %w", a, err)
		}
		ln.Close()
	}
	return nil
}

// lookFurther prints the commands to explore the system.
func (d *demo) lookFurther(keep bool) {
	server, token := d.sys.HTTPURL(), d.sys.Token()
	if !keep {
		server, token = "http://"+keepHTTP, "TOKEN"
	}
	fmt.Fprintln(d.out, "\nLook further:")
	if !keep {
		fmt.Fprintln(d.out, "  (run `sluice demo --keep` to leave the controller running; it prints the token to use)")
	} else {
		fmt.Fprintf(d.out, "  superadmin token: %s\n", token)
		fmt.Fprintf(d.out, "  controller public key (agents pin it): %s\n", d.sys.PublicKeyFile())
		fmt.Fprintf(d.out, "  export SLUICE_SERVER=%s SLUICE_TOKEN=%s\n", server, token)
	}
	flags := fmt.Sprintf("--server %s --token %s", server, token)
	old := d.oldAgentTill()
	fmt.Fprintf(d.out, "  sluice explain %s %s\n", old, flags)
	fmt.Fprintf(d.out, "  sluice audit decisions --device %s %s\n", old, flags)
	fmt.Fprintf(d.out, "  sluice audit admin %s\n", flags)
	fmt.Fprintf(d.out, "  sluice rollout --policy kiosk-rollout %s\n", flags)
	fmt.Fprintf(d.out, "  sluice get devices %s\n", flags)
}
