package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/client"
	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/policy"
)

// tokensKind is the extra kind `get` lists besides the stored objects.
const tokensKind = "tokens"

type getOptions struct {
	output string
}

func newGetCommand() *cobra.Command {
	var o getOptions
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "get releases|policies|groups|assignments|rules|devices|tokens [NAME] [-o table|json|yaml]",
		Short: "List objects, or show one",
		Long: `get lists the objects of a kind stored by the controller, or shows one by name,
with their revisions.

-o yaml prints the objects as manifests that ` + "`sluice apply`" + ` takes back: each
carries the sluice.dev/revision annotation, so that applying an edited copy
fails with a conflict if someone changed the object in the meantime.
Devices print as Device manifests, usable with ` + "`sluice eval --device`" + `.
-o json prints the records as the API returns them.

Kinds may be given in the singular ("policy") or as manifest kinds
("UpdatePolicy"). Listing tokens needs the superadmin role.` + clientHelp,
		Example: `  sluice get policies
  sluice get devices pos-001 -o json
  sluice get policy pos-stable -o yaml > pos-stable.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return &usageError{fmt.Errorf("want a kind and at most one name, got %d arguments (see '%s --help')", len(args), cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runGet(cmd, o, cf, args) },
	}
	outputFlag(cmd, &o.output, cli.FormatTable, cli.FormatJSON, cli.FormatYAML)
	cf = addClientFlags(cmd, defaultTimeout)
	return cmd
}

func runGet(cmd *cobra.Command, o getOptions, cf *clientFlags, args []string) error {
	if err := cli.CheckFormat(o.output, cli.FormatTable, cli.FormatJSON, cli.FormatYAML); err != nil {
		return err
	}
	name := ""
	if len(args) == 2 {
		name = args[1]
	}
	isTokens := strings.EqualFold(args[0], tokensKind) || strings.EqualFold(args[0], "token")
	var kind client.Kind
	if !isTokens {
		k, err := client.ParseKind(args[0])
		if err != nil {
			return usage("%v or %s", err, tokensKind)
		}
		kind = k
	}
	conn, err := cf.connect(cmd)
	if err != nil {
		return err
	}
	defer conn.Close()
	out := cmd.OutOrStdout()
	if isTokens {
		return getTokens(conn, out, o.output, name)
	}
	var recs []client.Record
	if name != "" {
		rec, err := conn.Get(conn.ctx, kind, name)
		if err != nil {
			return conn.fail(err)
		}
		recs = []client.Record{rec}
	} else if recs, err = conn.List(conn.ctx, kind); err != nil {
		return conn.fail(err)
	}
	switch o.output {
	case cli.FormatJSON:
		if name != "" {
			return cli.WriteJSON(out, recs[0])
		}
		return cli.WriteJSON(out, map[string]any{"items": recs})
	case cli.FormatYAML:
		set, err := manifestSet(recs)
		if err != nil {
			return err
		}
		return encodeManifests(out, set)
	}
	if len(recs) == 0 {
		_, err := fmt.Fprintf(out, "No %s.\n", kind)
		return err
	}
	t, err := recordTable(kind, recs)
	if err != nil {
		return err
	}
	return t.Write(out)
}

// manifestSet turns records into manifests that apply takes back, each
// annotated with its revision.
func manifestSet(recs []client.Record) (*manifest.Set, error) {
	s := &manifest.Set{}
	var errs []error
	for _, rec := range recs {
		meta := manifest.Meta{Name: rec.Name, Annotations: map[string]string{client.RevisionAnnotation: strconv.FormatUint(rec.Revision, 10)}}
		switch rec.Kind {
		case policy.KindRelease:
			v, err := rec.Release()
			errs = append(errs, err)
			s.Releases = append(s.Releases, manifest.Release{Meta: meta, Spec: v})
		case policy.KindUpdatePolicy:
			v, err := rec.Policy()
			errs = append(errs, err)
			s.Policies = append(s.Policies, manifest.Policy{Meta: meta, Spec: v})
		case policy.KindDeviceGroup:
			v, err := rec.Group()
			errs = append(errs, err)
			s.Groups = append(s.Groups, manifest.Group{Meta: meta, Spec: v})
		case policy.KindAssignment:
			v, err := rec.Assignment()
			errs = append(errs, err)
			s.Assignments = append(s.Assignments, manifest.Assignment{Meta: meta, Spec: v})
		case policy.KindRule:
			v, err := rec.Rule()
			errs = append(errs, err)
			s.Rules = append(s.Rules, manifest.Rule{Meta: meta, Spec: v})
		case policy.KindDevice:
			v, err := rec.Device()
			errs = append(errs, err)
			// Devices cannot be applied: no revision annotation.
			s.Devices = append(s.Devices, manifest.Device{Meta: manifest.Meta{Name: rec.Name}, Spec: v.Device})
		default:
			errs = append(errs, fmt.Errorf("%s %q: the controller answered with kind %q, which this sluice cannot write as a manifest", rec.Kind, rec.Name, rec.Kind))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// encodeManifests writes a set as YAML manifests.
func encodeManifests(w io.Writer, set *manifest.Set) error {
	if err := manifest.Encode(w, set, manifest.YAML); err != nil {
		return fmt.Errorf("write manifests: %w", err)
	}
	return nil
}

// recordTable lays records out with the columns of their kind.
func recordTable(kind client.Kind, recs []client.Record) (*cli.Table, error) {
	var t *cli.Table
	var errs []error
	switch kind {
	case client.Releases:
		t = cli.NewTable("app", "version", "code", "track", "published", "size", "sha256", "revision")
		for _, rec := range recs {
			r, err := rec.Release()
			errs = append(errs, err)
			t.Row(r.App, r.VersionName, r.VersionCode, r.Track, timeText(r.PublishedAt), cli.Bytes(r.Artifact.Size), shortHash(r.Artifact.SHA256), rec.Revision)
		}
	case client.Policies:
		t = cli.NewTable("name", "app", "mode", "track", "target", "rollout", "revision", "updated")
		for _, rec := range recs {
			p, err := rec.Policy()
			errs = append(errs, err)
			t.Row(rec.Name, p.App, policyMode(p), policyTrack(p), policyTarget(p), policyRollout(p), rec.Revision, timeText(rec.UpdatedAt))
		}
	case client.Groups:
		t = cli.NewTable("name", "selector", "members", "revision")
		for _, rec := range recs {
			g, err := rec.Group()
			errs = append(errs, err)
			t.Row(rec.Name, g.Selector, shortList(g.Members, 3), rec.Revision)
		}
	case client.Assignments:
		t = cli.NewTable("name", "policy", "groups", "priority", "revision")
		for _, rec := range recs {
			a, err := rec.Assignment()
			errs = append(errs, err)
			t.Row(rec.Name, a.Policy, strings.Join(a.Groups, ","), a.Priority, rec.Revision)
		}
	case client.Rules:
		t = cli.NewTable("name", "revision", "lines")
		for _, rec := range recs {
			r, err := rec.Rule()
			errs = append(errs, err)
			t.Row(rec.Name, rec.Revision, strings.Count(strings.TrimRight(r.Module, "\n"), "\n")+1)
		}
	case client.Devices:
		t = cli.NewTable("id", "platform", "sdk", "agent", "labels", "apps", "last-seen", "state")
		for _, rec := range recs {
			d, err := rec.Device()
			errs = append(errs, err)
			dev := d.Device
			sdk := ""
			if dev.SDK > 0 {
				sdk = strconv.Itoa(dev.SDK)
			}
			t.Row(rec.Name, dev.Platform, sdk, dev.AgentVersion, labelText(dev.Labels), len(dev.Apps), timeText(dev.LastSeen), agentStates(d.LastReport))
		}
	}
	return t, errors.Join(errs...)
}

func policyMode(p policy.UpdatePolicy) string {
	if p.Mode == "" {
		return "default"
	}
	return string(p.Mode)
}

func policyTrack(p policy.UpdatePolicy) string {
	if p.Track == "" {
		return policy.DefaultTrack
	}
	return p.Track
}

// policyTarget is "latest", a pinned version ("=5.1.0") or a prefix
// ("5.1.*").
func policyTarget(p policy.UpdatePolicy) string {
	switch {
	case p.Target != nil && p.Target.Version != "":
		return "=" + p.Target.Version
	case p.Target != nil && p.Target.VersionPrefix != "":
		return p.Target.VersionPrefix + ".*"
	}
	return "latest"
}

func policyRollout(p policy.UpdatePolicy) string {
	if p.Rollout == nil {
		return "100%"
	}
	return strconv.FormatFloat(p.Rollout.Percent, 'f', -1, 64) + "%"
}

// shortHash is the first 12 hex digits of a SHA-256.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// shortList joins at most n items and counts the rest.
func shortList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ",")
	}
	return fmt.Sprintf("%s,+%d more", strings.Join(items[:n], ","), len(items)-n)
}

// labelText is "k=v,k=v" in key order.
func labelText(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + labels[k]
	}
	return strings.Join(keys, ",")
}

// agentStates counts the states the agent last reported for its apps:
// "installed=2,waiting=1"; "-" before any report.
func agentStates(r *client.ReportSummary) string {
	if r == nil {
		return ""
	}
	counts := map[string]int{}
	for _, st := range r.Status {
		s := st.State
		if s == "" {
			s = "unknown"
		}
		counts[s]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = fmt.Sprintf("%s=%d", k, counts[k])
	}
	if len(keys) == 0 {
		return "reported"
	}
	return strings.Join(keys, ",")
}

// getTokens lists tokens, or shows one.
func getTokens(conn *connection, out io.Writer, format, name string) error {
	toks, err := conn.Tokens(conn.ctx)
	if err != nil {
		return conn.fail(err)
	}
	if name != "" {
		i := 0
		for ; i < len(toks) && toks[i].Name != name; i++ {
		}
		if i == len(toks) {
			return cli.Errorf(cli.ExitNotFound, "token %q is not known; `sluice get tokens` lists them", name)
		}
		toks = toks[i : i+1]
	}
	return writeTokens(out, format, toks)
}

// writeTokens prints tokens without their secrets.
func writeTokens(out io.Writer, format string, toks []client.TokenInfo) error {
	switch format {
	case cli.FormatJSON:
		return cli.WriteJSON(out, map[string]any{"items": toks})
	case cli.FormatYAML:
		return cli.WriteYAML(out, map[string]any{"items": toks})
	}
	if len(toks) == 0 {
		_, err := fmt.Fprintln(out, "No tokens.")
		return err
	}
	t := cli.NewTable("name", "role", "created", "created-by")
	for _, tk := range toks {
		t.Row(tk.Name, tk.Role, timeText(tk.CreatedAt), tk.CreatedBy)
	}
	return t.Write(out)
}
