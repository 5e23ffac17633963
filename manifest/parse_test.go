package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/policy"
)

const groupDoc = `apiVersion: sluice.dev/v1
kind: DeviceGroup
metadata: {name: berlin}
spec: {selector: store=berlin-01}
`

const policyDoc = `apiVersion: sluice.dev/v1
kind: UpdatePolicy
metadata:
  name: pos-stable
spec:
  app: com.example.pos
  mode: %MODE%
`

func policyWithMode(mode string) string { return strings.ReplaceAll(policyDoc, "%MODE%", mode) }

func TestParseDocuments(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{
			name: "single document names only the file",
			data: policyWithMode("fast"),
			want: []string{`policy.yaml: UpdatePolicy "pos-stable": spec.mode: "fast" is not one of default, highPriority, postponed`},
		},
		{
			name: "second of two documents",
			data: groupDoc + "---\n" + policyWithMode("fast"),
			want: []string{`policy.yaml (document 2): UpdatePolicy "pos-stable": spec.mode: "fast" is not one of default, highPriority, postponed`},
		},
		{
			name: "empty documents are not counted",
			data: "---\n# leading comment\n---\n" + groupDoc + "---\n\n---\n" + policyWithMode("fast") + "---\n",
			want: []string{`policy.yaml (document 2): UpdatePolicy "pos-stable": spec.mode: "fast" is not one of default, highPriority, postponed`},
		},
		{
			name: "CRLF line ends and a separator with trailing blanks",
			data: strings.ReplaceAll(groupDoc+"--- \n"+policyWithMode("fast"), "\n", "\r\n"),
			want: []string{`policy.yaml (document 2): UpdatePolicy "pos-stable": spec.mode: "fast" is not one of default, highPriority, postponed`},
		},
		{
			name: "errors in several documents are all reported",
			data: policyWithMode("fast") + "---\n" + strings.ReplaceAll(policyWithMode("slow"), "pos-stable", "pos-beta"),
			want: []string{
				`policy.yaml (document 1): UpdatePolicy "pos-stable": spec.mode: "fast" is not one of default, highPriority, postponed`,
				`policy.yaml (document 2): UpdatePolicy "pos-beta": spec.mode: "slow" is not one of default, highPriority, postponed`,
			},
		},
		{
			name: "syntax error line counts from the top of the file",
			data: groupDoc + "---\n" + strings.ReplaceAll(groupDoc, "berlin", "munich") + "---\n" + "kind: [\n",
			want: []string{"policy.yaml (document 3): yaml: line 11: did not find expected node content"},
		},
		{
			name: "a --- inside a block string does not split",
			data: strings.ReplaceAll(policyWithMode("fast"), "  app:", "  prompt:\n    text: |\n      one\n      ---\n      two\n  app:"),
			want: []string{`policy.yaml: UpdatePolicy "pos-stable": spec.mode: "fast" is not one of default, highPriority, postponed`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("policy.yaml", []byte(tt.data))
			if err == nil {
				t.Fatalf("Parse succeeded with %d objects; want errors %q", s.Len(), tt.want)
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFieldErrorIsTyped(t *testing.T) {
	_, err := Parse("policy.yaml", []byte(policyWithMode("fast")))
	var fe *policy.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("errors.As(%v, *policy.FieldError) = false", err)
	}
	want := &policy.FieldError{Path: "spec.mode", Value: `"fast"`, Allowed: "one of default, highPriority, postponed"}
	if diff := cmp.Diff(want, fe); diff != "" {
		t.Errorf("field error mismatch (-want +got):\n%s", diff)
	}
	es := Errors(err)
	if len(es) != 1 {
		t.Fatalf("Errors() = %d errors, want 1", len(es))
	}
	gotSrc := []string{es[0].Source.File, es[0].Kind, es[0].Name}
	if diff := cmp.Diff([]string{"policy.yaml", "UpdatePolicy", "pos-stable"}, gotSrc); diff != "" {
		t.Errorf("error source mismatch (-want +got):\n%s", diff)
	}
}

func TestParseValueForms(t *testing.T) {
	// YAML scalars written for string fields keep their text; dates become
	// midnight UTC; anchors and aliases expand.
	data := `apiVersion: sluice.dev/v1
kind: UpdatePolicy
metadata: {name: pos-stable}
spec:
  app: com.example.pos
  channels: &chans [stable, "010"]
  excludedVersions: [5.0, 4.10]
  minClientVersion: 2
  effective: {start: 2025-05-02}
  rollout: {percent: 0x10}
`
	s, err := Parse("p.yaml", []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	got := s.Policies[0].Spec
	start := mustTime(t, "2025-05-02T00:00:00Z")
	want := policy.UpdatePolicy{
		App:              "com.example.pos",
		Channels:         []string{"stable", "010"},
		ExcludedVersions: []string{"5.0", "4.10"},
		MinClientVersion: "2",
		Effective:        &policy.Effective{Start: &start},
		Rollout:          &policy.RolloutSpec{Percent: 16},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spec mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadFilesMixedDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a-group.yaml", groupDoc)
	write("b-policy.yml", policyWithMode("fast"))
	write("c-rule.rego", "package sluice.rules\n\ndeny contains \"no\" if false\n")
	write("d-bad.rego", "package other\n")
	write("e-dup.json", `{"apiVersion": "sluice.dev/v1", "kind": "DeviceGroup", "metadata": {"name": "berlin"}, "spec": {"members": ["pos-1"]}}`)
	write("notes.txt", "not read")
	write("nested/x.yaml", "not: read")

	_, err := LoadFiles(dir)
	if err == nil {
		t.Fatal("LoadFiles succeeded; want errors")
	}
	want := []string{
		filepath.Join(dir, "b-policy.yml") + `: UpdatePolicy "pos-stable": spec.mode: "fast" is not one of default, highPriority, postponed`,
		filepath.Join(dir, "d-bad.rego") + `: Rule "d-bad": declares package other; allowed: a Rego module in package sluice.rules`,
		filepath.Join(dir, "e-dup.json") + `: DeviceGroup "berlin": metadata.name: "berlin" is already defined in ` + filepath.Join(dir, "a-group.yaml") + "; allowed: one DeviceGroup per name",
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}

	// Once fixed, the directory loads, .rego file included.
	write("b-policy.yml", policyWithMode("highPriority"))
	write("d-bad.rego", "package sluice.rules\n")
	write("e-dup.json", `{"apiVersion": "sluice.dev/v1", "kind": "DeviceGroup", "metadata": {"name": "munich"}, "spec": {"members": ["pos-1"]}}`)
	s, err := LoadFiles(dir)
	if err != nil {
		t.Fatalf("LoadFiles: %v", err)
	}
	got := map[string][]string{}
	for _, m := range s.Manifests() {
		got[m.Kind] = append(got[m.Kind], m.Metadata.Name)
	}
	wantNames := map[string][]string{
		policy.KindDeviceGroup:  {"berlin", "munich"},
		policy.KindUpdatePolicy: {"pos-stable"},
		policy.KindRule:         {"c-rule", "d-bad"},
	}
	if diff := cmp.Diff(wantNames, got); diff != "" {
		t.Errorf("loaded objects mismatch (-want +got):\n%s", diff)
	}
}

func TestValidateAgainst(t *testing.T) {
	existing := mustParse(t, "store.yaml", groupDoc+"---\n"+policyWithMode("default")+`---
apiVersion: sluice.dev/v1
kind: DeviceGroup
metadata: {name: p2}
spec: {selector: model=P2}
---
apiVersion: sluice.dev/v1
kind: Assignment
metadata: {name: stable-berlin}
spec: {policy: pos-stable, groups: [berlin], priority: 10}
`)
	assignment := func(name, pol, group string, priority string) string {
		return "apiVersion: sluice.dev/v1\nkind: Assignment\nmetadata: {name: " + name + "}\nspec: {policy: " + pol +
			", groups: [" + group + "], priority: " + priority + "}\n"
	}
	tests := []struct {
		name    string
		applied string
		want    []string
		wantApp string
	}{
		{
			name:    "references resolve in the store",
			applied: assignment("stable-p2", "pos-stable", "p2", "20"),
			wantApp: "com.example.pos",
		},
		{
			name:    "tie with a stored assignment blames the applied one",
			applied: assignment("stable-p2", "pos-stable", "p2", "10"),
			want: []string{`apply.yaml: Assignment "stable-p2": spec.priority: 10 ties with Assignment "stable-berlin" in store.yaml (document 4) ` +
				`for app com.example.pos: the selectors of groups "berlin" (store=berlin-01) and "p2" (model=P2) can match the same device; ` +
				`allowed: a priority other than 10, or groups that cannot share a device`},
			wantApp: "com.example.pos",
		},
		{
			name:    "replacing a stored assignment is no tie with itself",
			applied: assignment("stable-berlin", "pos-stable", "berlin", "10"),
			wantApp: "com.example.pos",
		},
		{
			name:    "unknown references list what exists",
			applied: assignment("x", "pos-beta", "p3", "1"),
			want: []string{
				`apply.yaml: Assignment "x": spec.policy: "pos-beta" is not a known UpdatePolicy; allowed: one of pos-stable`,
				`apply.yaml: Assignment "x": spec.groups[0]: "p3" is not a known DeviceGroup; allowed: one of berlin, p2`,
			},
		},
		{
			name: "a policy applied over the store moves stored assignments to its new app",
			applied: strings.ReplaceAll(policyWithMode("default"), "com.example.pos", "com.example.kiosk") + "---\n" +
				assignment("kiosk-p2", "pos-stable", "p2", "10"),
			want: []string{`apply.yaml (document 2): Assignment "kiosk-p2": spec.priority: 10 ties with Assignment "stable-berlin" in store.yaml (document 4) ` +
				`for app com.example.kiosk: the selectors of groups "p2" (model=P2) and "berlin" (store=berlin-01) can match the same device; ` +
				`allowed: a priority other than 10, or groups that cannot share a device`},
			wantApp: "com.example.kiosk",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, "apply.yaml", tt.applied)
			err := s.ValidateAgainst(existing)
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ValidateAgainst mismatch (-want +got):\n%s", diff)
			}
			if app := s.Assignments[len(s.Assignments)-1].Spec.App; app != tt.wantApp {
				t.Errorf("assignment app = %q, want %q", app, tt.wantApp)
			}
		})
	}
}

func TestFleetIndex(t *testing.T) {
	dir := filepath.Join("testdata", "good")
	s, err := LoadFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	x, err := s.FleetIndex()
	if err != nil {
		t.Fatalf("FleetIndex: %v", err)
	}
	d, ok := s.Device("pos-0001")
	if !ok {
		t.Fatal("device pos-0001 not in set")
	}
	a, ok, err := x.Resolve(d.Meta.Name, d.Spec.Labels, "com.example.pos")
	if err != nil || !ok {
		t.Fatalf("Resolve = %v, %v", ok, err)
	}
	want := fleet.Assignment{Name: "pos-berlin", Policy: "pos-stable", App: "com.example.pos", Groups: []string{"berlin"}, Priority: 10}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("Resolve mismatch (-want +got):\n%s", diff)
	}
}

func mustParse(t *testing.T, name, data string) *Set {
	t.Helper()
	s, err := Parse(name, []byte(data))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return s
}

func TestValidateReportsEveryTie(t *testing.T) {
	data := groupDoc + "---\n" + policyWithMode("default")
	for _, name := range []string{"a1", "a2", "a3"} {
		data += "---\napiVersion: sluice.dev/v1\nkind: Assignment\nmetadata: {name: " + name + "}\nspec: {policy: pos-stable, groups: [berlin], priority: 5}\n"
	}
	s := mustParse(t, "ties.yaml", data)
	err := s.Validate()
	var got []string
	for _, e := range Errors(err) {
		got = append(got, e.Name+": "+e.Err.Error())
	}
	want := []string{
		`a2: spec.priority: 5 ties with Assignment "a1" in ties.yaml (document 3) for app com.example.pos: both include group "berlin"; allowed: a priority other than 5, or groups that cannot share a device`,
		`a3: spec.priority: 5 ties with Assignment "a1" in ties.yaml (document 3) for app com.example.pos: both include group "berlin"; allowed: a priority other than 5, or groups that cannot share a device`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate ties mismatch (-want +got):\n%s", diff)
	}
}
