package controller

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sluice-mdm/sluice/protocol"
)

func TestApplyCreatesUpdatesAndKeepsUnchanged(t *testing.T) {
	h := newAPIHarness(t)
	h.putDevice("till-1", map[string]string{"store": "berlin-01"}, map[string]protocol.InstalledApp{"com.example.pos": {VersionName: "1.0.0", VersionCode: 100}})
	h.putDevice("till-2", map[string]string{"store": "paris-01"}, map[string]protocol.InstalledApp{"com.example.pos": {VersionName: "1.0.0", VersionCode: 100}})

	h.seedPOS()
	first := h.applyYAML(RoleOperator, docs(posPolicyYAML, berlinGroupYAML, posAssignmentYAML))
	wantFirst := []ApplyObject{
		{Kind: "UpdatePolicy", Name: "pos-stable", Action: "unchanged"},
		{Kind: "DeviceGroup", Name: "berlin", Action: "unchanged"},
		{Kind: "Assignment", Name: "pos-berlin", Action: "unchanged"},
	}
	if diff := cmp.Diff(wantFirst, first.Objects, cmpopts.IgnoreFields(ApplyObject{}, "Revision")); diff != "" {
		t.Errorf("re-apply (-want +got):\n%s", diff)
	}

	changed := strings.Replace(posPolicyYAML, "mode: highPriority", "mode: postponed", 1)
	res := h.applyYAML(RoleOperator, changed)
	pol, err := h.store.Policies().Get(testCtx(t), "pos-stable")
	if err != nil {
		t.Fatal(err)
	}
	wantRes := ApplyResult{
		Objects: []ApplyObject{{Kind: "UpdatePolicy", Name: "pos-stable", Action: "updated", Revision: pol.Revision}},
		Impact: &Impact{Devices: 2, Changed: 1, Sample: []ImpactChange{
			{Device: "till-1", App: "com.example.pos", From: protocol.ActionInstall, To: protocol.ActionPostponed, Reason: protocol.ReasonPostponed},
		}},
	}
	if diff := cmp.Diff(wantRes, res); diff != "" {
		t.Errorf("update (-want +got):\n%s", diff)
	}
	if pol.UpdatedBy != "operator-token" || pol.Value.Mode != protocol.ModePostponed {
		t.Errorf("stored policy by %q with mode %q, want operator-token and postponed", pol.UpdatedBy, pol.Value.Mode)
	}

	// The audit log holds one ok entry per write.
	var got []string
	for _, e := range h.auditEntries(AuditOK) {
		got = append(got, fmt.Sprintf("%s %s %s %s", e.Actor, e.Action, e.Kind, e.Name))
	}
	want := []string{
		"operator-token apply release com.example.pos.100",
		"operator-token apply release com.example.pos.200",
		"operator-token apply policy pos-stable",
		"operator-token apply group berlin",
		"operator-token apply assignment pos-berlin",
		"operator-token apply policy pos-stable",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestApplyDryRunChangesNothing(t *testing.T) {
	h := newAPIHarness(t)
	h.putDevice("till-1", map[string]string{"store": "berlin-01"}, map[string]protocol.InstalledApp{"com.example.pos": {VersionName: "1.0.0", VersionCode: 100}})
	h.applyYAML(RoleOperator, posReleasesYAML)
	var res ApplyResult
	h.decode(h.as(RoleOperator, "POST", "/api/v1/apply?dryRun=true", "application/yaml", []byte(docs(posPolicyYAML, berlinGroupYAML, posAssignmentYAML))), 200, &res)
	want := ApplyResult{
		DryRun: true,
		Objects: []ApplyObject{
			{Kind: "UpdatePolicy", Name: "pos-stable", Action: "created"},
			{Kind: "DeviceGroup", Name: "berlin", Action: "created"},
			{Kind: "Assignment", Name: "pos-berlin", Action: "created"},
		},
		Impact: &Impact{Devices: 1, Changed: 1, Sample: []ImpactChange{
			{Device: "till-1", App: "com.example.pos", From: protocol.ActionNone, To: protocol.ActionInstall, Reason: protocol.ReasonUpdateAvailable},
		}},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("dry run (-want +got):\n%s", diff)
	}
	pols, err := h.store.Policies().List(testCtx(t))
	if err != nil || len(pols) != 0 {
		t.Errorf("after a dry run the store holds %d policies (err %v), want 0", len(pols), err)
	}
}

func TestApplyRefusals(t *testing.T) {
	h := newAPIHarness(t)
	h.seedPOS()
	forced := strings.Replace(posPolicyYAML, "mode: highPriority", "mode: highPriority\n  force: true", 1)
	pinned := strings.Replace(posPolicyYAML, "mode: highPriority", "mode: highPriority\n  target: {version: 2.0.0}\n  excludedVersions: [1.5.0]", 1)
	type want struct {
		Status int
		Error  string
		Lines  []string
	}
	tests := []struct {
		name        string
		role        Role
		query       string
		contentType string
		body        string
		want        want
	}{
		{"wrong content type", RoleOperator, "", "text/csv", posPolicyYAML,
			want{Status: 415, Error: `content type "text/csv" is not accepted here; want application/yaml, application/x-yaml, text/yaml, application/json, text/plain, or multipart/form-data with one part per file`}},
		{"no content type", RoleOperator, "", "", posPolicyYAML,
			want{Status: 415, Error: `content type "" is not accepted here; want application/yaml, application/x-yaml, text/yaml, application/json, text/plain, or multipart/form-data with one part per file`}},
		{"bad dryRun", RoleOperator, "?dryRun=maybe", "application/yaml", posPolicyYAML,
			want{Status: 400, Error: `parameter dryRun: "maybe" is not allowed; want true or false`}},
		{"unknown parameter", RoleOperator, "?force=1", "application/yaml", posPolicyYAML,
			want{Status: 400, Error: "parameter force is not known; want one of dryRun, file"}},
		{"too large", RoleOperator, "", "application/yaml", posPolicyYAML + "# " + strings.Repeat("x", 5<<20) + "\n",
			want{Status: 413, Error: "the request body is larger than the 4194304 bytes allowed"}},
		{"empty body", RoleOperator, "", "application/yaml", "",
			want{Status: 400, Error: "the body holds no manifests; want one or more YAML or JSON documents with apiVersion sluice.dev/v1"}},
		{"invalid field", RoleOperator, "?file=policy.yaml", "application/yaml", strings.Replace(posPolicyYAML, "highPriority", "fast", 1),
			want{Status: 400, Error: "the manifests are not valid", Lines: []string{`policy.yaml: UpdatePolicy "pos-stable": spec.mode: "fast" is not one of default, highPriority, postponed`}}},
		{"unknown field", RoleOperator, "?file=p.yaml", "application/yaml", posPolicyYAML + "  speed: 3\n",
			want{Status: 400, Error: "the manifests are not valid"}},
		{"bad JSON", RoleOperator, "?file=p.json", "application/json", `{"apiVersion": "sluice.dev/v1", "kind": `,
			want{Status: 400, Error: "the manifests are not valid"}},
		{"unknown policy in assignment", RoleOperator, "?file=a.yaml", "application/yaml", strings.Replace(posAssignmentYAML, "policy: pos-stable", "policy: nope", 1),
			want{Status: 400, Error: "the manifests are not valid", Lines: []string{`a.yaml: Assignment "pos-berlin": spec.policy: "nope" is not a known UpdatePolicy; allowed: one of pos-stable`}}},
		{"tie with a stored assignment", RoleOperator, "?file=a.yaml", "application/yaml", strings.Replace(posAssignmentYAML, "name: pos-berlin", "name: pos-berlin-2", 1),
			want{Status: 400, Error: "the manifests are not valid"}},
		{"device", RoleAdmin, "", "application/yaml", "apiVersion: sluice.dev/v1\nkind: Device\nmetadata: {name: till-9}\nspec: {platform: android}\n",
			want{Status: 422, Error: `Device "till-9" cannot be applied: devices enter the inventory from their own reports, and their labels come from the agent's configuration`}},
		{"rule that does not compile", RoleSuperadmin, "", "application/yaml", "apiVersion: sluice.dev/v1\nkind: Rule\nmetadata: {name: no-weekends}\nspec:\n  module: |\n    package sluice.rules\n    deny contains msg if { msg := undefined_thing }\n",
			want{Status: 422}},
		{"operator sets force", RoleOperator, "", "application/yaml", forced,
			want{Status: 403, Error: `UpdatePolicy "pos-stable" with spec.force needs the admin role (or superadmin); token "operator-token" has the operator role`}},
		{"operator pins and excludes", RoleOperator, "", "application/yaml", pinned,
			want{Status: 403, Error: `UpdatePolicy "pos-stable" with spec.excludedVersions, spec.target.version needs the admin role (or superadmin); token "operator-token" has the operator role`}},
		{"admin applies a rule", RoleAdmin, "", "application/yaml", "apiVersion: sluice.dev/v1\nkind: Rule\nmetadata: {name: r1}\nspec:\n  module: |\n    package sluice.rules\n",
			want{Status: 403, Error: `applying Rule "r1" (Rego) needs the superadmin role; token "admin-token" has the admin role`}},
		{"stale revision annotation", RoleOperator, "", "application/yaml", strings.Replace(posPolicyYAML, "metadata: {name: pos-stable}", "metadata: {name: pos-stable, annotations: {sluice.dev/revision: \"99\"}}", 1),
			want{Status: 409, Error: `policy "pos-stable": expected revision 99, current revision is 1; someone else changed it, nothing was changed`}},
		{"bad revision annotation", RoleOperator, "", "application/yaml", strings.Replace(posPolicyYAML, "metadata: {name: pos-stable}", "metadata: {name: pos-stable, annotations: {sluice.dev/revision: \"x\"}}", 1),
			want{Status: 400, Error: `UpdatePolicy "pos-stable": metadata.annotations[sluice.dev/revision]: "x" is not allowed; want the revision the change is based on, a whole number (0 to create)`}},
		{"release with another sha256", RoleOperator, "", "application/yaml", strings.Replace(posReleasesYAML, "5c0d30f357f06e27b97bd414de0c5d01cf5f2445f330eb3906ca8b7eca61346f", strings.Repeat("ab", 32), 1),
			want{Status: 409, Error: "release com.example.pos versionCode 200 already exists with sha256 5c0d30f357f06e27b97bd414de0c5d01cf5f2445f330eb3906ca8b7eca61346f; releases are immutable, so sha256 " + strings.Repeat("ab", 32) + " is refused (publish a new versionCode)"}},
	}
	before, err := h.store.Policies().Get(testCtx(t), "pos-stable")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.as(tc.role, "POST", "/api/v1/apply"+tc.query, tc.contentType, []byte(tc.body))
			got := want{Status: a.Status, Error: a.errorText(), Lines: a.errorLines()}
			w := tc.want
			if w.Error == "" {
				got.Error = ""
			}
			if w.Lines == nil {
				got.Lines = nil
			}
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s\nbody: %s", diff, a.Body)
			}
		})
	}
	after, err := h.store.Policies().Get(testCtx(t), "pos-stable")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("refused applies changed the stored policy (-before +after):\n%s", diff)
	}
	rules, err := h.store.Rules().List(testCtx(t))
	if err != nil || len(rules) != 0 {
		t.Errorf("refused applies stored %d rules (err %v), want 0", len(rules), err)
	}
}

func TestApplyRuleCompileErrorNamesTheRule(t *testing.T) {
	h := newAPIHarness(t)
	a := h.as(RoleSuperadmin, "POST", "/api/v1/apply", "application/yaml",
		[]byte("apiVersion: sluice.dev/v1\nkind: Rule\nmetadata: {name: no-weekends}\nspec:\n  module: |\n    package sluice.rules\n    deny contains msg if { msg := undefined_thing }\n"))
	if a.Status != http.StatusUnprocessableEntity || !strings.HasPrefix(a.errorText(), `Rule "no-weekends" does not compile: `) || !strings.Contains(a.errorText(), "undefined_thing") {
		t.Errorf("got %d %q, want 422 naming the rule and OPA's complaint about undefined_thing", a.Status, a.errorText())
	}
	good := h.applyYAML(RoleSuperadmin, "apiVersion: sluice.dev/v1\nkind: Rule\nmetadata: {name: no-weekends}\nspec:\n  module: |\n    package sluice.rules\n    deny contains \"closed\" if { input.app == \"com.example.never\" }\n")
	if diff := cmp.Diff([]ApplyObject{{Kind: "Rule", Name: "no-weekends", Action: "created"}}, good.Objects, cmpopts.IgnoreFields(ApplyObject{}, "Revision")); diff != "" {
		t.Errorf("good rule (-want +got):\n%s", diff)
	}
}

func TestApplyFieldLevelRoles(t *testing.T) {
	h := newAPIHarness(t)
	h.seedPOS()
	forced := strings.Replace(posPolicyYAML, "mode: highPriority", "mode: highPriority\n  force: true", 1)
	// The admin may force; afterwards an operator may neither change the
	// forced policy nor take the force away.
	res := h.applyYAML(RoleAdmin, forced)
	if res.Objects[0].Action != ApplyUpdated {
		t.Fatalf("admin apply: %+v, want updated", res.Objects)
	}
	tests := []struct {
		name string
		role Role
		body string
		want int
	}{
		{"operator changes text of forced policy", RoleOperator, strings.Replace(forced, "app: com.example.pos", "app: com.example.pos\n  channels: [beta]", 1), 403},
		{"operator removes force", RoleOperator, posPolicyYAML, 403},
		{"admin removes force", RoleAdmin, posPolicyYAML, 200},
		{"operator changes unforced policy", RoleOperator, strings.Replace(posPolicyYAML, "highPriority", "default", 1), 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.as(tc.role, "POST", "/api/v1/apply", "application/yaml", []byte(tc.body))
			if a.Status != tc.want {
				t.Errorf("status %d, want %d: %s", a.Status, tc.want, a.Body)
			}
		})
	}
	var denied []string
	for _, e := range h.auditEntries(AuditDenied) {
		denied = append(denied, fmt.Sprintf("%s %s %s %s", e.Actor, e.Action, e.Kind, e.Name))
	}
	if diff := cmp.Diff([]string{"operator-token apply policy pos-stable", "operator-token apply policy pos-stable"}, denied); diff != "" {
		t.Errorf("denials audited (-want +got):\n%s", diff)
	}
}

func TestConcurrentAppliesOfOneObjectConflict(t *testing.T) {
	h := newAPIHarness(t)
	h.seedPOS()
	const n = 4
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			body := strings.Replace(posPolicyYAML, "mode: highPriority", fmt.Sprintf("mode: postponed\n  postponeDays: %d", 10+i), 1)
			statuses[i] = h.as(RoleOperator, "POST", "/api/v1/apply", "application/yaml", []byte(body)).Status
		}()
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[200] < 1 || count[200]+count[409] != n {
		t.Errorf("statuses %v: want at least one 200 and the rest 409", statuses)
	}
	pol, err := h.store.Policies().Get(testCtx(t), "pos-stable")
	if err != nil {
		t.Fatal(err)
	}
	okWrites := 0
	for _, e := range h.auditEntries(AuditOK) {
		if e.Kind == "policy" && e.Revision == pol.Revision {
			okWrites++
		}
	}
	if okWrites != 1 {
		t.Errorf("%d audited writes produced the stored revision %d, want exactly 1", okWrites, pol.Revision)
	}
}

func TestApplyConflictLosesCleanly(t *testing.T) {
	h := newAPIHarness(t)
	h.seedPOS()
	pol, err := h.store.Policies().Get(testCtx(t), "pos-stable")
	if err != nil {
		t.Fatal(err)
	}
	// Someone else changes the policy after this client read revision N.
	based := strings.Replace(posPolicyYAML, "metadata: {name: pos-stable}", fmt.Sprintf("metadata: {name: pos-stable, annotations: {sluice.dev/revision: \"%d\"}}", pol.Revision), 1)
	h.applyYAML(RoleOperator, strings.Replace(posPolicyYAML, "highPriority", "default", 1))
	a := h.as(RoleOperator, "POST", "/api/v1/apply", "application/yaml", []byte(strings.Replace(based, "highPriority", "postponed", 1)))
	cur, err := h.store.Policies().Get(testCtx(t), "pos-stable")
	if err != nil {
		t.Fatal(err)
	}
	wantErr := fmt.Sprintf(`policy "pos-stable": expected revision %d, current revision is %d; someone else changed it, nothing was changed`, pol.Revision, cur.Revision)
	if diff := cmp.Diff([]any{409, wantErr, protocol.ModeDefault}, []any{a.Status, a.errorText(), cur.Value.Mode}); diff != "" {
		t.Errorf("conflict (-want +got):\n%s", diff)
	}
}

// multipartBody builds an apply body with one part per file, as sluice
// apply sends several files.
func multipartBody(t *testing.T, files ...[2]string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, f[0]))
		h.Set("Content-Type", "application/yaml")
		pw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = pw.Write([]byte(f[1]))
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

func TestApplySeveralFilesAsMultipart(t *testing.T) {
	h := newAPIHarness(t)
	ct, body := multipartBody(t, [2]string{"dir/policy.yaml", posPolicyYAML}, [2]string{"dir/rollout.yaml", docs(berlinGroupYAML, posAssignmentYAML)})
	var res ApplyResult
	h.decode(h.as(RoleOperator, "POST", "/api/v1/apply", ct, body), 200, &res)
	want := []ApplyObject{
		{Kind: "UpdatePolicy", Name: "pos-stable", Action: "created"},
		{Kind: "DeviceGroup", Name: "berlin", Action: "created"},
		{Kind: "Assignment", Name: "pos-berlin", Action: "created"},
	}
	if diff := cmp.Diff(want, res.Objects, cmpopts.IgnoreFields(ApplyObject{}, "Revision")); diff != "" {
		t.Errorf("multipart apply (-want +got):\n%s", diff)
	}

	// A lone Rego file goes as text/plain, named by ?file=.
	rego := "package sluice.rules\n\ndeny contains \"closed\" if { input.app == \"com.example.never\" }\n"
	h.decode(h.as(RoleSuperadmin, "POST", "/api/v1/apply?file=rules/no-never.rego", "text/plain", []byte(rego)), 200, &res)
	if diff := cmp.Diff([]ApplyObject{{Kind: "Rule", Name: "no-never", Action: "created"}}, res.Objects, cmpopts.IgnoreFields(ApplyObject{}, "Revision")); diff != "" {
		t.Errorf("rego apply (-want +got):\n%s", diff)
	}

	type answer struct {
		Status int
		Error  string
		Lines  []string
	}
	dupCT, dupBody := multipartBody(t, [2]string{"a.yaml", posPolicyYAML}, [2]string{"b.yaml", posPolicyYAML})
	badCT, badBody := multipartBody(t, [2]string{"a.yaml", posPolicyYAML}, [2]string{"b.yaml", strings.Replace(posPolicyYAML, "highPriority", "fast", 1)})
	var anon bytes.Buffer
	mw := multipart.NewWriter(&anon)
	fw, _ := mw.CreateFormField("file")
	_, _ = fw.Write([]byte(posPolicyYAML))
	_ = mw.Close()
	tests := []struct {
		name, query, contentType string
		body                     []byte
		want                     answer
	}{
		{"duplicate across files", "", dupCT, dupBody, answer{400, "the manifests are not valid",
			[]string{`b.yaml: UpdatePolicy "pos-stable": metadata.name: "pos-stable" is already defined in a.yaml; allowed: one UpdatePolicy per name`}}},
		{"invalid second file", "", badCT, badBody, answer{400, "the manifests are not valid",
			[]string{`b.yaml: UpdatePolicy "pos-stable": spec.mode: "fast" is not one of default, highPriority, postponed`}}},
		{"part without filename", "", mw.FormDataContentType(), anon.Bytes(), answer{400,
			`multipart part 1 (name "file", filename "") is not acceptable; want each part named "file" with the file's name as its filename`, nil}},
		{"file with multipart", "?file=x.yaml", dupCT, dupBody, answer{400, "parameter file is not allowed with a multipart body; each part names its file", nil}},
		{"broken multipart", "", "multipart/form-data; boundary=xyz", []byte("--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.yaml\"\r\n\r\nkind"), answer{400, "", nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.as(RoleAdmin, "POST", "/api/v1/apply"+tc.query, tc.contentType, tc.body)
			got := answer{a.Status, a.errorText(), a.errorLines()}
			if tc.want.Error == "" {
				got.Error = ""
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// An operator must not start, widen or lift an admin's forced or pinned
// update by way of its assignment either.
func TestApplyAssignmentOfPrivilegedPolicyNeedsAdmin(t *testing.T) {
	h := newAPIHarness(t)
	h.seedPOS()
	forced := strings.Replace(posPolicyYAML, "mode: highPriority", "mode: highPriority\n  force: true", 1)
	plain := strings.Replace(posPolicyYAML, "pos-stable", "pos-plain", 1)
	h.applyYAML(RoleAdmin, docs(forced, plain, strings.Replace(berlinGroupYAML, "berlin", "hamburg", 2)))
	hamburg := strings.Replace(posAssignmentYAML, "pos-berlin", "pos-hamburg", 1)
	hamburg = strings.Replace(hamburg, "[berlin]", "[hamburg]", 1)
	tests := []struct {
		name string
		role Role
		body string
		want int
	}{
		{"operator reapplies the forced policy's assignment unchanged", RoleOperator, posAssignmentYAML, 200},
		{"operator assigns the forced policy to another group", RoleOperator, hamburg, 403},
		{"operator widens the forced policy's assignment", RoleOperator, strings.Replace(posAssignmentYAML, "[berlin]", "[berlin, hamburg]", 1), 403},
		{"operator points the forced policy's assignment elsewhere", RoleOperator, strings.Replace(posAssignmentYAML, "policy: pos-stable", "policy: pos-plain", 1), 403},
		{"operator assigns a plain policy", RoleOperator, strings.Replace(hamburg, "policy: pos-stable", "policy: pos-plain", 1), 200},
		{"admin assigns the forced policy to another group", RoleAdmin, strings.Replace(strings.Replace(hamburg, "pos-hamburg", "pos-hamburg-2", 1), "priority: 10", "priority: 20", 1), 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.as(tc.role, "POST", "/api/v1/apply", "application/yaml", []byte(tc.body))
			if a.Status != tc.want {
				t.Errorf("status %d, want %d: %s", a.Status, tc.want, a.Body)
			}
		})
	}
	var denied []string
	for _, e := range h.auditEntries(AuditDenied) {
		denied = append(denied, fmt.Sprintf("%s %s %s %s", e.Actor, e.Action, e.Kind, e.Name))
	}
	want := []string{"operator-token apply assignment pos-hamburg", "operator-token apply assignment pos-berlin", "operator-token apply assignment pos-berlin"}
	if diff := cmp.Diff(want, denied); diff != "" {
		t.Errorf("denials audited (-want +got):\n%s", diff)
	}
}
