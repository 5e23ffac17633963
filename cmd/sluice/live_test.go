package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/protocol"
)

// exampleObjects lists "Kind/name" of every object in the example
// releases and fleet, with release names as the controller stores them.
func exampleObjects(t *testing.T) []string {
	t.Helper()
	set, err := manifest.LoadFiles(exampleReleases, exampleFleet)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range set.Releases {
		out = append(out, fmt.Sprintf("Release/%s.%d", r.Spec.App, r.Spec.VersionCode))
	}
	for _, m := range set.Manifests() {
		if m.Kind != "Release" {
			out = append(out, m.Kind+"/"+m.Metadata.Name)
		}
	}
	slices.Sort(out)
	return out
}

// objectLines parses apply's per-object lines: "Kind/name" -> the rest.
func objectLines(t *testing.T, out string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, rest, ok := strings.Cut(line, " "); ok && strings.Contains(k, "/") && !strings.HasPrefix(line, " ") {
			got[k] = rest
		}
	}
	return got
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestLiveApplyGetRoundTripAndDelete(t *testing.T) {
	lc := startController(t)
	want := exampleObjects(t)

	// Dry run: everything would be created, nothing is.
	out, stderr, code := lc.sluice(lc.super, "apply", "-f", exampleReleases, "-f", exampleFleet, "--dry-run")
	if code != cli.ExitOK {
		t.Fatalf("dry run exit %d: %s", code, stderr)
	}
	lines := objectLines(t, out)
	if diff := cmp.Diff(want, keys(lines)); diff != "" {
		t.Errorf("dry-run objects (-want +got):\n%s", diff)
	}
	for k, v := range lines {
		if v != "would be created" {
			t.Errorf("dry run: %s %q; want \"would be created\"", k, v)
		}
	}
	if !strings.HasSuffix(out, "No decision would change on the 0 devices evaluated.\n\nDry run: nothing was changed.\n") {
		t.Errorf("dry run output does not end with the impact and the dry-run note:\n%s", out)
	}
	if out, _, _ := lc.sluice(lc.super, "get", "policies"); out != "No policies.\n" {
		t.Errorf("after a dry run, get policies = %q", out)
	}

	// Apply: one multipart request with all the files.
	out, stderr, code = lc.sluice(lc.super, "apply", "-f", exampleReleases, "-f", exampleFleet)
	if code != cli.ExitOK {
		t.Fatalf("apply exit %d: %s", code, stderr)
	}
	lines = objectLines(t, out)
	if diff := cmp.Diff(want, keys(lines)); diff != "" {
		t.Errorf("applied objects (-want +got):\n%s", diff)
	}
	created := regexp.MustCompile(`^created \(revision [1-9][0-9]*\)$`)
	for k, v := range lines {
		if !created.MatchString(v) {
			t.Errorf("apply: %s %q; want created (revision N)", k, v)
		}
	}

	// get -o yaml | apply -f - changes nothing.
	yamlOut, stderr, code := lc.sluice(lc.operator, "get", "policies", "pos-default", "-o", "yaml")
	if code != cli.ExitOK {
		t.Fatalf("get -o yaml exit %d: %s", code, stderr)
	}
	set, err := manifest.Parse("get.yaml", []byte(yamlOut))
	if err != nil {
		t.Fatalf("get -o yaml is not a manifest: %v\n%s", err, yamlOut)
	}
	rev := set.Policies[0].Meta.Annotations["sluice.dev/revision"]
	if set.Policies[0].Spec.App != "com.example.pos" || rev == "" {
		t.Errorf("manifest = %+v", set.Policies[0])
	}
	out, stderr, code = runWithInput(t, yamlOut, "apply", "-f", "-", "--server", lc.url, "--token", lc.operator)
	if diff := cmp.Diff(fmt.Sprintf("UpdatePolicy/pos-default unchanged (revision %s)\n\nNo decision change on the 0 devices evaluated.\n", rev), out); diff != "" || code != cli.ExitOK {
		t.Errorf("round trip exit %d, stderr %s, output (-want +got):\n%s", code, stderr, diff)
	}

	// An edit applies; applying the stale copy again is a conflict.
	edited := strings.Replace(yamlOut, "mode: default", "mode: highPriority", 1)
	out, _, code = runWithInput(t, edited, "apply", "-f", "-", "--server", lc.url, "--token", lc.operator)
	if code != cli.ExitOK || !regexp.MustCompile(`^UpdatePolicy/pos-default updated \(revision \d+\)\n`).MatchString(out) {
		t.Errorf("edit: exit %d, output %q", code, out)
	}
	_, stderr, code = runWithInput(t, edited, "apply", "-f", "-", "--server", lc.url, "--token", lc.operator)
	if code != cli.ExitConflict || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "{") {
		t.Errorf("stale apply: exit %d, stderr %q; want exit %d and one line, no JSON", code, stderr, cli.ExitConflict)
	}

	// All releases round-trip as well.
	relYAML, _, _ := lc.sluice(lc.operator, "get", "releases", "-o", "yaml")
	out, stderr, code = runWithInput(t, relYAML, "apply", "-f", "-", "--server", lc.url, "--token", lc.operator)
	if code != cli.ExitOK || strings.Count(out, " unchanged (revision ") != strings.Count(strings.Join(want, "\n"), "Release/") {
		t.Errorf("releases round trip: exit %d, stderr %s\n%s", code, stderr, out)
	}

	// Deletes: referenced policy, stale revision, then for real, then gone.
	tests := []struct {
		name     string
		token    string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"operator may not delete", lc.operator, []string{"delete", "assignment", "pos-berlin"}, cli.ExitForbidden, "", "needs the admin role"},
		{"still assigned", lc.admin, []string{"delete", "policy", "pos-default"}, cli.ExitConflict, "", `assignment "pos-berlin"`},
		{"stale revision", lc.admin, []string{"delete", "Assignment", "pos-berlin", "--revision", "999"}, cli.ExitConflict, "", ""},
		{"deleted", lc.admin, []string{"delete", "assignments", "pos-berlin"}, cli.ExitOK, "Assignment/pos-berlin deleted (revision ", ""},
		{"gone", lc.admin, []string{"delete", "assignments", "pos-berlin"}, cli.ExitNotFound, "", ""},
		{"get gone", lc.operator, []string{"get", "assignments", "pos-berlin"}, cli.ExitNotFound, "", ""},
		{"bad kind", lc.admin, []string{"delete", "widgets", "x"}, cli.ExitUsage, "", `kind "widgets" is not known`},
		{"missing name", lc.admin, []string{"delete", "policy"}, cli.ExitUsage, "", "accepts 2 arg(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := lc.sluice(tt.token, tt.args...)
			if code != tt.wantCode || !strings.HasPrefix(out, tt.wantOut) || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d (want %d), stdout %q (want prefix %q), stderr %q (want %q)", code, tt.wantCode, out, tt.wantOut, stderr, tt.wantErr)
			}
		})
	}
}

func TestLiveExplainAuditRollout(t *testing.T) {
	lc := startController(t)
	if _, stderr, code := lc.sluice(lc.super, "apply", "-f", exampleReleases, "-f", exampleFleet); code != cli.ExitOK {
		t.Fatalf("apply exit %d: %s", code, stderr)
	}
	lc.report("till-berlin-01.yaml", map[string]protocol.AppStatus{
		"com.example.pos": {State: "downloading", Downloaded: 4096, Total: 8192, Attempts: 2, LastError: "NETWORK_ERROR"},
	}, 0, 3)

	out, stderr, code := lc.sluice(lc.operator, "explain", "till-berlin-01", "--app", "com.example.pos")
	if code != cli.ExitOK {
		t.Fatalf("explain exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"Device till-berlin-01\n",
		"  Platform:   android, SDK 30, agent 1.3.0, channel stable, time zone Europe/Berlin\n",
		"  Labels:     model=P2,store=berlin-01\n",
		"not acknowledged: the agent has reported no directive yet\n",
		"\ncom.example.pos\n  Installed:  1.0.0 (100)\n",
		"  Policy:     pos-default@",
		"  Agent:      downloading\n",
		"  Download:   [==========>         ]  50%  4.0 KiB/8.0 KiB\n",
		"  Last error: NETWORK_ERROR after 2 attempts\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	var ex struct {
		Decisions []protocol.Decision `json:"decisions"`
	}
	jsonOut, _, _ := lc.sluice(lc.operator, "explain", "till-berlin-01", "-o", "json")
	if err := json.Unmarshal([]byte(jsonOut), &ex); err != nil || len(ex.Decisions) != 3 {
		t.Fatalf("explain -o json: %v, %d decisions; want 3 apps\n%s", err, len(ex.Decisions), jsonOut)
	}

	// The decision log holds the device's decisions; replay is identical.
	out, stderr, code = lc.sluice(lc.auditor, "audit", "decisions", "--device", "till-berlin-01", "--since", "1h", "-o", "json")
	if code != cli.ExitOK {
		t.Fatalf("audit decisions exit %d: %s", code, stderr)
	}
	var log struct {
		Items []struct {
			DecisionID string `json:"decision_id"`
			App        string `json:"app"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil || len(log.Items) == 0 {
		t.Fatalf("audit decisions -o json: %v\n%s", err, out)
	}
	table, _, _ := lc.sluice(lc.auditor, "audit", "decisions", "--device", "till-berlin-01", "--app", log.Items[0].App)
	if !strings.HasPrefix(table, "TIME ") || !strings.Contains(table, log.Items[0].DecisionID) {
		t.Errorf("audit decisions table lacks %s:\n%s", log.Items[0].DecisionID, table)
	}
	out, stderr, code = lc.sluice(lc.auditor, "audit", "replay", log.Items[0].DecisionID)
	if out != "identical\n" || code != cli.ExitOK {
		t.Errorf("replay: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	_, _, code = lc.sluice(lc.auditor, "audit", "replay", "no-such-decision")
	if code != cli.ExitNotFound {
		t.Errorf("replay of an unknown decision: exit %d, want %d", code, cli.ExitNotFound)
	}

	// The admin log shows the apply, and the operator's refused read.
	if _, _, code := lc.sluice(lc.operator, "audit", "admin"); code != cli.ExitForbidden {
		t.Errorf("operator reading the audit log: exit %d, want %d", code, cli.ExitForbidden)
	}
	out, _, _ = lc.sluice(lc.auditor, "audit", "admin", "--actor", "superadmin-1")
	if !strings.Contains(out, "superadmin-1  superadmin  apply   policy/pos-default") {
		t.Errorf("audit admin lacks the apply of pos-default:\n%s", out)
	}
	out, _, _ = lc.sluice(lc.auditor, "audit", "admin", "--actor", "operator-1")
	if !strings.Contains(out, "denied") || !strings.Contains(out, "needs the auditor role") {
		t.Errorf("audit admin lacks the operator's denied read:\n%s", out)
	}

	// A change's impact names the device whose decision changes.
	edited := writeTemp(t, "pos.yaml", `apiVersion: sluice.dev/v1
kind: UpdatePolicy
metadata: {name: pos-default}
spec: {app: com.example.pos, platforms: [ios]}
`)
	out, stderr, code = lc.sluice(lc.operator, "apply", "-f", edited, "--dry-run")
	want := regexp.MustCompile(`^UpdatePolicy/pos-default would be updated \(now at revision \d+\)\n\n` +
		`1 decision would change on the 1 device evaluated:\n` +
		`DEVICE +APP +FROM +TO +REASON\n` +
		`till-berlin-01 +com\.example\.pos +\w+ +none +PLATFORM_MISMATCH\n\n` +
		`Dry run: nothing was changed\.\n$`)
	if code != cli.ExitOK || !want.MatchString(out) {
		t.Errorf("apply --dry-run with impact: exit %d, stderr %s\n%s", code, stderr, out)
	}

	out, stderr, code = lc.sluice(lc.operator, "rollout", "--policy", "pos-default")
	if code != cli.ExitOK || !strings.HasPrefix(out, "pos-default  com.example.pos  revision ") || !strings.Contains(out, "  Devices:   1\n") ||
		!strings.Contains(out, "  States:    downloading 1\n") || !strings.Contains(out, "(0 of 1)") {
		t.Errorf("rollout: exit %d, stderr %s\n%s", code, stderr, out)
	}
}
