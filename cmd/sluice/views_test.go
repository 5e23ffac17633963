package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/internal/cli"
)

const explainJSON = `{"device": {"id": "till-1", "labels": {"store": "berlin-01"}, "platform": "android", "sdk": 30, "agentVersion": "1.3.0",
  "apps": {"com.example.pos": {"versionName": "1.0.0", "versionCode": 100, "updatedAt": "2026-01-12T08:00:00Z"}},
  "state": {"unmetered": false, "charging": true, "idle": false}},
 "groups": ["berlin", "p2"],
 "decisions": [
  {"decisionId": "d-2", "device": "till-1", "app": "com.example.pos", "action": "install", "mode": "default",
   "target": {"versionName": "2.0.0", "versionCode": 200}, "notBefore": "2026-05-03T22:00:00Z",
   "constraints": {"unmeteredNetwork": true, "charging": true, "idle": true, "notForeground": true},
   "maintenanceWindow": {"start": "22:00", "end": "06:00"},
   "reasons": [{"code": "UPDATE_AVAILABLE", "message": "2.0.0 is newer than the installed 1.0.0."}],
   "policy": {"name": "pos-default", "revision": 12}, "evaluatedAt": "2026-05-02T09:00:00Z"},
  {"decisionId": "d-3", "device": "till-1", "app": "com.example.menu", "action": "none",
   "reasons": [{"code": "NO_POLICY", "message": "No policy governs this app."}, {"code": "NOT_INSTALLED", "message": "It is not installed."}],
   "evaluatedAt": "2026-05-02T09:00:00Z"}],
 "status": {"com.example.pos": {"state": "waiting", "waitingFor": ["WAITING_FOR_UNMETERED_NETWORK", "WAITING_FOR_IDLE"],
   "downloaded": 1024, "total": 4096, "lastError": "NETWORK_ERROR", "attempts": 1, "decisionId": "d-1", "updatedAt": "2026-05-02T08:58:00Z"}},
 "lastSeen": "2026-05-02T08:59:00Z",
 "directive": {"sequence": 7, "issuedAt": "2026-05-02T09:00:00Z", "expiresAt": "2026-05-03T09:00:00Z", "acknowledged": 6}}`

func TestViews(t *testing.T) {
	mux := http.NewServeMux()
	answer := func(pattern, body string) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
		})
	}
	answer("GET /api/v1/devices/till-1/explain", explainJSON)
	answer("GET /api/v1/rollout", `{"items": [{"policy": "pos-default", "app": "com.example.pos", "revision": 12,
 "target": {"versionName": "2.0.0", "versionCode": 200}, "devices": 4, "byAction": {"install": 3, "none": 1},
 "byState": {"installed": 2, "waiting": 1, "unknown": 1}},
 {"policy": "menu-prompt", "app": "com.example.menu", "revision": 2, "devices": 0, "byAction": {}, "byState": {}}]}`)
	answer("GET /api/v1/decisions", `{"items": [{"decision_id": "d-2", "timestamp": "2026-05-02T09:00:00Z", "input": {},
 "result": {"decisionId": "d-2", "device": "till-1", "app": "com.example.pos", "action": "install",
  "reasons": [{"code": "UPDATE_AVAILABLE", "message": "m"}, {"code": "FORCED", "message": "f"}], "evaluatedAt": "2026-05-02T09:00:00Z"},
 "device": "till-1", "app": "com.example.pos", "policy": {"name": "pos-default", "revision": 12}}]}`)
	answer("GET /api/v1/audit", `{"items": [
 {"time": "2026-05-02T09:00:00Z", "actor": "alice", "role": "admin", "action": "apply", "kind": "policy", "name": "pos-default", "revision": 12, "outcome": "ok"},
 {"time": "2026-05-02T09:01:00Z", "actor": "bob", "role": "operator", "action": "delete policies", "outcome": "denied", "detail": "needs the admin role"}]}`)
	answer("POST /api/v1/decisions/d-2/replay", `{"identical": false, "diff": "action: install -> none\n", "logged": {"action": "install", "reasons": []}, "replayed": {"action": "none", "reasons": []}}`)
	answer("POST /api/v1/decisions/d-3/replay", `{"identical": true, "diff": "", "logged": {"action": "none", "reasons": []}, "replayed": {"action": "none", "reasons": []}}`)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	tests := []struct {
		name     string
		args     []string
		want     string
		wantCode int
	}{
		{"explain", []string{"explain", "till-1"}, `Device till-1
  Platform:   android, SDK 30, agent 1.3.0
  Labels:     store=berlin-01
  Groups:     berlin, p2
  Last seen:  2026-05-02 08:59:00 UTC
  Directive:  sequence 7 issued 2026-05-02 09:00:00 UTC, expires 2026-05-03 09:00:00 UTC
              the agent last reported enforcing sequence 6: it has not received or accepted the latest one yet

com.example.pos
  Installed:  1.0.0 (100)
  Decision:   install 2.0.0 (200), default mode
  Not before: 2026-05-03 22:00:00 UTC
  Waits for:  unmetered network, charging, idle, app not in the foreground, maintenance window 22:00-06:00 device time
  Policy:     pos-default@12
  Why:        2.0.0 is newer than the installed 1.0.0. (UPDATE_AVAILABLE)
  Agent:      waiting (since 2026-05-02 08:58:00 UTC)
              waiting for an unmetered network (Wi-Fi), the device to be idle
  Download:   [=====>              ]  25%  1.0 KiB/4.0 KiB
  Last error: NETWORK_ERROR after 1 attempt
              the agent still works on decision d-1; the current one is d-2

com.example.menu
  Installed:  not installed
  Decision:   none
  Policy:     none
  Why:        No policy governs this app. (NO_POLICY)
              It is not installed. (NOT_INSTALLED)
  Agent:      has reported nothing about this app yet
`, cli.ExitOK},
		{"rollout", []string{"rollout"}, `pos-default  com.example.pos  revision 12
  Target:    2.0.0 (200)
  Devices:   4
  Actions:   install 3, none 1
  States:    installed 2, unknown 1, waiting 1
  Installed: [===============>              ]  50% (2 of 4)

menu-prompt  com.example.menu  revision 2
  Target:    none: no device has an update to make
  Devices:   0
  Actions:   none
  States:    none
  Installed: [>                             ]   0% (0 of 0)
`, cli.ExitOK},
		{"audit decisions", []string{"audit", "decisions", "--since", "7d"}, "" +
			"TIME                 DECISION-ID  DEVICE  APP              ACTION   POLICY@REV      REASONS\n" +
			"2026-05-02 09:00:00  d-2          till-1  com.example.pos  install  pos-default@12  UPDATE_AVAILABLE,FORCED\n", cli.ExitOK},
		{"audit admin", []string{"audit", "admin", "--since", "2026-05-01"}, "" +
			"TIME                 ACTOR  ROLE      ACTION           KIND/NAME           REVISION  OUTCOME  DETAIL\n" +
			"2026-05-02 09:00:00  alice  admin     apply            policy/pos-default  12        ok       -\n" +
			"2026-05-02 09:01:00  bob    operator  delete policies  -                   -         denied   needs the admin role\n", cli.ExitOK},
		{"replay differs", []string{"audit", "replay", "d-2"}, "different:\naction: install -> none\n", cli.ExitUnexpected},
		{"replay identical", []string{"audit", "replay", "d-3"}, "identical\n", cli.ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := runWithInput(t, "", append(tt.args, "--server", srv.URL, "--token", "t")...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d: %s", code, tt.wantCode, stderr)
			}
			if diff := cmp.Diff(tt.want, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTimeoutIsUnavailable(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	_, stderr, code := runWithInput(t, "", "get", "policies", "--server", srv.URL, "--timeout", "200ms")
	want := "sluice: the controller at " + srv.URL + " did not answer within 200ms (raise --timeout if it is busy): context deadline exceeded\n"
	if diff := cmp.Diff(want, stderr); diff != "" || code != cli.ExitUnavailable {
		t.Errorf("exit %d, stderr (-want +got):\n%s", code, diff)
	}
}

// TestHelp checks that every command that talks to the controller
// explains itself and carries the global client flags.
func TestHelp(t *testing.T) {
	root := newRootCommand(nil, nil)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			switch sub.Name() {
			case "eval", "server", "demo", "version", "help", "completion":
				continue
			}
			if sub.Long == "" || sub.Example == "" || sub.Short == "" {
				t.Errorf("%s lacks a Short, Long or Example", sub.CommandPath())
			}
			for _, flag := range []string{"server", "token", "token-file", "timeout"} {
				if sub.Flag(flag) == nil {
					t.Errorf("%s has no --%s", sub.CommandPath(), flag)
				}
			}
			walk(sub)
		}
	}
	walk(root)
}
