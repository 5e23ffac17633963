package controller

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/policy"
)

func TestAPIRoutingAnswersJSON(t *testing.T) {
	h := newAPIHarness(t)
	type want struct {
		Status int
		Error  string
		Allow  string
	}
	tests := []struct {
		name         string
		method, path string
		want         want
	}{
		{"unknown route", http.MethodGet, "/nope", want{Status: 404, Error: "no route GET /nope; the API lives under /api/v1 (see API.md)"}},
		{"unknown api route", http.MethodGet, "/api/v1/a/b/c/d", want{Status: 404, Error: "no route GET /api/v1/a/b/c/d; the API lives under /api/v1 (see API.md)"}},
		{"unknown kind", http.MethodGet, "/api/v1/widgets", want{Status: 404, Error: `no route GET /api/v1/widgets: "widgets" is not a kind of object; want one of releases, policies, groups, assignments, rules, devices`}},
		{"wrong method on apply", http.MethodGet, "/api/v1/apply", want{Status: 405, Error: "method GET is not allowed on /api/v1/apply; allowed: POST", Allow: "POST"}},
		{"wrong method on object", http.MethodPut, "/api/v1/policies/x", want{Status: 405, Error: "method PUT is not allowed on /api/v1/policies/x; allowed: DELETE, GET", Allow: "DELETE, GET"}},
		{"wrong method on version check", http.MethodPost, "/api/v1/version/check", want{Status: 405, Error: "method POST is not allowed on /api/v1/version/check; allowed: GET", Allow: "GET"}},
		{"wrong method on healthz", http.MethodDelete, "/healthz", want{Status: 405, Error: "method DELETE is not allowed on /healthz; allowed: GET", Allow: "GET"}},
		{"no artifacts configured", http.MethodGet, "/artifacts/" + strings.Repeat("a", 64), want{Status: 404, Error: "this controller serves no artifacts"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.as(RoleSuperadmin, tc.method, tc.path, "", nil)
			got := want{Status: a.Status, Error: a.errorText(), Allow: a.Header.Get("Allow")}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if ct := a.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
		})
	}
}

func TestAPIHealthReadinessAndMetrics(t *testing.T) {
	h := newAPIHarness(t)
	type got struct {
		Health, Ready, NotReady int
		ReadyError              string
	}
	g := got{Health: h.request("GET", "/healthz", "", "", nil).Status, Ready: h.request("GET", "/readyz", "", "", nil).Status}
	h.decider.setReady(false)
	nr := h.request("GET", "/readyz", "", "", nil)
	g.NotReady, g.ReadyError = nr.Status, nr.errorText()
	want := got{Health: 200, Ready: 200, NotReady: 503, ReadyError: "the controller is not ready: the catalog is not loaded or NATS is not connected"}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("health (-want +got):\n%s", diff)
	}
	m := h.request("GET", "/metrics", "", "", nil)
	for _, line := range []string{
		`sluice_http_request_seconds_count{code="200",route="/healthz"} 1`,
		`sluice_http_request_seconds_count{code="503",route="/readyz"} 1`,
	} {
		if !strings.Contains(string(m.Body), line) {
			t.Errorf("metrics lack %q", line)
		}
	}
}

func TestNewAPIRefusesBadConfig(t *testing.T) {
	store, _, _ := newTestStore(t)
	d := &apiDecider{store: store}
	tests := []struct {
		name string
		cfg  APIConfig
		want string
	}{
		{"no store", APIConfig{Decider: d}, "controller: new API: Store is required"},
		{"no decider", APIConfig{Store: store}, "controller: new API: Decider is required"},
		{"bad public URL", APIConfig{Store: store, Decider: d, PublicURL: "sluice.example.com"}, `controller: new API: PublicURL "sluice.example.com" is not allowed; want an http:// or https:// base URL`},
		{"negative body", APIConfig{Store: store, Decider: d, MaxBody: -1}, "controller: new API: MaxBody -1 and MaxUpload 0 must not be negative (0 for the defaults)"},
		{"bad burst", APIConfig{Store: store, Decider: d, RateLimit: RateLimit{Burst: -1}}, "controller: new API: rate limit: PerSecond 0, Burst -1 and MaxClients 0 are not allowed; want a finite rate (negative turns limiting off) and a burst and client count of 0 (the defaults) or more"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewAPI(tc.cfg)
			if diff := cmp.Diff(tc.want, errorText(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// notReadyDecider is a Decider whose catalog is not loaded yet, as the
// reconciler is between start and its first catalog.
type notReadyDecider struct{ Decider }

func (notReadyDecider) Ready() bool { return false }

func (notReadyDecider) DecideFor(context.Context, policy.Device, string) (policy.Decision, error) {
	return policy.Decision{}, ErrNotReady
}

func (notReadyDecider) DryRun(context.Context, *manifest.Set, []ObjectRef) (*Impact, error) {
	return nil, ErrNotReady
}

func (notReadyDecider) Explain(context.Context, string, string) (*Explanation, error) {
	return nil, ErrNotReady
}

func TestAPIAnswersNotReadyWith503(t *testing.T) {
	h := newAPIHarness(t, func(c *APIConfig) { c.Decider = notReadyDecider{c.Decider} })
	h.putDevice("till-1", map[string]string{"store": "berlin-01"}, nil)
	type answer struct {
		Status int
		Error  string
	}
	tests := []struct {
		name         string
		role         Role
		method, path string
		ct, body     string
	}{
		{"version check", "", "GET", "/api/v1/version/check?app_id=com.example.pos&version_code=100", "", ""},
		{"apply", RoleOperator, "POST", "/api/v1/apply", "application/yaml", berlinGroupYAML},
		{"explain", RoleOperator, "GET", "/api/v1/devices/till-1/explain", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.request(tc.method, tc.path, h.tokens[tc.role], tc.ct, []byte(tc.body))
			want := answer{503, "the controller is not ready yet (its catalog is still loading); try again shortly"}
			if diff := cmp.Diff(want, answer{a.Status, a.errorText()}); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}
