package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/client"
)

func newAuditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit decisions|admin|replay",
		Short: "Read the decision log and the admin audit log; replay a decision",
		Long: `audit reads what the controller recorded:

  decisions  every decision it took for a device and app, with the input the
             engine saw and the policy revision that produced it
  admin      every admin action and refusal: who, with which role, did what
             to which object, and how it ended
  replay     evaluate a logged decision's input again and compare

Reading the logs needs the auditor, admin or superadmin role.` + clientHelp,
		Example: `  sluice audit decisions --device pos-001 --since 24h
  sluice audit admin --actor alice --since 2026-05-01
  sluice audit replay 3f0c2a9e-...`,
		Args: cobra.ArbitraryArgs,
		RunE: needSubcommand,
	}
	cf := addClientFlags(cmd, defaultTimeout)
	cmd.AddCommand(newAuditDecisionsCommand(cf), newAuditAdminCommand(cf), newAuditReplayCommand(cf))
	return cmd
}

// sinceFlag checks --since and puts it in the form the API takes: an RFC
// 3339 time, a date (midnight UTC), a Go duration, or a number of days
// ("7d").
func sinceFlag(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if _, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return v, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t.UTC().Format(time.RFC3339), nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return (time.Duration(n) * 24 * time.Hour).String(), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return v, nil
	}
	return "", usage(`--since: %q is not allowed; want a duration back from now ("24h", "7d") or a time ("2026-05-02" or "2026-05-02T09:00:00Z")`, v)
}

func checkLimit(n int) error {
	if n < 0 {
		return usage("--limit: %d is negative; want a positive number of entries, or 0 for the controller's default", n)
	}
	return nil
}

// listLog runs one log listing: it checks -o, --since (rewritten in place
// to the API's form) and --limit, fetches the entries, and prints them as a
// table or as {"items": [...]}.
func listLog[T any](cmd *cobra.Command, cf *clientFlags, output string, since *string, limit int,
	fetch func(*connection) ([]T, error), table func(io.Writer, []T) error) error {
	if err := cli.CheckFormat(output, cli.FormatTable, cli.FormatJSON); err != nil {
		return err
	}
	s, err := sinceFlag(*since)
	if err != nil {
		return err
	}
	if err := checkLimit(limit); err != nil {
		return err
	}
	*since = s
	conn, err := cf.connect(cmd)
	if err != nil {
		return err
	}
	defer conn.Close()
	entries, err := fetch(conn)
	if err != nil {
		return conn.fail(err)
	}
	if output == cli.FormatJSON {
		return cli.WriteJSON(cmd.OutOrStdout(), map[string]any{"items": entries})
	}
	return table(cmd.OutOrStdout(), entries)
}

func newAuditDecisionsCommand(cf *clientFlags) *cobra.Command {
	var q client.DecisionQuery
	var output string
	cmd := &cobra.Command{
		Use:   "decisions [--device ID] [--app PKG] [--since DURATION|TIME] [--limit N] [-o table|json]",
		Short: "List logged decisions, newest last",
		Long: `decisions lists decision-log entries, newest last: when, the decision id, the
device and app, the action, the policy and revision, and the reason codes.
-o json prints whole entries, with the engine's input and result, shaped
like OPA decision-log events.`,
		Example: `  sluice audit decisions --device pos-001 --app com.example.pos --since 7d
  sluice audit decisions --limit 20 -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listLog(cmd, cf, output, &q.Since, q.Limit, func(c *connection) ([]client.DecisionEntry, error) {
				return c.Decisions(c.ctx, q)
			}, writeDecisionLog)
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Device, "device", "", "only this device")
	f.StringVar(&q.App, "app", "", "only this app (package name)")
	f.StringVar(&q.Since, "since", "", `only entries since a time or for a duration back from now ("24h", "7d", "2026-05-02")`)
	f.IntVar(&q.Limit, "limit", 0, "at most this many entries, the newest (0: the controller's default)")
	outputFlag(cmd, &output, cli.FormatTable, cli.FormatJSON)
	return cmd
}

func writeDecisionLog(w io.Writer, entries []client.DecisionEntry) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "No decisions match.")
		return err
	}
	t := cli.NewTable("time", "decision-id", "device", "app", "action", "policy@rev", "reasons")
	for _, e := range entries {
		d, err := e.Decision()
		if err != nil {
			return err
		}
		device, app := e.Device, e.App
		if device == "" {
			device = d.Device
		}
		if app == "" {
			app = d.App
		}
		pol := ""
		if p := e.Policy; p != nil {
			pol = fmt.Sprintf("%s@%d", p.Name, p.Revision)
		} else if p := d.Policy; p != nil {
			pol = fmt.Sprintf("%s@%d", p.Name, p.Revision)
		}
		codes := make([]string, len(d.Reasons))
		for i, r := range d.Reasons {
			codes[i] = r.Code
		}
		t.Row(timeText(e.Timestamp), e.DecisionID, device, app, d.Action, pol, strings.Join(codes, ","))
	}
	return t.Write(w)
}

func newAuditAdminCommand(cf *clientFlags) *cobra.Command {
	var q client.AuditQuery
	var output string
	cmd := &cobra.Command{
		Use:   "admin [--since DURATION|TIME] [--actor NAME] [--limit N] [-o table|json]",
		Short: "List admin actions and refusals, newest last",
		Long: `admin lists the admin audit log, newest last: when, which token (actor) with
which role, what it did to which object and revision, and the outcome: ok,
denied (the role was missing; the detail names the role needed) or error.`,
		Example: `  sluice audit admin --since 24h
  sluice audit admin --actor ci-deploy -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listLog(cmd, cf, output, &q.Since, q.Limit, func(c *connection) ([]client.AuditEntry, error) {
				return c.Audit(c.ctx, q)
			}, writeAuditLog)
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Actor, "actor", "", "only this token name")
	f.StringVar(&q.Since, "since", "", `only entries since a time or for a duration back from now ("24h", "7d", "2026-05-02")`)
	f.IntVar(&q.Limit, "limit", 0, "at most this many entries, the newest (0: the controller's default)")
	outputFlag(cmd, &output, cli.FormatTable, cli.FormatJSON)
	return cmd
}

func writeAuditLog(w io.Writer, entries []client.AuditEntry) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "No audit entries match.")
		return err
	}
	t := cli.NewTable("time", "actor", "role", "action", "kind/name", "revision", "outcome", "detail")
	for _, e := range entries {
		obj := e.Kind
		if e.Name != "" {
			obj += "/" + e.Name
		}
		rev := ""
		if e.Revision > 0 {
			rev = strconv.FormatUint(e.Revision, 10)
		}
		t.Row(timeText(e.Time), e.Actor, e.Role, e.Action, obj, rev, e.Outcome, e.Detail)
	}
	return t.Write(w)
}

func newAuditReplayCommand(cf *clientFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "replay DECISION_ID [-o table|json]",
		Short: "Evaluate a logged decision's input again and say whether the outcome is identical",
		Long: `replay asks the controller to evaluate the input recorded with a decision
again, and compares the outcome (action, target, timing, reasons) with the
logged one. It prints "identical" and exits 0, or prints the difference and
exits 8 (unexpected outcome).`,
		Example: `  sluice audit replay 3f0c2a9e-5d1b-4c1e-9a63-2f5d8b1e7c40`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.CheckFormat(output, cli.FormatTable, cli.FormatJSON); err != nil {
				return err
			}
			conn, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			res, err := conn.Replay(conn.ctx, args[0])
			if err != nil {
				return conn.fail(err)
			}
			out := cmd.OutOrStdout()
			if output == cli.FormatJSON {
				err = cli.WriteJSON(out, res)
			} else if res.Identical {
				_, err = fmt.Fprintln(out, "identical")
			} else {
				_, err = fmt.Fprintf(out, "different:\n%s\n", strings.TrimRight(res.Diff, "\n"))
			}
			if err != nil || res.Identical {
				return err
			}
			return cli.Errorf(cli.ExitUnexpected, "decision %s: the replayed outcome differs from the logged one", args[0])
		},
	}
	outputFlag(cmd, &output, cli.FormatTable, cli.FormatJSON)
	return cmd
}
