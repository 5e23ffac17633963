package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/controller"
	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/policy"
)

type evalOptions struct {
	files  []string
	device string
	app    string
	at     string
	output string
}

func newEvalCommand() *cobra.Command {
	var o evalOptions
	cmd := &cobra.Command{
		Use:   "eval -f FILE|DIR... --device FILE [--app PKG] [--at TIME] [-o table|json]",
		Short: "Evaluate manifests against a device offline and print the decisions",
		Long: `eval loads releases, policies, groups, assignments and rules from manifest
files or directories, and a device description (a Device manifest, or
several), and prints what the controller would decide for each app of each
device, with its reasons. Nothing is contacted or stored: it answers
"why is this device not updating?" from files alone.`,
		Example: `  # What should pos-001 do about every managed app right now?
  sluice eval -f examples/ --device examples/devices/pos-001.yaml

  # The same on a given day, for one app, as JSON for a script
  sluice eval -f examples/ --device dev.yaml --app com.example.pos --at 2026-07-31T09:00:00Z -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEval(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "manifest file or directory (repeatable)")
	f.StringVar(&o.device, "device", "", "file with one or more Device manifests (required)")
	f.StringVar(&o.app, "app", "", "evaluate only this app (package name)")
	f.StringVar(&o.at, "at", "", "evaluation time, RFC 3339 (default: now)")
	f.StringVarP(&o.output, "output", "o", cli.FormatTable, "output format: table or json")
	return cmd
}

func runEval(cmd *cobra.Command, o evalOptions) error {
	if err := cli.CheckFormat(o.output, cli.FormatTable, cli.FormatJSON); err != nil {
		return err
	}
	if len(o.files) == 0 {
		return cli.Errorf(cli.ExitUsage, "-f: give at least one manifest file or directory")
	}
	if o.device == "" {
		return cli.Errorf(cli.ExitUsage, "--device: give a file with a Device manifest")
	}
	at := time.Now().UTC()
	if o.at != "" {
		t, err := time.Parse(time.RFC3339, o.at)
		if err != nil {
			return cli.Errorf(cli.ExitUsage, "--at: %q is not an RFC 3339 time such as 2026-07-31T09:00:00Z", o.at)
		}
		at = t
	}
	set, err := manifest.LoadFiles(o.files...)
	if err != nil {
		return cli.WithCode(cli.ExitInvalid, err)
	}
	devSet, err := manifest.LoadFiles(o.device)
	if err != nil {
		return cli.WithCode(cli.ExitInvalid, err)
	}
	if len(devSet.Devices) == 0 {
		return cli.Errorf(cli.ExitInvalid, "--device: %s holds no Device manifest", o.device)
	}
	if devSet.Len() != len(devSet.Devices) {
		return cli.Errorf(cli.ExitInvalid, "--device: %s holds other kinds than Device; give those with -f", o.device)
	}
	cat, err := controller.CatalogFromSet(set)
	if err != nil {
		return cli.WithCode(cli.ExitInvalid, err)
	}
	ctx := cmd.Context()
	eng, err := policy.NewEngine(ctx, policy.Config{Rules: set.RuleSpecs()})
	if err != nil {
		return cli.WithCode(cli.ExitInvalid, err)
	}
	var decisions []policy.Decision
	for _, d := range devSet.Devices {
		dev := d.Spec
		if o.app != "" {
			dec, err := cat.Decide(ctx, eng, dev, o.app, at)
			if err != nil {
				return err
			}
			decisions = append(decisions, dec.Decision)
			continue
		}
		all, err := cat.DecideAll(ctx, eng, dev, at)
		if err != nil {
			return err
		}
		for _, dec := range all {
			decisions = append(decisions, dec.Decision)
		}
	}
	if decisions == nil {
		decisions = []policy.Decision{}
	}
	out := cmd.OutOrStdout()
	if o.output == cli.FormatJSON {
		return cli.WriteJSON(out, decisions)
	}
	if len(decisions) == 0 {
		_, err := fmt.Fprintln(out, "No managed apps on this device: no policy is assigned to its groups and none of its installed apps is governed by a policy.")
		return err
	}
	return writeDecisionTable(out, decisions, devSet)
}

// writeDecisionTable prints one row per decision, then each decision's
// reasons as sentences a support person can read out.
func writeDecisionTable(w io.Writer, decisions []policy.Decision, devices *manifest.Set) error {
	t := cli.NewTable("device", "app", "installed", "action", "target", "not before", "policy", "reasons")
	for _, d := range decisions {
		installed := ""
		if dev, ok := devices.Device(d.Device); ok {
			if a, ok := dev.Spec.Apps[d.App]; ok {
				installed = fmt.Sprintf("%s (%d)", a.VersionName, a.VersionCode)
			}
		}
		target := ""
		if d.Target != nil {
			target = fmt.Sprintf("%s (%d)", d.Target.VersionName, d.Target.VersionCode)
		}
		notBefore := ""
		if d.NotBefore != nil {
			notBefore = d.NotBefore.UTC().Format(time.RFC3339)
		}
		pol := ""
		if d.Policy != nil {
			pol = fmt.Sprintf("%s@%d", d.Policy.Name, d.Policy.Revision)
		}
		codes := make([]string, len(d.Reasons))
		for i, r := range d.Reasons {
			codes[i] = r.Code
		}
		t.Row(d.Device, d.App, installed, d.Action, target, notBefore, pol, strings.Join(codes, ","))
	}
	if err := t.Write(w); err != nil {
		return err
	}
	var errs []error
	for _, d := range decisions {
		for _, r := range d.Reasons {
			_, err := fmt.Fprintf(w, "\n%s %s: %s", d.Device, d.App, r.Message)
			errs = append(errs, err)
		}
	}
	_, err := fmt.Fprintln(w)
	errs = append(errs, err)
	return errors.Join(errs...)
}
