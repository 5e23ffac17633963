package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/client"
	"github.com/sluice-mdm/sluice/protocol"
)

func newExplainCommand() *cobra.Command {
	var app, output string
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "explain DEVICE [--app PKG] [-o table|json]",
		Short: "Explain, in one screen, what a device does about its apps and why",
		Long: `explain answers the support question "why isn't this device receiving the
update?". It shows the device (platform, labels, groups, when it was last
seen), the last directive issued to it and whether the device acknowledged
it, then per app: the installed version, the decision (action, target, not
before), the policy and revision that produced it, each reason as a
sentence, and what the agent last reported: its state, what it waits for,
download progress, the last error and the attempts so far.

The decisions are evaluated now, with the controller's current policies.` + clientHelp,
		Example: `  sluice explain pos-001
  sluice explain pos-001 --app com.example.pos
  sluice explain pos-001 -o json | jq '.decisions[].reasons'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.CheckFormat(output, cli.FormatTable, cli.FormatJSON); err != nil {
				return err
			}
			conn, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			ex, err := conn.Explain(conn.ctx, args[0], app)
			if err != nil {
				return conn.fail(err)
			}
			if output == cli.FormatJSON {
				return cli.WriteJSON(cmd.OutOrStdout(), ex)
			}
			return writeExplanation(cmd.OutOrStdout(), ex)
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "explain only this app (package name)")
	outputFlag(cmd, &output, cli.FormatTable, cli.FormatJSON)
	cf = addClientFlags(cmd, defaultTimeout)
	return cmd
}

// writeExplanation prints the device, then one block per app.
func writeExplanation(w io.Writer, ex client.Explanation) error {
	ew := &errWriter{w: w}
	dev := ex.Device
	line := func(label, format string, args ...any) {
		if label != "" {
			label += ":"
		}
		ew.printf("  %-12s%s\n", label, fmt.Sprintf(format, args...))
	}
	ew.printf("Device %s\n", dev.ID)
	about := []string{dev.Platform}
	if dev.SDK > 0 {
		about = append(about, fmt.Sprintf("SDK %d", dev.SDK))
	}
	if dev.AgentVersion != "" {
		about = append(about, "agent "+dev.AgentVersion)
	}
	if dev.Channel != "" {
		about = append(about, "channel "+dev.Channel)
	}
	if dev.TimeZone != "" {
		about = append(about, "time zone "+dev.TimeZone)
	}
	line("Platform", "%s", strings.Join(about, ", "))
	line("Labels", "%s", orNone(labelText(dev.Labels)))
	line("Groups", "%s", orNone(strings.Join(ex.Groups, ", ")))
	seen := ex.LastSeen
	if seen.IsZero() {
		seen = dev.LastSeen
	}
	if seen.IsZero() {
		line("Last seen", "never")
	} else {
		line("Last seen", "%s UTC", timeText(seen))
	}
	if d := ex.Directive; d != nil {
		line("Directive", "sequence %d issued %s UTC, expires %s UTC", d.Sequence, timeText(d.IssuedAt), timeText(d.ExpiresAt))
		switch {
		case d.Acknowledged == d.Sequence:
			line("", "acknowledged: the agent enforces it")
		case d.Acknowledged == 0:
			line("", "not acknowledged: the agent has reported no directive yet")
		default:
			line("", "the agent last reported enforcing sequence %d: it has not received or accepted the latest one yet", d.Acknowledged)
		}
	} else {
		line("Directive", "none issued yet")
	}
	if len(ex.Decisions) == 0 {
		ew.printf("\nNo managed apps: no policy assigned to this device's groups governs any of its apps.\n")
		return ew.err
	}
	for _, dec := range ex.Decisions {
		ew.printf("\n%s\n", dec.App)
		if a, ok := dev.Apps[dec.App]; ok {
			line("Installed", "%s (%d)", a.VersionName, a.VersionCode)
		} else {
			line("Installed", "not installed")
		}
		decision := string(dec.Action)
		if dec.Target != nil {
			decision += fmt.Sprintf(" %s (%d)", dec.Target.VersionName, dec.Target.VersionCode)
		}
		if dec.Mode != "" {
			decision += fmt.Sprintf(", %s mode", dec.Mode)
		}
		line("Decision", "%s", decision)
		if dec.NotBefore != nil {
			line("Not before", "%s UTC", timeText(*dec.NotBefore))
		}
		if c := conditions(dec); c != "" {
			line("Waits for", "%s", c)
		}
		if dec.Policy != nil {
			line("Policy", "%s@%d", dec.Policy.Name, dec.Policy.Revision)
		} else {
			line("Policy", "none")
		}
		for i, r := range dec.Reasons {
			label := ""
			if i == 0 {
				label = "Why"
			}
			line(label, "%s (%s)", r.Message, r.Code)
		}
		writeAgentStatus(line, dec, ex.Status)
	}
	return ew.err
}

// writeAgentStatus prints what the agent last reported about the app.
func writeAgentStatus(line func(label, format string, args ...any), dec protocol.Decision, status map[string]protocol.AppStatus) {
	st, ok := status[dec.App]
	if !ok {
		line("Agent", "has reported nothing about this app yet")
		return
	}
	state := orNone(st.State)
	if !st.UpdatedState.IsZero() {
		state += fmt.Sprintf(" (since %s UTC)", timeText(st.UpdatedState))
	}
	line("Agent", "%s", state)
	if len(st.WaitingFor) > 0 {
		waits := make([]string, len(st.WaitingFor))
		for i, w := range st.WaitingFor {
			waits[i] = waitingText(w)
		}
		line("", "waiting for %s", strings.Join(waits, ", "))
	}
	if st.Total > 0 || st.Downloaded > 0 {
		bar := cli.Bar{Width: 20}
		line("Download", "%s", bar.Render(st.Downloaded, st.Total, 0, 0))
	}
	if st.LastError != "" || st.Attempts > 0 {
		line("Last error", "%s after %d %s", orNone(st.LastError), st.Attempts, plural(st.Attempts, "attempt", "attempts"))
	}
	if st.DecisionID != "" && dec.DecisionID != "" && st.DecisionID != dec.DecisionID {
		line("", "the agent still works on decision %s; the current one is %s", st.DecisionID, dec.DecisionID)
	}
}

// conditions words what a silent install waits for.
func conditions(dec protocol.Decision) string {
	var parts []string
	if c := dec.Constraints; c != nil {
		for _, x := range []struct {
			on   bool
			text string
		}{
			{c.UnmeteredNetwork, "unmetered network"},
			{c.Charging, "charging"},
			{c.Idle, "idle"},
			{c.NotForeground, "app not in the foreground"},
		} {
			if x.on {
				parts = append(parts, x.text)
			}
		}
	}
	if mw := dec.MaintenanceWindow; mw != nil {
		parts = append(parts, fmt.Sprintf("maintenance window %s-%s device time", mw.Start, mw.End))
	}
	return strings.Join(parts, ", ")
}

// waitingText words one of the agent's waiting codes.
func waitingText(code string) string {
	switch code {
	case protocol.WaitingForUnmeteredNetwork:
		return "an unmetered network (Wi-Fi)"
	case protocol.WaitingForCharging:
		return "charging"
	case protocol.WaitingForIdle:
		return "the device to be idle"
	case protocol.WaitingAppInForeground:
		return "the app to leave the foreground"
	case protocol.WaitingOutsideWindow:
		return "the maintenance window"
	case protocol.WaitingPostponed:
		return "the postponement to end"
	}
	return code
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
