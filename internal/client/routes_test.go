package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// TestRoutes checks, route by route, the request each method sends and
// how it decodes the answer of API.md's shape.
func TestRoutes(t *testing.T) {
	f := newFake(t)
	c := f.client("tok")
	seenAt := mustTime(t, "2026-05-02T09:00:00Z")
	tests := []struct {
		name   string
		answer string
		call   func(ctx context.Context) (any, error)
		req    seen
		want   any
	}{
		{
			name:   "get",
			answer: `{"kind": "UpdatePolicy", "name": "pos stable", "revision": 2, "updatedAt": "2026-05-02T09:00:00Z", "spec": {"app": "com.example.pos"}}`,
			call: func(ctx context.Context) (any, error) {
				r, err := c.Get(ctx, Policies, "pos stable/x")
				if err != nil {
					return nil, err
				}
				p, err := r.Policy()
				return []any{r.Name, r.Revision, p.App}, err
			},
			req:  seen{Method: "GET", Path: "/api/v1/policies/pos%20stable%2Fx"},
			want: []any{"pos stable", uint64(2), "com.example.pos"},
		},
		{
			name:   "delete at revision",
			answer: `{"kind": "UpdatePolicy", "name": "pos-beta", "revision": 7}`,
			call:   func(ctx context.Context) (any, error) { return c.Delete(ctx, Policies, "pos-beta", 7) },
			req:    seen{Method: "DELETE", Path: "/api/v1/policies/pos-beta", Query: "revision=7"},
			want:   Deleted{Kind: "UpdatePolicy", Name: "pos-beta", Revision: 7},
		},
		{
			name:   "delete current",
			answer: `{"kind": "DeviceGroup", "name": "g", "revision": 1}`,
			call:   func(ctx context.Context) (any, error) { return c.Delete(ctx, Groups, "g", 0) },
			req:    seen{Method: "DELETE", Path: "/api/v1/groups/g"},
			want:   Deleted{Kind: "DeviceGroup", Name: "g", Revision: 1},
		},
		{
			name: "explain",
			answer: `{"device": {"id": "pos-001", "platform": "android", "sdk": 30, "state": {"unmetered": true, "charging": false, "idle": false}},
 "groups": ["berlin"], "decisions": [{"decisionId": "d1", "device": "pos-001", "app": "com.example.pos", "action": "install",
 "reasons": [{"code": "UPDATE_AVAILABLE", "message": "2.0.0 is available."}], "evaluatedAt": "2026-05-02T09:00:00Z"}],
 "status": {"com.example.pos": {"state": "waiting", "waitingFor": ["WAITING_FOR_CHARGING"]}},
 "lastSeen": "2026-05-02T09:00:00Z", "directive": {"sequence": 4, "issuedAt": "2026-05-02T09:00:00Z", "expiresAt": "2026-05-02T09:00:00Z", "acknowledged": 3}}`,
			call: func(ctx context.Context) (any, error) { return c.Explain(ctx, "pos-001", "com.example.pos") },
			req:  seen{Method: "GET", Path: "/api/v1/devices/pos-001/explain", Query: "app=com.example.pos"},
			want: Explanation{
				Device: policy.Device{ID: "pos-001", Platform: "android", SDK: 30, State: protocol.DeviceState{Unmetered: true}},
				Groups: []string{"berlin"},
				Decisions: []protocol.Decision{{DecisionID: "d1", Device: "pos-001", App: "com.example.pos", Action: protocol.ActionInstall,
					Reasons: []protocol.Reason{{Code: "UPDATE_AVAILABLE", Message: "2.0.0 is available."}}, EvaluatedAt: seenAt}},
				Status:    map[string]protocol.AppStatus{"com.example.pos": {State: "waiting", WaitingFor: []string{protocol.WaitingForCharging}}},
				LastSeen:  seenAt,
				Directive: &DirectiveInfo{Sequence: 4, IssuedAt: seenAt, ExpiresAt: seenAt, Acknowledged: 3},
			},
		},
		{
			name: "rollout",
			answer: `{"items": [{"policy": "pos-stable", "app": "com.example.pos", "revision": 12, "target": {"versionName": "2.0.0", "versionCode": 200},
 "devices": 3, "byAction": {"install": 2, "none": 1}, "byState": {"installed": 1, "unknown": 2}}]}`,
			call: func(ctx context.Context) (any, error) { return c.Rollout(ctx, "pos-stable") },
			req:  seen{Method: "GET", Path: "/api/v1/rollout", Query: "policy=pos-stable"},
			want: []RolloutItem{{Policy: "pos-stable", App: "com.example.pos", Revision: 12, Target: &RolloutTarget{VersionName: "2.0.0", VersionCode: 200},
				Devices: 3, ByAction: map[protocol.Action]int{"install": 2, "none": 1}, ByState: map[string]int{"installed": 1, "unknown": 2}}},
		},
		{
			name:   "add release",
			answer: `{"kind": "Release", "name": "com.example.pos.200", "revision": 1, "updatedAt": "2026-05-02T09:00:00Z", "spec": {}, "action": "unchanged"}`,
			call: func(ctx context.Context) (any, error) {
				a, err := c.AddRelease(ctx, AddRelease{URL: "https://h/p.apk?dl=0", Mirrors: []string{"https://m/p.apk"}, Track: "beta", AppStoreID: "123"})
				return []any{a.Name, a.Action}, err
			},
			req: seen{Method: "POST", Path: "/api/v1/releases", ContentType: "application/json",
				Body: `{"url":"https://h/p.apk?dl=0","mirrors":["https://m/p.apk"],"track":"beta","appStoreId":"123"}`},
			want: []any{"com.example.pos.200", "unchanged"},
		},
		{
			name: "decisions",
			answer: `{"items": [{"decision_id": "d1", "timestamp": "2026-05-02T09:00:00Z", "path": "sluice/decision", "input": {"a": 1},
 "result": {"decisionId": "d1", "device": "pos-001", "app": "com.example.pos", "action": "none", "reasons": [{"code": "UP_TO_DATE", "message": "m"}], "evaluatedAt": "2026-05-02T09:00:00Z"},
 "device": "pos-001", "app": "com.example.pos", "policy": {"name": "pos-stable", "revision": 12}, "seq": 9}]}`,
			call: func(ctx context.Context) (any, error) {
				es, err := c.Decisions(ctx, DecisionQuery{Device: "pos-001", App: "com.example.pos", Since: "24h", Limit: 5})
				if err != nil || len(es) != 1 {
					return es, err
				}
				d, err := es[0].Decision()
				return []any{es[0].DecisionID, es[0].Seq, *es[0].Policy, d.Action, d.Reasons[0].Code}, err
			},
			req:  seen{Method: "GET", Path: "/api/v1/decisions", Query: "app=com.example.pos&device=pos-001&limit=5&since=24h"},
			want: []any{"d1", uint64(9), protocol.PolicyRef{Name: "pos-stable", Revision: 12}, protocol.ActionNone, "UP_TO_DATE"},
		},
		{
			name:   "replay",
			answer: `{"identical": false, "diff": "action: none -> install", "logged": {"action": "none", "reasons": []}, "replayed": {"action": "install", "reasons": []}}`,
			call: func(ctx context.Context) (any, error) {
				r, err := c.Replay(ctx, "d1")
				return []any{r.Identical, r.Diff, r.Logged.Action, r.Replayed.Action}, err
			},
			req:  seen{Method: "POST", Path: "/api/v1/decisions/d1/replay"},
			want: []any{false, "action: none -> install", protocol.ActionNone, protocol.ActionInstall},
		},
		{
			name:   "audit",
			answer: `{"items": [{"time": "2026-05-02T09:00:00Z", "actor": "alice", "role": "admin", "action": "apply", "kind": "policy", "name": "pos-stable", "revision": 12, "outcome": "ok"}]}`,
			call: func(ctx context.Context) (any, error) {
				return c.Audit(ctx, AuditQuery{Actor: "alice", Since: "2026-05-01T00:00:00Z"})
			},
			req:  seen{Method: "GET", Path: "/api/v1/audit", Query: "actor=alice&since=2026-05-01T00%3A00%3A00Z"},
			want: []AuditEntry{{Time: seenAt, Actor: "alice", Role: "admin", Action: "apply", Kind: "policy", Name: "pos-stable", Revision: 12, Outcome: "ok"}},
		},
		{
			name:   "create token",
			answer: `{"name": "ci", "role": "operator", "token": "sluice_abc"}`,
			call:   func(ctx context.Context) (any, error) { return c.CreateToken(ctx, "ci", RoleOperator) },
			req:    seen{Method: "POST", Path: "/api/v1/tokens", ContentType: "application/json", Body: `{"name":"ci","role":"operator"}`},
			want:   CreatedToken{Name: "ci", Role: "operator", Token: "sluice_abc"},
		},
		{
			name:   "list tokens",
			answer: `{"items": [{"name": "ci", "role": "operator", "createdAt": "2026-05-02T09:00:00Z"}]}`,
			call:   func(ctx context.Context) (any, error) { return c.Tokens(ctx) },
			req:    seen{Method: "GET", Path: "/api/v1/tokens"},
			want:   []TokenInfo{{Name: "ci", Role: "operator", CreatedAt: seenAt}},
		},
		{
			name:   "delete token",
			answer: `{"kind": "Token", "name": "ci", "revision": 1}`,
			call:   func(ctx context.Context) (any, error) { return nil, c.DeleteToken(ctx, "ci") },
			req:    seen{Method: "DELETE", Path: "/api/v1/tokens/ci"},
		},
		{
			name:   "version check",
			answer: `{"updateAvailable": true, "action": "prompt", "versionName": "2.0.0", "versionCode": 200, "force": false, "closable": true, "reasons": []}`,
			call: func(ctx context.Context) (any, error) {
				v, err := c.CheckVersion(ctx, VersionCheckQuery{App: "com.example.pos", VersionCode: 100, Platform: "android"})
				return []any{v.UpdateAvailable, v.Action, v.VersionCode, v.Closable}, err
			},
			req:  seen{Method: "GET", Path: "/api/v1/version/check", Query: "app_id=com.example.pos&platform=android&version_code=100"},
			want: []any{true, protocol.ActionPrompt, int64(200), true},
		},
		{
			name:   "update config",
			answer: `{"app": "com.example.pos", "policy": {"name": "p", "revision": 2}, "assignment": "a", "mode": "default", "force": false, "prompt": {"closable": true, "text": "Update?"}}`,
			call: func(ctx context.Context) (any, error) {
				u, err := c.UpdateConfig(ctx, "com.example.pos")
				return []any{u.Policy, u.Assignment, u.Prompt.Text}, err
			},
			req:  seen{Method: "GET", Path: "/api/v1/config/update", Query: "app_id=com.example.pos"},
			want: []any{protocol.PolicyRef{Name: "p", Revision: 2}, "a", "Update?"},
		},
		{
			name:   "report events",
			answer: `{"accepted": 1, "rejected": [{"index": 1, "error": "bad"}]}`,
			call: func(ctx context.Context) (any, error) {
				r, err := c.ReportEvents(ctx, []protocol.Event{{Name: "UpdateCheck"}, {Name: "Nope"}})
				return []any{r.Accepted, len(r.Rejected), r.Rejected[0].Error}, err
			},
			req: seen{Method: "POST", Path: "/api/v1/event/report", ContentType: "application/json",
				Body: `{"events":[{"id":"","deviceId":"","app":"","name":"UpdateCheck","time":"0001-01-01T00:00:00Z"},` +
					`{"id":"","deviceId":"","app":"","name":"Nope","time":"0001-01-01T00:00:00Z"}]}`},
			want: []any{1, 1, "bad"},
		},
		{
			name:   "healthz",
			answer: `{"status": "ok"}`,
			call:   func(ctx context.Context) (any, error) { return nil, c.Healthy(ctx) },
			req:    seen{Method: "GET", Path: "/healthz"},
		},
		{
			name:   "artifact from an offset",
			answer: "APKBYTES",
			call: func(ctx context.Context) (any, error) {
				rc, err := c.OpenArtifact(ctx, "ab12", 100)
				if err != nil {
					return nil, err
				}
				defer rc.Close()
				data, err := io.ReadAll(rc)
				return string(data), err
			},
			req:  seen{Method: "GET", Path: "/artifacts/ab12", Range: "bytes=100-"},
			want: "APKBYTES",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.answer(http.StatusOK, tt.answer, nil)
			got, err := tt.call(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			req := f.last()
			tt.req.Auth = "Bearer tok"
			if diff := cmp.Diff(tt.req, req); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorAnswers(t *testing.T) {
	f := newFake(t)
	c := f.client("tok")
	tests := []struct {
		name     string
		status   int
		body     string
		header   http.Header
		sentinel error
		want     string
		retry    time.Duration
	}{
		{"invalid with lines", 400, `{"error": "the manifests are not valid", "errors": ["a.yaml: UpdatePolicy \"p\": spec.mode: \"fast\" is not one of default, highPriority, postponed", "b.yaml: x"]}`, nil,
			ErrInvalid, "the manifests are not valid\n  a.yaml: UpdatePolicy \"p\": spec.mode: \"fast\" is not one of default, highPriority, postponed\n  b.yaml: x", 0},
		{"refused", 422, `{"error": "the APK is refused: not signed"}`, nil, ErrInvalid, "the APK is refused: not signed", 0},
		{"too large", 413, `{"error": "too large"}`, nil, ErrInvalid, "too large", 0},
		{"no token", 401, `{"error": "this route needs a token"}`, nil, ErrUnauthorized, "this route needs a token", 0},
		{"forbidden", 403, `{"error": "deleting needs the admin role"}`, nil, ErrForbidden, "deleting needs the admin role", 0},
		{"not found", 404, `{"error": "policy \"x\" not found"}`, nil, ErrNotFound, `policy "x" not found`, 0},
		{"conflict", 409, `{"error": "expected revision 3, current 4"}`, nil, ErrConflict, "expected revision 3, current 4", 0},
		{"rate limited", 429, `{"error": "slow down"}`, http.Header{"Retry-After": {"7"}}, ErrRateLimited, "slow down", 7 * time.Second},
		{"not ready", 503, `{"error": "the controller is not ready"}`, nil, ErrNotReady, "the controller is not ready", 0},
		{"internal", 500, `{"error": "internal error; the controller's log has the details"}`, nil, nil, "internal error; the controller's log has the details", 0},
		{"not json", 502, `<html>bad gateway</html>`, http.Header{"Content-Type": {"text/html"}}, nil,
			"the controller answered GET /api/v1/rules with 502 Bad Gateway and no error message", 0},
	}
	sentinels := []error{ErrInvalid, ErrUnauthorized, ErrForbidden, ErrNotFound, ErrConflict, ErrRateLimited, ErrNotReady, ErrUnavailable}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.answer(tt.status, tt.body, tt.header)
			_, err := c.List(testCtx(t), Rules)
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *APIError", err)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			if ae.Status != tt.status || ae.RetryAfter != tt.retry || ae.Method != "GET" || ae.Path != "/api/v1/rules" {
				t.Errorf("APIError = %+v", ae)
			}
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tt.sentinel) {
					t.Errorf("errors.Is(err, %v) = %v", s, got)
				}
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := New(Config{Server: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(testCtx(t), Policies)
	var ue *UnavailableError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnavailable) || ue.Timeout || ue.Server != "http://"+addr {
		t.Fatalf("error = %#v; want a refused *UnavailableError", err)
	}

	// A controller that accepts but does not answer in time.
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c, err = New(Config{Server: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = c.List(ctx, Policies)
	if !errors.As(err, &ue) || !ue.Timeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %#v; want a timed out *UnavailableError", err)
	}

	// A caller's cancellation is not the controller's fault.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = c.List(ctx, Policies)
	if errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled request error = %v; want context.Canceled, not unavailable", err)
	}
}
