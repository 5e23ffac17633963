package controller

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/policy"
)

func TestRolesAgainstRouteClasses(t *testing.T) {
	h := newAPIHarness(t)
	h.seedPOS()
	type route struct {
		class, method, path, contentType, body string
	}
	// Each deleting route gets its own object, so that an allowed delete
	// does not turn the next role's attempt into a 404.
	routes := []route{
		{"read", "GET", "/api/v1/policies", "", ""},
		{"change", "POST", "/api/v1/apply", "application/yaml", berlinGroupYAML},
		{"privileged", "DELETE", "/api/v1/groups/g-%s", "", ""},
		{"super", "GET", "/api/v1/tokens", "", ""},
		{"logs", "GET", "/api/v1/audit", "", ""},
	}
	got := map[string]map[Role]int{}
	for _, r := range routes {
		got[r.class] = map[Role]int{}
		for _, role := range Roles() {
			path := r.path
			if strings.Contains(path, "%s") {
				path = fmt.Sprintf(path, role)
				h.applyYAML(RoleOperator, strings.Replace(berlinGroupYAML, "name: berlin", "name: g-"+string(role), 1))
			}
			got[r.class][role] = h.as(role, r.method, path, r.contentType, []byte(r.body)).Status
		}
	}
	want := map[string]map[Role]int{
		"read":       {RoleAuditor: 403, RoleOperator: 200, RoleAdmin: 200, RoleSuperadmin: 200},
		"change":     {RoleAuditor: 403, RoleOperator: 200, RoleAdmin: 200, RoleSuperadmin: 200},
		"privileged": {RoleAuditor: 403, RoleOperator: 403, RoleAdmin: 200, RoleSuperadmin: 200},
		"super":      {RoleAuditor: 403, RoleOperator: 403, RoleAdmin: 403, RoleSuperadmin: 200},
		"logs":       {RoleAuditor: 200, RoleOperator: 403, RoleAdmin: 200, RoleSuperadmin: 200},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses by class and role (-want +got):\n%s", diff)
	}

	// Every 403 is in the audit log as denied, naming the missing role.
	var denied []string
	for _, e := range h.auditEntries(AuditDenied) {
		denied = append(denied, fmt.Sprintf("%s|%s|%s", e.Actor, e.Action, e.Detail))
	}
	wantDenied := []string{
		`auditor-token|get policies|GET /api/v1/policies needs the operator role (or admin or superadmin); token "auditor-token" has the auditor role`,
		`auditor-token|post apply|POST /api/v1/apply needs the operator role (or admin or superadmin); token "auditor-token" has the auditor role`,
		`auditor-token|delete groups|DELETE /api/v1/groups/g-auditor needs the admin role (or superadmin); token "auditor-token" has the auditor role`,
		`operator-token|delete groups|DELETE /api/v1/groups/g-operator needs the admin role (or superadmin); token "operator-token" has the operator role`,
		`auditor-token|get tokens|GET /api/v1/tokens needs the superadmin role; token "auditor-token" has the auditor role`,
		`operator-token|get tokens|GET /api/v1/tokens needs the superadmin role; token "operator-token" has the operator role`,
		`admin-token|get tokens|GET /api/v1/tokens needs the superadmin role; token "admin-token" has the admin role`,
		`operator-token|get audit|GET /api/v1/audit needs the auditor role (or admin or superadmin); token "operator-token" has the operator role`,
	}
	if diff := cmp.Diff(wantDenied, denied); diff != "" {
		t.Errorf("denials (-want +got):\n%s", diff)
	}
}

func TestAuthenticationFailures(t *testing.T) {
	h := newAPIHarness(t)
	tests := []struct {
		name   string
		header string
		want   string
	}{
		{"no header", "", "this route needs a token: send Authorization: Bearer <token> (sluice token create makes one)"},
		{"unknown token", "Bearer sluice_nope", "the token is not known (it may have been deleted)"},
		{"basic auth", "Basic dXNlcjpwYXNz", "the Authorization header is not acceptable; want Authorization: Bearer <token>"},
		{"empty bearer", "Bearer ", "the Authorization header is not acceptable; want Authorization: Bearer <token>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(testCtx(t), "GET", h.srv.URL+"/api/v1/policies", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body errorBody
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if diff := cmp.Diff([]any{401, tc.want}, []any{resp.StatusCode, body.Error}); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrivilegedChanges(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     []string
	}{
		{"plain", "", `{"app":"a.b"}`, nil},
		{"force", "", `{"app":"a.b","force":true}`, []string{"spec.force"}},
		{"all", "", `{"app":"a.b","force":true,"excludedVersions":["1.0"],"target":{"version":"2.0","versionPrefix":"2"},"prompt":{"closable":true,"forceAfter":"7d"}}`,
			[]string{"spec.excludedVersions", "spec.force", "spec.prompt.forceAfter", "spec.target.version", "spec.target.versionPrefix"}},
		{"kept", `{"app":"a.b","force":true}`, `{"app":"a.b","force":true,"channels":["x"]}`, []string{"spec.force"}},
		{"removed", `{"app":"a.b","target":{"versionPrefix":"2"}}`, `{"app":"a.b"}`, []string{"spec.target.versionPrefix"}},
		{"allowDowngrade alone", "", `{"app":"a.b","target":{"allowDowngrade":true}}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldP, newP := decodePolicy(t, tc.old), decodePolicy(t, tc.new)
			if diff := cmp.Diff(tc.want, privilegedChanges(oldP, *newP)); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

// decodePolicy reads a policy spec from JSON; "" is nil.
func decodePolicy(t *testing.T, s string) *policy.UpdatePolicy {
	t.Helper()
	if s == "" {
		return nil
	}
	var p policy.UpdatePolicy
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatalf("decode policy %s: %v", s, err)
	}
	return &p
}
