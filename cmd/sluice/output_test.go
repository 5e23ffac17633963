package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/internal/cli"
)

// cannedController answers each route with a fixed status and JSON body,
// as the controller would, and records the Authorization header it got.
type cannedController struct {
	srv *httptest.Server

	mu     sync.Mutex
	auth   []string
	routes map[string]canned
}

type canned struct {
	status int
	body   string
}

func newCannedController(t *testing.T, routes map[string]canned) *cannedController {
	t.Helper()
	c := &cannedController{routes: routes}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.auth = append(c.auth, r.Header.Get("Authorization"))
		a, ok := c.routes[r.Method+" "+r.URL.RequestURI()]
		c.mu.Unlock()
		if !ok {
			a = canned{http.StatusNotFound, `{"error": "no route ` + r.Method + " " + r.URL.RequestURI() + `"}`}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *cannedController) lastAuth() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.auth) == 0 {
		return ""
	}
	return c.auth[len(c.auth)-1]
}

const policiesJSON = `{"items": [
 {"kind": "UpdatePolicy", "name": "pos-default", "revision": 12, "updatedAt": "2026-05-02T09:00:00Z", "updatedBy": "alice",
  "spec": {"app": "com.example.pos", "platforms": ["android"], "mode": "default"}},
 {"kind": "UpdatePolicy", "name": "pos-pinned", "revision": 3, "updatedAt": "2026-05-03T10:30:00Z",
  "spec": {"app": "com.example.pos", "mode": "highPriority", "track": "beta", "target": {"version": "2.0.0"}, "rollout": {"percent": 12.5}}}]}`

func TestGetTables(t *testing.T) {
	cc := newCannedController(t, map[string]canned{
		"GET /api/v1/policies": {200, policiesJSON},
		"GET /api/v1/releases": {200, `{"items": [{"kind": "Release", "name": "com.example.pos.200", "revision": 5, "updatedAt": "2026-05-02T09:00:00Z",
 "spec": {"app": "com.example.pos", "versionName": "2.0.0", "versionCode": 200, "track": "production", "publishedAt": "2026-05-01T08:00:00Z",
  "artifact": {"urls": ["http://c/artifacts/ab"], "sha256": "bfbdd9051c3ae75d12317f0009dd95fdd1af480e7b285f0d546288760c14e157", "size": 8524, "signerSha256": [], "minSdk": 21}}}]}`},
		"GET /api/v1/groups": {200, `{"items": [{"kind": "DeviceGroup", "name": "berlin", "revision": 2, "updatedAt": "2026-05-02T09:00:00Z",
 "spec": {"selector": "store=berlin-01", "members": ["a", "b", "c", "d"]}}]}`},
		"GET /api/v1/assignments": {200, `{"items": [{"kind": "Assignment", "name": "pos-berlin", "revision": 4, "updatedAt": "2026-05-02T09:00:00Z",
 "spec": {"policy": "pos-default", "groups": ["berlin", "p2"], "priority": 10}}]}`},
		"GET /api/v1/rules": {200, `{"items": [{"kind": "Rule", "name": "busiest-day", "revision": 1, "updatedAt": "2026-05-02T09:00:00Z",
 "spec": {"module": "package sluice.rules\n\ndeny contains \"no\" if false\n"}}]}`},
		"GET /api/v1/devices": {200, `{"items": [{"kind": "Device", "name": "till-1", "revision": 9, "updatedAt": "2026-05-02T09:00:00Z",
 "spec": {"device": {"id": "till-1", "labels": {"store": "berlin-01", "model": "P2"}, "platform": "android", "sdk": 30, "agentVersion": "1.3.0",
  "apps": {"com.example.pos": {"versionName": "1.0.0", "versionCode": 100, "updatedAt": "2026-01-12T08:00:00Z"}}, "state": {"unmetered": true, "charging": false, "idle": false},
  "lastSeen": "2026-05-02T08:59:00Z"},
  "lastReport": {"sentAt": "2026-05-02T08:59:00Z", "receivedAt": "2026-05-02T08:59:01Z", "status": {"com.example.pos": {"state": "waiting"}, "com.example.menu": {"state": "installed"}}}}},
 {"kind": "Device", "name": "till-2", "revision": 1, "updatedAt": "2026-05-02T09:00:00Z", "spec": {"device": {"id": "till-2", "platform": "ios", "state": {"unmetered": false, "charging": false, "idle": false}}}}]}`},
		"GET /api/v1/tokens": {200, `{"items": [{"name": "ci", "role": "operator", "createdAt": "2026-05-02T09:00:00Z", "createdBy": "root"}]}`},
	})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"policies", []string{"get", "policies"}, "" +
			"NAME         APP              MODE          TRACK       TARGET  ROLLOUT  REVISION  UPDATED\n" +
			"pos-default  com.example.pos  default       production  latest  100%     12        2026-05-02 09:00:00\n" +
			"pos-pinned   com.example.pos  highPriority  beta        =2.0.0  12.5%    3         2026-05-03 10:30:00\n"},
		{"releases", []string{"get", "release"}, "" +
			"APP              VERSION  CODE  TRACK       PUBLISHED            SIZE     SHA256        REVISION\n" +
			"com.example.pos  2.0.0    200   production  2026-05-01 08:00:00  8.3 KiB  bfbdd9051c3a  5\n"},
		{"groups", []string{"get", "DeviceGroup"}, "" +
			"NAME    SELECTOR         MEMBERS        REVISION\n" +
			"berlin  store=berlin-01  a,b,c,+1 more  2\n"},
		{"assignments", []string{"get", "assignments"}, "" +
			"NAME        POLICY       GROUPS     PRIORITY  REVISION\n" +
			"pos-berlin  pos-default  berlin,p2  10        4\n"},
		{"rules", []string{"get", "rules"}, "" +
			"NAME         REVISION  LINES\n" +
			"busiest-day  1         3\n"},
		{"devices", []string{"get", "devices"}, "" +
			"ID      PLATFORM  SDK  AGENT  LABELS                    APPS  LAST-SEEN            STATE\n" +
			"till-1  android   30   1.3.0  model=P2,store=berlin-01  1     2026-05-02 08:59:00  installed=1,waiting=1\n" +
			"till-2  ios       -    -      -                         0     -                    -\n"},
		{"tokens", []string{"get", "tokens"}, "" +
			"NAME  ROLE      CREATED              CREATED-BY\n" +
			"ci    operator  2026-05-02 09:00:00  root\n"},
		{"token list json", []string{"token", "list", "-o", "json"},
			"{\n  \"items\": [\n    {\n      \"name\": \"ci\",\n      \"role\": \"operator\",\n      \"createdAt\": \"2026-05-02T09:00:00Z\",\n      \"createdBy\": \"root\"\n    }\n  ]\n}\n"},
		{"policies yaml", []string{"get", "policies", "-o", "yaml"}, `apiVersion: sluice.dev/v1
kind: UpdatePolicy
metadata:
  name: pos-default
  annotations:
    sluice.dev/revision: "12"
spec:
  app: com.example.pos
  platforms:
    - android
  mode: default
---
apiVersion: sluice.dev/v1
kind: UpdatePolicy
metadata:
  name: pos-pinned
  annotations:
    sluice.dev/revision: "3"
spec:
  app: com.example.pos
  track: beta
  mode: highPriority
  target:
    version: 2.0.0
  rollout:
    percent: 12.5
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := runWithInput(t, "", append(tt.args, "--server", cc.srv.URL, "--token", "t")...)
			if code != cli.ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if diff := cmp.Diff(tt.want, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExitCodes checks the exit code and the one-line message of every
// class of answer, of an unreachable controller and of malformed flags.
func TestExitCodes(t *testing.T) {
	routes := map[string]canned{}
	for status, path := range map[int]string{400: "bad", 401: "unauth", 403: "forbidden", 404: "missing", 409: "conflict",
		413: "big", 422: "refused", 429: "slow", 500: "internal", 502: "upstream", 503: "notready"} {
		routes["GET /api/v1/policies/"+path] = canned{status, `{"error": "sentence for ` + path + `", "errors": ["line one", "line two"]}`}
	}
	cc := newCannedController(t, routes)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	l.Close()

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"400", []string{"get", "policy", "bad"}, cli.ExitInvalid, "sluice: sentence for bad\n  line one\n  line two\n"},
		{"401", []string{"get", "policy", "unauth"}, cli.ExitForbidden, "sluice: sentence for unauth\n  line one\n  line two\n"},
		{"403", []string{"get", "policy", "forbidden"}, cli.ExitForbidden, "sluice: sentence for forbidden\n  line one\n  line two\n"},
		{"404", []string{"get", "policy", "missing"}, cli.ExitNotFound, "sluice: sentence for missing\n  line one\n  line two\n"},
		{"409", []string{"get", "policy", "conflict"}, cli.ExitConflict, "sluice: sentence for conflict\n  line one\n  line two\n"},
		{"413", []string{"get", "policy", "big"}, cli.ExitInvalid, "sluice: sentence for big\n  line one\n  line two\n"},
		{"422", []string{"get", "policy", "refused"}, cli.ExitInvalid, "sluice: sentence for refused\n  line one\n  line two\n"},
		{"429", []string{"get", "policy", "slow"}, cli.ExitUnavailable, "sluice: sentence for slow\n  line one\n  line two\n"},
		{"500", []string{"get", "policy", "internal"}, cli.ExitError, "sluice: sentence for internal\n  line one\n  line two\n"},
		{"502", []string{"get", "policy", "upstream"}, cli.ExitError, "sluice: sentence for upstream\n  line one\n  line two\n"},
		{"503", []string{"get", "policy", "notready"}, cli.ExitUnavailable, "sluice: sentence for notready\n  line one\n  line two\n"},
		{"refused", []string{"get", "policies", "--server", refused}, cli.ExitUnavailable,
			"sluice: cannot reach the controller at " + refused + ": is `sluice server` running? (dial tcp " + strings.TrimPrefix(refused, "http://") + ": connect: connection refused)\n"},
		{"bad output", []string{"get", "policies", "-o", "xml"}, cli.ExitUsage, "sluice: -o: \"xml\" is not one of table, json, yaml\n"},
		{"no kind", []string{"get"}, cli.ExitUsage, "sluice: want a kind and at most one name, got 0 arguments (see 'sluice get --help')\n"},
		{"unknown flag", []string{"get", "policies", "--colour"}, cli.ExitUsage, "sluice: unknown flag: --colour (see 'sluice get --help')\n"},
		{"bad server", []string{"get", "policies", "--server", "ftp://x"}, cli.ExitUsage,
			"sluice: --server: server \"ftp://x\" is not allowed; want an http:// or https:// base URL such as http://127.0.0.1:8080\n"},
		{"token with a space", []string{"get", "policies", "--token", "a b"}, cli.ExitUsage,
			"sluice: --token: token \"(secret)\" is not allowed; want the secret exactly as `sluice token create` printed it, without white space\n"},
		{"bad timeout", []string{"get", "policies", "--timeout", "-1s"}, cli.ExitUsage, "sluice: --timeout: -1s is negative; want a duration such as 30s, or 0 to wait forever\n"},
		{"token twice", []string{"get", "policies", "--token-file", "x"}, cli.ExitUsage, "sluice: --token and --token-file: give one of them, not both\n"},
		{"bad since", []string{"audit", "admin", "--since", "yesterday"}, cli.ExitUsage,
			"sluice: --since: \"yesterday\" is not allowed; want a duration back from now (\"24h\", \"7d\") or a time (\"2026-05-02\" or \"2026-05-02T09:00:00Z\")\n"},
		{"bad role", []string{"token", "create", "--name", "x", "--role", "root"}, cli.ExitUsage, "sluice: --role: \"root\" is not one of auditor, operator, admin, superadmin\n"},
		{"no sub-command", []string{"audit"}, cli.ExitUsage, "sluice: sluice audit: give a sub-command; want one of admin, decisions, replay (see 'sluice audit --help')\n"},
		{"apply without files", []string{"apply"}, cli.ExitUsage, "sluice: -f: give at least one manifest file, directory, or - for standard input\n"},
		{"explain without device", []string{"explain"}, cli.ExitUsage, "sluice: accepts 1 arg(s), received 0 (see 'sluice explain --help')\n"},
		{"push a missing file", []string{"release", "push", "nope.apk"}, cli.ExitInvalid, "sluice: nope.apk: no such file or directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := slices.Clone(tt.args)
			if !slices.Contains(tt.args, "--token") {
				args = append(args, "--token", "t")
			}
			if !slices.Contains(tt.args, "--server") {
				args = append(args, "--server", cc.srv.URL)
			}
			_, stderr, code := runWithInput(t, "", args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d", code, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantErr, stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTokenPrecedence(t *testing.T) {
	cc := newCannedController(t, map[string]canned{"GET /api/v1/rules": {200, `{"items": []}`}})
	file := writeTemp(t, "token", "from-file\nsecond line ignored\n")
	empty := writeTemp(t, "empty", "\n")
	tests := []struct {
		name     string
		env      string
		args     []string
		wantAuth string
		wantCode int
	}{
		{"flag beats env", "from-env", []string{"--token", "from-flag"}, "Bearer from-flag", cli.ExitOK},
		{"file beats env", "from-env", []string{"--token-file", file}, "Bearer from-file", cli.ExitOK},
		{"env", "from-env", nil, "Bearer from-env", cli.ExitOK},
		{"none", "", nil, "", cli.ExitOK},
		{"empty file", "from-env", []string{"--token-file", empty}, "", cli.ExitUsage},
		{"both flags", "", []string{"--token", "a", "--token-file", file}, "", cli.ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envToken, tt.env)
			t.Setenv(envServer, cc.srv.URL) // the server from the environment too
			before := cc.lastAuth()
			_, stderr, code := runWithInput(t, "", append([]string{"get", "rules"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tt.wantCode, stderr)
			}
			if code != cli.ExitOK {
				return
			}
			if got := cc.lastAuth(); got != tt.wantAuth || (tt.wantAuth == "" && before == "" && got != "") {
				t.Errorf("Authorization %q, want %q", got, tt.wantAuth)
			}
		})
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
}
