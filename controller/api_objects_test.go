package controller

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sluice-mdm/sluice/protocol"
)

func TestGetListAndDeleteObjects(t *testing.T) {
	h := newAPIHarness(t)
	h.seedPOS()
	h.putDevice("till-1", map[string]string{"store": "berlin-01"}, nil)

	var list struct{ Items []ObjectRecord }
	h.decode(h.as(RoleOperator, "GET", "/api/v1/releases", "", nil), 200, &list)
	var names []string
	for _, it := range list.Items {
		names = append(names, it.Kind+"/"+it.Name)
	}
	if diff := cmp.Diff([]string{"Release/com.example.pos.100", "Release/com.example.pos.200"}, names); diff != "" {
		t.Errorf("releases (-want +got):\n%s", diff)
	}

	var group struct {
		Kind, Name, UpdatedBy string
		Revision              uint64
		UpdatedAt             time.Time
		Spec                  map[string]any
	}
	h.decode(h.as(RoleOperator, "GET", "/api/v1/groups/berlin", "", nil), 200, &group)
	want := map[string]any{"selector": "store=berlin-01"}
	if diff := cmp.Diff([]any{"DeviceGroup", "berlin", "operator-token", want}, []any{group.Kind, group.Name, group.UpdatedBy, group.Spec}); diff != "" {
		t.Errorf("group (-want +got):\n%s", diff)
	}

	var dev ObjectRecord
	h.decode(h.as(RoleOperator, "GET", "/api/v1/devices/till-1", "", nil), 200, &dev)
	if dev.Kind != "Device" || dev.Name != "till-1" {
		t.Errorf("device record %+v", dev)
	}

	type answer struct {
		Status int
		Error  string
	}
	tests := []struct {
		name         string
		method, path string
		want         answer
	}{
		{"unknown policy", "GET", "/api/v1/policies/nope", answer{404, `policy "nope" not found`}},
		{"bad name", "GET", "/api/v1/policies/-x", answer{400, `policy: name "-x" is not allowed; want 1 to 253 letters, digits, '.', '-' and '_', starting with a letter or digit, without ".." or a trailing '.' ('-' at byte 0)`}},
		{"unknown parameter", "GET", "/api/v1/policies?o=yaml", answer{400, "parameter o is not known; want no parameters"}},
		{"delete referenced policy", "DELETE", "/api/v1/policies/pos-stable", answer{409, `policy "pos-stable" is still named by assignment "pos-berlin"; delete or change it first`}},
		{"delete referenced group", "DELETE", "/api/v1/groups/berlin", answer{409, `group "berlin" is still named by assignment "pos-berlin"; delete or change it first`}},
		{"delete with stale revision", "DELETE", "/api/v1/assignments/pos-berlin?revision=999", answer{409, `assignment "pos-berlin": expected revision 999, current revision is 1; someone else changed it, nothing was changed`}},
		{"delete with bad revision", "DELETE", "/api/v1/assignments/pos-berlin?revision=-3", answer{400, `parameter revision: "-3" is not allowed; want the positive revision being deleted, as sluice get shows it`}},
		{"delete missing", "DELETE", "/api/v1/assignments/nope", answer{404, `assignment "nope" not found`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.as(RoleAdmin, tc.method, tc.path, "", nil)
			got := answer{a.Status, a.errorText()}
			if tc.want.Error == "" {
				got.Error = ""
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}

	as, err := h.store.Assignments().Get(testCtx(t), "pos-berlin")
	if err != nil {
		t.Fatal(err)
	}
	var del deleteAnswer
	h.decode(h.as(RoleAdmin, "DELETE", fmt.Sprintf("/api/v1/assignments/pos-berlin?revision=%d", as.Revision), "", nil), 200, &del)
	h.decode(h.as(RoleAdmin, "DELETE", "/api/v1/policies/pos-stable", "", nil), 200, nil)
	if diff := cmp.Diff(deleteAnswer{Kind: "Assignment", Name: "pos-berlin", Revision: as.Revision}, del); diff != "" {
		t.Errorf("delete (-want +got):\n%s", diff)
	}
	if _, err := h.store.Policies().Get(testCtx(t), "pos-stable"); !strings.Contains(errorText(err), "not found") {
		t.Errorf("policy after delete: %v, want not found", err)
	}
	var deletes []string
	for _, e := range h.auditEntries(AuditOK) {
		if e.Action == "delete" {
			deletes = append(deletes, fmt.Sprintf("%s %s %s", e.Actor, e.Kind, e.Name))
		}
	}
	if diff := cmp.Diff([]string{"admin-token assignment pos-berlin", "admin-token policy pos-stable"}, deletes); diff != "" {
		t.Errorf("audited deletes (-want +got):\n%s", diff)
	}
}

func TestTokens(t *testing.T) {
	h := newAPIHarness(t)
	var created CreatedToken
	h.decode(h.as(RoleSuperadmin, "POST", "/api/v1/tokens", "application/json", []byte(`{"name":"alice","role":"admin"}`)), 201, &created)
	if created.Name != "alice" || created.Role != RoleAdmin || !strings.HasPrefix(created.Token, "sluice_") || len(created.Token) != len("sluice_")+43 {
		t.Fatalf("created %+v", created)
	}
	// The new token works, with its role.
	if a := h.request("DELETE", "/api/v1/groups/none", created.Token, "", nil); a.Status != 404 {
		t.Errorf("alice deleting a missing group: %d, want 404 (allowed, not found)", a.Status)
	}

	list := h.as(RoleSuperadmin, "GET", "/api/v1/tokens", "", nil)
	if strings.Contains(string(list.Body), TokenHash(created.Token)) || strings.Contains(string(list.Body), created.Token) {
		t.Errorf("token list reveals a secret or hash: %s", list.Body)
	}
	var items struct{ Items []TokenInfo }
	h.decode(list, 200, &items)
	var got []string
	for _, it := range items.Items {
		got = append(got, it.Name+":"+string(it.Role))
	}
	want := []string{"admin-token:admin", "alice:admin", "auditor-token:auditor", "operator-token:operator", "superadmin-token:superadmin"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tokens (-want +got):\n%s", diff)
	}

	type answer struct {
		Status int
		Error  string
	}
	tests := []struct {
		name        string
		contentType string
		body        string
		want        answer
	}{
		{"bad role", "application/json", `{"name":"bob","role":"root"}`, answer{400, `token: role "root" is not allowed; want one of auditor, operator, admin, superadmin`}},
		{"bad name", "application/json", `{"name":"a b","role":"admin"}`, answer{400, `token: name "a b" is not allowed; want 1 to 253 letters, digits, '.', '-' and '_', starting with a letter or digit, without ".." or a trailing '.' (' ' at byte 1)`}},
		{"taken name", "application/json", `{"name":"alice","role":"auditor"}`, answer{409, `a token named "alice" exists; delete it first or choose another name`}},
		{"unknown field", "application/json", `{"name":"bob","role":"admin","secret":"x"}`, answer{400, `the JSON body is not acceptable: field "secret" is not known`}},
		{"wrong type", "application/json", `{"name":"bob","role":3}`, answer{400, "the JSON body is not acceptable: field role: a JSON number is not allowed; want a string"}},
		{"bad JSON", "application/json", `{"name":`, answer{400, "the JSON body is not acceptable: unexpected EOF"}},
		{"two values", "application/json", `{"name":"bob","role":"admin"} {}`, answer{400, "the JSON body is not acceptable: it holds more than one JSON value"}},
		{"empty", "application/json", ``, answer{400, "the JSON body is not acceptable: it is empty; want a JSON object"}},
		{"not JSON", "text/plain", `{"name":"bob","role":"admin"}`, answer{415, `content type "text/plain" is not accepted here; want application/json`}},
		{"too large", "application/json", `{"name":"` + strings.Repeat("x", 5<<20) + `","role":"admin"}`, answer{413, "the request body is larger than the 4194304 bytes allowed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.as(RoleSuperadmin, "POST", "/api/v1/tokens", tc.contentType, []byte(tc.body))
			if diff := cmp.Diff(tc.want, answer{a.Status, a.errorText()}); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}

	var del deleteAnswer
	h.decode(h.as(RoleSuperadmin, "DELETE", "/api/v1/tokens/alice", "", nil), 200, &del)
	if a := h.request("GET", "/api/v1/policies", created.Token, "", nil); a.Status != 401 {
		t.Errorf("deleted token: %d, want 401", a.Status)
	}
	if a := h.as(RoleSuperadmin, "DELETE", "/api/v1/tokens/alice", "", nil); a.Status != 404 {
		t.Errorf("deleting again: %d, want 404", a.Status)
	}
	var actions []string
	for _, e := range h.auditEntries("") {
		if e.Kind == "token" {
			actions = append(actions, fmt.Sprintf("%s %s %s", e.Action, e.Name, e.Outcome))
		}
	}
	wantActions := []string{"token create alice ok", "token create alice error", "token delete alice ok", "token delete alice error"}
	if diff := cmp.Diff(wantActions, actions); diff != "" {
		t.Errorf("audited token actions (-want +got):\n%s", diff)
	}
}

func TestLogsRoutes(t *testing.T) {
	h := newAPIHarness(t)
	h.seedPOS()
	h.putDevice("till-1", map[string]string{"store": "berlin-01"}, map[string]protocol.InstalledApp{"com.example.pos": {VersionName: "1.0.0", VersionCode: 100}})
	ex, err := h.decider.Explain(testCtx(t), "till-1", "com.example.pos")
	if err != nil {
		t.Fatal(err)
	}
	d := ex.Decisions[0]
	c, eng, err := h.decider.current(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := c.Decide(testCtx(t), eng, ex.Device, "com.example.pos", h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	input, _ := json.Marshal(dec.Input)
	result, _ := json.Marshal(d)
	if _, err := h.store.AppendDecision(testCtx(t), DecisionLogEntry{DecisionID: d.DecisionID, Input: input, Result: result, Device: "till-1", App: "com.example.pos", Policy: d.Policy}); err != nil {
		t.Fatal(err)
	}

	var items struct{ Items []DecisionLogEntry }
	h.decode(h.as(RoleAuditor, "GET", "/api/v1/decisions?device=till-1&since=1h&limit=5", "", nil), 200, &items)
	if len(items.Items) != 1 || items.Items[0].DecisionID != d.DecisionID {
		t.Fatalf("decisions %+v, want the one logged", items.Items)
	}
	var entry DecisionLogEntry
	h.decode(h.as(RoleAuditor, "GET", "/api/v1/decisions/"+d.DecisionID, "", nil), 200, &entry)
	var rep ReplayResult
	h.decode(h.as(RoleAuditor, "POST", "/api/v1/decisions/"+d.DecisionID+"/replay", "", nil), 200, &rep)
	if diff := cmp.Diff(ReplayResult{Identical: true, Logged: d, Replayed: d}, rep, cmpopts.IgnoreFields(protocol.Decision{}, "EvaluatedAt")); diff != "" {
		t.Errorf("replay (-want +got):\n%s", diff)
	}
	// The logged input carries its policy: a later policy change does not
	// change the replay.
	h.applyYAML(RoleOperator, strings.Replace(posPolicyYAML, "highPriority", "postponed", 1))
	h.decode(h.as(RoleAuditor, "POST", "/api/v1/decisions/"+d.DecisionID+"/replay", "", nil), 200, &rep)
	if !rep.Identical || rep.Diff != "" {
		t.Errorf("replay after a policy change: identical=%v diff %q, want identical", rep.Identical, rep.Diff)
	}
	// A logged result the engine does not reproduce is reported.
	tampered := d
	tampered.DecisionID, tampered.Action = "tampered-1", protocol.ActionNone
	result, _ = json.Marshal(tampered)
	if _, err := h.store.AppendDecision(testCtx(t), DecisionLogEntry{DecisionID: "tampered-1", Input: input, Result: result, Device: "till-1", App: "com.example.pos"}); err != nil {
		t.Fatal(err)
	}
	h.decode(h.as(RoleAuditor, "POST", "/api/v1/decisions/tampered-1/replay", "", nil), 200, &rep)
	if rep.Identical || !strings.Contains(rep.Diff, "Action") || rep.Replayed.Action != protocol.ActionInstall {
		t.Errorf("tampered replay: identical=%v replayed %s diff %q, want a difference in Action", rep.Identical, rep.Replayed.Action, rep.Diff)
	}

	var audit struct{ Items []AuditEntry }
	h.decode(h.as(RoleAuditor, "GET", "/api/v1/audit?actor=operator-token&limit=2", "", nil), 200, &audit)
	var got []string
	for _, e := range audit.Items {
		got = append(got, e.Action+" "+e.Kind+" "+e.Name)
	}
	if diff := cmp.Diff([]string{"apply assignment pos-berlin", "apply policy pos-stable"}, got); diff != "" {
		t.Errorf("audit tail (-want +got):\n%s", diff)
	}

	type answer struct {
		Status int
		Error  string
	}
	tests := []struct {
		name, method, path string
		want               answer
	}{
		{"bad since", "GET", "/api/v1/decisions?since=yesterday", answer{400, `parameter since: "yesterday" is not allowed; want an RFC 3339 time ("2026-05-02T09:00:00Z") or a positive Go duration ("24h")`}},
		{"bad limit", "GET", "/api/v1/audit?limit=0", answer{400, `parameter limit: "0" is not allowed; want a whole number from 1 to 10000`}},
		{"huge limit", "GET", "/api/v1/decisions?limit=10001", answer{400, `parameter limit: "10001" is not allowed; want a whole number from 1 to 10000`}},
		{"bad device", "GET", "/api/v1/decisions?device=a.b", answer{400, `parameter device: "a.b" is not allowed; want a device id of letters, digits, '-', '_' and ':'`}},
		{"bad app", "GET", "/api/v1/decisions?app=pos", answer{400, `parameter app: "pos" is not allowed; want a package name such as com.example.pos`}},
		{"unknown parameter", "GET", "/api/v1/audit?kind=policy", answer{400, "parameter kind is not known; want one of since, actor, limit"}},
		{"repeated parameter", "GET", "/api/v1/audit?actor=a&actor=b", answer{400, "parameter actor is given 2 times; want it once"}},
		{"unknown decision", "GET", "/api/v1/decisions/nope", answer{404, `decision "nope" not found`}},
		{"replay unknown", "POST", "/api/v1/decisions/nope/replay", answer{404, `decision "nope" not found`}},
		{"replay with GET", "GET", "/api/v1/decisions/x/replay", answer{405, "method GET is not allowed on /api/v1/decisions/x/replay; allowed: POST"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.as(RoleAuditor, tc.method, tc.path, "", nil)
			if diff := cmp.Diff(tc.want, answer{a.Status, a.errorText()}); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}
