package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/client"
)

// installedState is the agent state of an app whose update is installed.
const installedState = "installed"

func newRolloutCommand() *cobra.Command {
	var name, output string
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "rollout [--policy NAME] [-o table|json]",
		Short: "Show how far each policy's update has reached",
		Long: `rollout shows, per policy: the target version most of its decisions move to,
how many devices it decides for, those decisions counted by action, the
devices counted by the state their agent last reported for the app
("unknown" before any report), and a bar of the share whose agent reports
the update installed.` + clientHelp,
		Example: `  sluice rollout
  sluice rollout --policy pos-stable -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.CheckFormat(output, cli.FormatTable, cli.FormatJSON); err != nil {
				return err
			}
			conn, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			items, err := conn.Rollout(conn.ctx, name)
			if err != nil {
				return conn.fail(err)
			}
			if output == cli.FormatJSON {
				return cli.WriteJSON(cmd.OutOrStdout(), map[string]any{"items": items})
			}
			return writeRollout(cmd.OutOrStdout(), items)
		},
	}
	cmd.Flags().StringVar(&name, "policy", "", "only this policy")
	outputFlag(cmd, &output, cli.FormatTable, cli.FormatJSON)
	cf = addClientFlags(cmd, defaultTimeout)
	return cmd
}

func writeRollout(w io.Writer, items []client.RolloutItem) error {
	ew := &errWriter{w: w}
	if len(items) == 0 {
		ew.printf("No policies.\n")
		return ew.err
	}
	for i, it := range items {
		if i > 0 {
			ew.printf("\n")
		}
		line := func(label, format string, args ...any) {
			ew.printf("  %-11s%s\n", label+":", fmt.Sprintf(format, args...))
		}
		ew.printf("%s  %s  revision %d\n", it.Policy, it.App, it.Revision)
		if it.Target != nil {
			line("Target", "%s (%d)", it.Target.VersionName, it.Target.VersionCode)
		} else {
			line("Target", "none: no device has an update to make")
		}
		line("Devices", "%d", it.Devices)
		actions := make(map[string]int, len(it.ByAction))
		for a, n := range it.ByAction {
			actions[string(a)] = n
		}
		line("Actions", "%s", counts(actions))
		line("States", "%s", counts(it.ByState))
		line("Installed", "%s", shareBar(it.ByState[installedState], it.Devices, 30))
	}
	return ew.err
}

// counts lists "name n" pairs, the largest count first.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	for i, k := range keys {
		keys[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(keys, ", ")
}

// shareBar draws n of total as a bar: "[=======>      ]  50% (2 of 4)".
func shareBar(n, total, width int) string {
	frac := 0.0
	if total > 0 {
		frac = min(float64(n)/float64(total), 1)
	}
	filled := int(frac * float64(width))
	var b strings.Builder
	b.WriteByte('[')
	for i := range width {
		switch {
		case i < filled:
			b.WriteByte('=')
		case i == filled && frac < 1:
			b.WriteByte('>')
		default:
			b.WriteByte(' ')
		}
	}
	fmt.Fprintf(&b, "] %3.0f%% (%d of %d)", frac*100, n, total)
	return b.String()
}
