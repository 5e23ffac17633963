package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/protocol"
)

const example = "../../examples/postponement"

// TestEvalWorkedPostponementExample replays DESIGN.md's worked example on
// its dates through the command, from the manifests in examples/.
func TestEvalWorkedPostponementExample(t *testing.T) {
	type want struct {
		action    protocol.Action
		target    string
		notBefore string
		reason    string
	}
	tests := []struct {
		name   string
		device string
		at     string
		want   want
	}{
		{"before 2.0 is published", "device-1.0.yaml", "2026-05-01T12:00:00Z", want{protocol.ActionNone, "", "", protocol.ReasonUpToDate}},
		{"2.0 on May 2 starts the period", "device-1.0.yaml", "2026-05-02T10:00:00Z", want{protocol.ActionPostponed, "2.0.0", "2026-07-31T09:00:00Z", protocol.ReasonPostponed}},
		{"3.0 and 4.0 do not restart it", "device-1.0.yaml", "2026-06-12T12:00:00Z", want{protocol.ActionPostponed, "4.0.0", "2026-07-31T09:00:00Z", protocol.ReasonPostponed}},
		{"one second before the end", "device-1.0.yaml", "2026-07-31T08:59:59Z", want{protocol.ActionPostponed, "4.0.0", "2026-07-31T09:00:00Z", protocol.ReasonPostponed}},
		{"Jul 31 the latest is queued", "device-1.0.yaml", "2026-07-31T09:00:00Z", want{protocol.ActionInstall, "4.0.0", "2026-07-31T09:00:00Z", protocol.ReasonUpdateAvailable}},
		{"after installing 4.0 on Aug 1", "device-4.0.yaml", "2026-08-14T12:00:00Z", want{protocol.ActionNone, "", "", protocol.ReasonUpToDate}},
		{"5.0 on Aug 15 starts a new period", "device-4.0.yaml", "2026-08-16T12:00:00Z", want{protocol.ActionPostponed, "5.0.0", "2026-11-13T09:00:00Z", protocol.ReasonPostponed}},
		{"which ends Nov 13", "device-4.0.yaml", "2026-11-13T09:00:00Z", want{protocol.ActionInstall, "5.0.0", "2026-11-13T09:00:00Z", protocol.ReasonUpdateAvailable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCommand(t, "eval", "-f", example, "--device", filepath.Join(example, "devices", tt.device), "--at", tt.at, "-o", "json")
			if code != cli.ExitOK {
				t.Fatalf("exit %d, stderr: %s", code, stderr)
			}
			var decisions []protocol.Decision
			if err := json.Unmarshal([]byte(stdout), &decisions); err != nil {
				t.Fatalf("output is not a JSON array of decisions: %v\n%s", err, stdout)
			}
			if len(decisions) != 1 {
				t.Fatalf("got %d decisions, want 1", len(decisions))
			}
			d := decisions[0]
			got := want{action: d.Action}
			if d.Target != nil {
				got.target = d.Target.VersionName
			}
			if d.NotBefore != nil {
				got.notBefore = d.NotBefore.UTC().Format(time.RFC3339)
			}
			if len(d.Reasons) > 0 {
				got.reason = d.Reasons[0].Code
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
			if d.Policy == nil || d.Policy.Name != "pos-postponed" || d.DecisionID == "" || d.Device != "till-berlin-01-a" {
				t.Errorf("decision lacks policy, id or device: %+v", d)
			}
			if d.Action == protocol.ActionInstall && (d.MaintenanceWindow == nil || d.Constraints == nil || !d.Constraints.Charging) {
				t.Errorf("an install after postponement must carry default-mode constraints and the window: %+v", d)
			}
			if d.Action == protocol.ActionPostponed && d.MaintenanceWindow != nil {
				t.Errorf("the maintenance window is ignored during postponement, got %+v", d.MaintenanceWindow)
			}
		})
	}
}

func TestEvalTable(t *testing.T) {
	stdout, stderr, code := runCommand(t, "eval", "-f", example, "--device", filepath.Join(example, "devices", "device-1.0.yaml"), "--at", "2026-06-12T12:00:00Z")
	if code != cli.ExitOK {
		t.Fatalf("exit %d, stderr: %s", code, stderr)
	}
	want := `DEVICE            APP              INSTALLED    ACTION     TARGET       NOT BEFORE            POLICY           REASONS
till-berlin-01-a  com.example.pos  1.0.0 (100)  postponed  4.0.0 (400)  2026-07-31T09:00:00Z  pos-postponed@0  POSTPONED

till-berlin-01-a com.example.pos: Version 4.0.0 (400) is available, but policy pos-postponed postpones updates for 90 days after the app became out of date on 2 May 2026 09:00 UTC; it can install from 31 July 2026 09:00 UTC.
`
	if diff := cmp.Diff(want, stdout); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestEvalErrors(t *testing.T) {
	dir := t.TempDir()
	badDevice := filepath.Join(dir, "bad-device.yaml")
	writeFile(t, badDevice, "apiVersion: sluice.dev/v1\nkind: Device\nmetadata: {name: till.1}\nspec: {platform: android}\n")
	policyOnly := filepath.Join(dir, "policy-only.yaml")
	writeFile(t, policyOnly, "apiVersion: sluice.dev/v1\nkind: DeviceGroup\nmetadata: {name: g}\nspec: {selector: store=a}\n")
	badPolicy := filepath.Join(dir, "policies")
	if err := os.Mkdir(badPolicy, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(badPolicy, "policy.yaml"), "apiVersion: sluice.dev/v1\nkind: UpdatePolicy\nmetadata: {name: pos-stable}\nspec: {app: com.example.pos, mode: fast}\n")
	device := filepath.Join(example, "devices", "device-1.0.yaml")

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no manifests", []string{"eval", "--device", device}, cli.ExitUsage, "-f: give at least one manifest"},
		{"no device", []string{"eval", "-f", example}, cli.ExitUsage, "--device: give a file"},
		{"bad time", []string{"eval", "-f", example, "--device", device, "--at", "yesterday"}, cli.ExitUsage, `--at: "yesterday" is not an RFC 3339 time`},
		{"bad format", []string{"eval", "-f", example, "--device", device, "-o", "xml"}, cli.ExitUsage, `-o: "xml" is not one of table, json`},
		{"unknown flag", []string{"eval", "--frobnicate"}, cli.ExitUsage, "unknown flag: --frobnicate"},
		{"malformed device", []string{"eval", "-f", example, "--device", badDevice}, cli.ExitInvalid, `Device "till.1"`},
		{"not a device", []string{"eval", "-f", example, "--device", policyOnly}, cli.ExitInvalid, "holds no Device manifest"},
		{"bad policy", []string{"eval", "-f", badPolicy, "--device", device}, cli.ExitInvalid, `policy.yaml: UpdatePolicy "pos-stable": spec.mode: "fast" is not one of default, highPriority, postponed`},
		{"missing file", []string{"eval", "-f", filepath.Join(dir, "nope"), "--device", device}, cli.ExitInvalid, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runCommand(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.wantErr)
			}
		})
	}
}

func runCommand(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
