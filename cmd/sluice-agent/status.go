package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/agent"
	"github.com/sluice-mdm/sluice/internal/cli"
)

func newStatusCmd() *cobra.Command {
	var addr, output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the running agent is doing",
		Long: `Status asks the running agent, through its local prompt API, for its
connection, the directive sequence it enforces, and per app the installed and
target version, the state, what the update waits for (WAITING_FOR_* codes,
APP_IN_FOREGROUND, OUTSIDE_MAINTENANCE_WINDOW, POSTPONED_UNTIL <time>) and,
while downloading, a progress bar with speed and remaining time.`,
		Example: "  sluice-agent status\n  sluice-agent status --prompt-addr unix:/run/sluice-agent.sock -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.CheckFormat(output, cli.FormatTable, cli.FormatJSON); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			st, err := fetchStatus(ctx, addr)
			if err != nil {
				return err
			}
			if output == cli.FormatJSON {
				return cli.WriteJSON(cmd.OutOrStdout(), st)
			}
			return printStatus(cmd.OutOrStdout(), st, time.Now())
		},
	}
	cmd.Flags().StringVar(&addr, "prompt-addr", DefaultPromptAddr, "the agent's prompt API address (127.0.0.1:PORT or unix:/path)")
	cmd.Flags().StringVarP(&output, "output", "o", cli.FormatTable, "table or json")
	return cmd
}

func fetchStatus(ctx context.Context, addr string) (*agent.Status, error) {
	if addr == "" {
		return nil, cli.Errorf(cli.ExitUsage, "prompt-addr: empty; status needs the agent's prompt API address")
	}
	client := &http.Client{}
	url := "http://" + addr + "/v1/status"
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		client.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}}
		url = "http://agent/v1/status"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, cli.Errorf(cli.ExitUsage, "prompt-addr: %q: %v", addr, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, cli.Errorf(cli.ExitUnavailable, "the agent does not answer on %s (is it running with this --prompt-addr?): %v", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, cli.Errorf(cli.ExitUnavailable, "agent status: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var st agent.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, cli.Errorf(cli.ExitUnavailable, "agent status: %v", err)
	}
	return &st, nil
}

func printStatus(w io.Writer, st *agent.Status, now time.Time) error {
	conn := "disconnected"
	if st.Connected {
		conn = "connected to " + st.Server
	}
	fmt.Fprintf(w, "device:     %s (%s, sdk %d, %s)\n", st.DeviceID, st.Platform, st.SDK, orDash(st.TimeZone))
	fmt.Fprintf(w, "connection: %s\n", conn)
	dir := fmt.Sprintf("sequence %d", st.DirectiveSequence)
	switch {
	case st.DirectiveSequence == 0:
		dir = "none received yet"
	case st.DirectiveExpired:
		dir += fmt.Sprintf(" (expired %s; still enforced until a newer one arrives)", st.DirectiveExpiresAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "directive:  %s\n", dir)
	fmt.Fprintf(w, "state:      wifi=%s charging=%s idle=%s foreground=%s\n", onOff(st.State.Unmetered), onOff(st.State.Charging), onOff(st.State.Idle), orDash(st.State.ForegroundApp))
	fmt.Fprintf(w, "outbox:     %d waiting, %d dropped\n\n", st.Spooled, st.Dropped)
	tb := cli.NewTable("app", "installed", "target", "action", "state", "waiting for")
	for _, a := range st.Apps {
		tb.Row(a.App, version2(a.InstalledVersion, a.InstalledCode), version2(a.TargetVersion, a.TargetCode), a.Action, a.State, a.Detail)
	}
	if err := tb.Write(w); err != nil {
		return err
	}
	for _, a := range st.Apps {
		if a.State != agent.PhaseDownloading {
			continue
		}
		bar := &cli.Bar{W: w, Label: a.App, Now: func() time.Time { return now }}
		bar.Update(a.Downloaded, a.Total, a.BytesPerSecond, time.Duration(a.RemainingSeconds*float64(time.Second)))
	}
	return nil
}

func version2(name string, code int64) string {
	if name == "" && code == 0 {
		return ""
	}
	return fmt.Sprintf("%s (%d)", name, code)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
