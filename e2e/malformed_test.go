package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/sluice-mdm/sluice/internal/client"
	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/protocol"
)

// httpAnswer is a status and a decoded JSON error body.
type httpAnswer struct {
	Status int
	Error  string `json:"error"`
	Field  string `json:"field"`
}

// rawHTTP sends a request as a misbehaving client would and decodes the
// JSON error, if any.
func rawHTTP(t *testing.T, ctx context.Context, method, u, contentType string, body []byte) httpAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := httpAnswer{Status: resp.StatusCode}
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(data, &a); err != nil {
			t.Fatalf("%s %s: %d answer %q is not a JSON error: %v", method, u, resp.StatusCode, data, err)
		}
	}
	return a
}

// policyRevisions lists the stored policies as name@revision.
func policyRevisions(t *testing.T, ctx context.Context, sys *sandbox.System) []string {
	t.Helper()
	recs, err := sys.Client().List(ctx, client.Kind("policies"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%s@%d", r.Name, r.Revision))
	}
	return out
}

// TestMalformedInputAtEveryDoor sends bad input to every interface the
// system has: manifests, the app-facing API, the event report, NATS
// messages on device subjects, the agent's prompt API. Each is refused
// with an error naming what is wrong, or dropped; nothing stored is
// damaged; and a healthy device still converges afterwards.
func TestMalformedInputAtEveryDoor(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	book := newLogBook(5000)
	book.dumpOnFailure(t)
	sys := startSystem(t, sandbox.Config{Logger: slogOf(book)})
	good := governed("pos-now", "shop=1", "app: com.example.pos\nmode: highPriority")
	applyYAML(t, ctx, sys, map[string]string{"pos.yaml": good})
	healthy := startDevice(t, ctx, sys, sandbox.DeviceSpec{ID: "till-healthy", Labels: map[string]string{"shop": "1"},
		Installed: []string{"pos-1.0.0.apk"}, PromptAPI: true})
	waitDecision(t, ctx, sys, healthy, posApp, "none [NO_NEWER_RELEASE]")
	before := policyRevisions(t, ctx, sys)

	t.Run("manifests", func(t *testing.T) {
		tests := []struct {
			name  string
			files []client.File
			want  []string // substrings of the error lines
		}{
			{name: "YAML syntax", files: []client.File{{Name: "broken.yaml", Data: []byte("apiVersion: sluice.dev/v1\nkind: UpdatePolicy\nmetadata: {name: broken\n")}},
				want: []string{"broken.yaml"}},
			{name: "unknown mode", files: []client.File{{Name: "fast.yaml", Data: []byte(strings.Replace(good, "highPriority", "fast", 1))}},
				want: []string{"fast.yaml", `spec.mode: "fast" is not one of default, highPriority, postponed`}},
			{name: "one bad file spoils the set", files: []client.File{
				{Name: "new.yaml", Data: []byte(governed("pos-new", "shop=2", "app: com.example.pos"))},
				{Name: "bad.yaml", Data: []byte(governed("pos-bad", "shop=3", "app: not a package"))},
			}, want: []string{"bad.yaml", "spec.app"}},
			{name: "unknown field", files: []client.File{{Name: "typo.yaml", Data: []byte(strings.Replace(good, "mode:", "mdoe:", 1))}},
				want: []string{"typo.yaml", "mdoe"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := sys.Client().Apply(ctx, tt.files, false)
				var ae *client.APIError
				if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
					t.Fatalf("apply = %v; want a 400", err)
				}
				if !containsAll(ae.Error(), tt.want...) {
					t.Errorf("apply error %q does not name %q", ae.Error(), tt.want)
				}
				if diff := cmp.Diff(before, policyRevisions(t, ctx, sys)); diff != "" {
					t.Errorf("stored policies changed (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("version check parameters", func(t *testing.T) {
		tests := []struct {
			name, query, want string
		}{
			{name: "no app", query: "version_code=100", want: "app_id"},
			{name: "app not a package", query: "app_id=pos&version_code=100", want: "app_id"},
			{name: "app too long", query: "app_id=com.example." + strings.Repeat("a", 30) + "&version_code=100", want: "app_id"},
			{name: "version not a number", query: "app_id=com.example.pos&version_code=abc", want: "version_code"},
			{name: "version negative", query: "app_id=com.example.pos&version_code=-3", want: "version_code"},
			{name: "unknown platform", query: "app_id=com.example.pos&version_code=100&platform=windows", want: "platform"},
			{name: "unknown parameter", query: "app_id=com.example.pos&version_code=100&debug=1", want: "debug"},
			{name: "repeated parameter", query: "app_id=com.example.pos&app_id=com.example.menu&version_code=100", want: "app_id"},
			{name: "device id with a dot", query: "app_id=com.example.pos&version_code=100&device_id=a.b", want: "device_id"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := rawHTTP(t, ctx, http.MethodGet, sys.HTTPURL()+"/api/v1/version/check?"+tt.query, "", nil)
				if a.Status != http.StatusBadRequest || !strings.Contains(a.Error, tt.want) {
					t.Errorf("GET ?%s = %d %q; want 400 naming %s", tt.query, a.Status, a.Error, tt.want)
				}
			})
		}
		got, err := sys.Client().CheckVersion(ctx, client.VersionCheckQuery{App: posApp, VersionCode: 100, DeviceID: healthy.ID()})
		if err != nil || got.Policy == nil || got.Policy.Name != "pos-now" {
			t.Errorf("a good version check after the bad ones = %+v, %v", got, err)
		}
	})

	t.Run("event report", func(t *testing.T) {
		now := time.Now().UTC()
		ok := protocol.Event{ID: "healthy-check-1", DeviceID: healthy.ID(), App: posApp, Name: protocol.EventUpdateCheck, Time: now}
		badName, badParam, noTime := ok, ok, ok
		badName.ID, badName.Name = "bad-1", "Explode"
		badParam.ID, badParam.Params = "bad-2", map[string]string{protocol.ParamProgress: "140"}
		noTime.ID, noTime.Time = "bad-3", time.Time{}
		res, err := sys.Client().ReportEvents(ctx, []protocol.Event{ok, badName, badParam, noTime})
		if err != nil {
			t.Fatal(err)
		}
		var rejected []string
		for _, r := range res.Rejected {
			rejected = append(rejected, fmt.Sprintf("%d %s", r.Index, r.Error))
		}
		if res.Accepted != 1 || len(rejected) != 3 || !strings.Contains(rejected[0], "1 ") || !strings.Contains(rejected[0], "name") ||
			!strings.Contains(rejected[1], "zz_progress") || !strings.Contains(rejected[2], "time") {
			t.Errorf("event report accepted %d, rejected:\n%s\nwant 1, then 1 (name), 2 (zz_progress), 3 (time)", res.Accepted, joinLines(rejected))
		}
		for _, tc := range []struct{ name, contentType, body string }{
			{"not JSON", "application/json", "{events: nope"},
			{"no events", "application/json", `{"events": []}`},
			{"not JSON content", "text/plain", `{"events": []}`},
		} {
			if a := rawHTTP(t, ctx, http.MethodPost, sys.HTTPURL()+"/api/v1/event/report", tc.contentType, []byte(tc.body)); a.Status < 400 || a.Status >= 500 || a.Error == "" {
				t.Errorf("%s: event report = %d %q; want a 4xx with a reason", tc.name, a.Status, a.Error)
			}
		}
		waitFor(t, ctx, scenarioTimeout, "the accepted event in the stream", func() (bool, error) {
			evs, err := readEvents(ctx, sys.NATSURL(), healthy.ID())
			return len(eventsNamed(evs, posApp, protocol.EventUpdateCheck)) == 1, err
		})
	})

	t.Run("NATS device subjects", func(t *testing.T) {
		nc, err := nats.Connect(sys.NATSURL(), nats.Name("e2e misbehaving device"))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		subj := func(f func(string) (string, error), id string) string {
			s, err := f(id)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		spoofed, err := json.Marshal(protocol.DeviceReport{Version: protocol.Version, DeviceID: "intruder", Platform: protocol.PlatformAndroid,
			Apps: map[string]protocol.InstalledApp{posApp: {VersionName: "9.9.9", VersionCode: 999}}})
		if err != nil {
			t.Fatal(err)
		}
		// Reports and events: the streams take them; the controller drops them.
		for _, m := range []struct{ subject, data string }{
			{subj(protocol.ReportSubject, "intruder"), "garbage"},
			{subj(protocol.ReportSubject, "intruder"), `{"version": 9, "deviceId": "intruder"}`},
			{subj(protocol.ReportSubject, healthy.ID()), string(spoofed)},
			{subj(protocol.EventSubject, "intruder"), "garbage"},
			{subj(protocol.EventSubject, "intruder"), `{"id": "x", "deviceId": "intruder", "app": "com.example.pos", "name": "Explode"}`},
		} {
			if _, err := nc.Request(m.subject, []byte(m.data), 5*time.Second); err != nil {
				t.Fatalf("publish to %s: %v", m.subject, err)
			}
		}
		waitFor(t, ctx, scenarioTimeout, "the controller dropping the bad reports and events", func() (bool, error) {
			r, e := book.Count("device report dropped"), book.Count("device event dropped")
			return r == 3 && e == 2, fmt.Errorf("%d reports and %d events dropped", r, e)
		})
		inv := inventory(t, ctx, sys)
		if _, ok := inv["intruder"]; ok {
			t.Errorf("a device %q entered the inventory from bad reports", "intruder")
		}
		if got := inv[healthy.ID()].Device.Apps[posApp].VersionName; got != "1.0.0" {
			t.Errorf("the spoofed report changed %s's POS to %s", healthy.ID(), got)
		}

		// Sync requests: answered with an error saying what is wrong.
		for _, tc := range []struct{ name, subject, data, want string }{
			{"garbage", subj(protocol.SyncSubject, healthy.ID()), "garbage", "not a JSON SyncRequest"},
			{"another device's id", subj(protocol.SyncSubject, healthy.ID()), `{"version": 1, "deviceId": "intruder"}`, "is not the device of subject"},
			{"unknown version", subj(protocol.SyncSubject, healthy.ID()), fmt.Sprintf(`{"version": 7, "deviceId": %q}`, healthy.ID()), "version 7"},
			{"unknown device", subj(protocol.SyncSubject, "intruder"), `{"version": 1, "deviceId": "intruder"}`, "unknown device"},
		} {
			msg, err := nc.Request(tc.subject, []byte(tc.data), 5*time.Second)
			if err != nil {
				t.Fatalf("%s: sync request: %v", tc.name, err)
			}
			var rep protocol.SyncReply
			if err := json.Unmarshal(msg.Data, &rep); err != nil || rep.Directive != nil || !strings.Contains(rep.Error, tc.want) {
				t.Errorf("%s: sync reply %q (%v); want an error containing %q and no directive", tc.name, msg.Data, err, tc.want)
			}
		}
	})

	t.Run("prompt API", func(t *testing.T) {
		base := healthy.PromptURL() + "/v1/apps/"
		for _, tc := range []struct {
			name, method, u, body string
			status                int
			field                 string
		}{
			{"unknown action", http.MethodPost, base + posApp + "/prompt", `{"action": "explode"}`, http.StatusBadRequest, "action"},
			{"not JSON", http.MethodPost, base + posApp + "/prompt", `action=update`, http.StatusBadRequest, "body"},
			{"not a package", http.MethodGet, base + url.PathEscape("not a package") + "/prompt", "", http.StatusBadRequest, "pkg"},
			{"wrong method", http.MethodDelete, base + posApp + "/prompt", "", http.StatusMethodNotAllowed, "method"},
		} {
			a := rawHTTP(t, ctx, tc.method, tc.u, "application/json", []byte(tc.body))
			if a.Status != tc.status || a.Field != tc.field || a.Error == "" {
				t.Errorf("%s: %d field %q %q; want %d naming field %q", tc.name, a.Status, a.Field, a.Error, tc.status, tc.field)
			}
		}
	})

	// After all that, the system still serves: the healthy device updates.
	pushReleases(t, ctx, sys, "pos-2.0.0.apk")
	waitVersion(t, ctx, healthy, posApp, "2.0.0")
	waitDecision(t, ctx, sys, healthy, posApp, "none [UP_TO_DATE]")
	if err := sys.Client().Ready(ctx); err != nil {
		t.Errorf("controller not ready after the bad input: %v", err)
	}
}
