package controller

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/protocol"
)

func TestVersionCheckParameters(t *testing.T) {
	h := newAPIHarness(t)
	type answer struct {
		Status int
		Error  string
	}
	tests := []struct {
		name  string
		query string
		want  answer
	}{
		{"no app_id", "version_code=1", answer{400, "parameter app_id is required; want a package name of at most 32 characters, such as com.example.pos"}},
		{"empty app_id", "app_id=&version_code=1", answer{400, "parameter app_id is required; want a package name of at most 32 characters, such as com.example.pos"}},
		{"long app_id", "app_id=com.example." + strings.Repeat("a", 21) + "&version_code=1", answer{400, `parameter app_id: "com.example.aaaaaaaaaaaaaaaaaaaaa" is not allowed; want a package name of at most 32 characters, such as com.example.pos`}},
		{"app_id not a package", "app_id=pos&version_code=1", answer{400, `parameter app_id: "pos" is not allowed; want a package name of at most 32 characters, such as com.example.pos`}},
		{"app_id with space", "app_id=com.example.p+s&version_code=1", answer{400, `parameter app_id: "com.example.p s" is not allowed; want a package name of at most 32 characters, such as com.example.pos`}},
		{"no version_code", "app_id=com.example.pos", answer{400, "parameter version_code is required; want the app's own versionCode, a positive whole number"}},
		{"zero version_code", "app_id=com.example.pos&version_code=0", answer{400, `parameter version_code: "0" is not allowed; want a positive whole number (the app's own versionCode)`}},
		{"negative version_code", "app_id=com.example.pos&version_code=-4", answer{400, `parameter version_code: "-4" is not allowed; want a positive whole number (the app's own versionCode)`}},
		{"text version_code", "app_id=com.example.pos&version_code=2.0", answer{400, `parameter version_code: "2.0" is not allowed; want a positive whole number (the app's own versionCode)`}},
		{"huge version_code", "app_id=com.example.pos&version_code=99999999999999999999", answer{400, `parameter version_code: "99999999999999999999" is not allowed; want a positive whole number (the app's own versionCode)`}},
		{"bad platform", "app_id=com.example.pos&version_code=1&platform=windows", answer{400, `parameter platform: "windows" is not allowed; want android or ios (android when left out)`}},
		{"bad channel", "app_id=com.example.pos&version_code=1&channel=Beta!", answer{400, `parameter channel: "Beta!" is not allowed; want 1 to 63 lowercase letters, digits, '-', '_' and '.'`}},
		{"bad device_id", "app_id=com.example.pos&version_code=1&device_id=till.1", answer{400, `parameter device_id: "till.1" is not allowed; want 1 to 128 letters, digits, '-', '_' and ':'`}},
		{"unknown parameter", "app_id=com.example.pos&version_code=1&debug=1", answer{400, "parameter debug is not known; want one of app_id, version_code, platform, channel, device_id"}},
		{"repeated parameter", "app_id=com.example.pos&app_id=com.example.menu&version_code=1", answer{400, "parameter app_id is given 2 times; want it once"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.request("GET", "/api/v1/version/check?"+tc.query, "", "", nil)
			if diff := cmp.Diff(tc.want, answer{a.Status, a.errorText()}); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

func (h *apiHarness) versionCheck(query string) VersionCheck {
	h.t.Helper()
	var v VersionCheck
	h.decode(h.request("GET", "/api/v1/version/check?"+query, "", "", nil), 200, &v)
	return v
}

func TestVersionCheckAnswers(t *testing.T) {
	h := newAPIHarness(t)
	h.seedPOS()
	h.putDevice("till-1", map[string]string{"store": "berlin-01"}, map[string]protocol.InstalledApp{"com.example.pos": {VersionName: "1.0.0", VersionCode: 100}})
	pol, err := h.store.Policies().Get(testCtx(t), "pos-stable")
	if err != nil {
		t.Fatal(err)
	}
	ref := &protocol.PolicyRef{Name: "pos-stable", Revision: pol.Revision}
	update := VersionCheck{UpdateAvailable: true, Action: protocol.ActionInstall, VersionName: "2.0.0", VersionCode: 200,
		DownloadURL: "https://apks.example.com/pos-2.0.0.apk", Mirrors: []string{"https://mirror.example.com/pos-2.0.0.apk"},
		Size: 2000, SHA256: "5c0d30f357f06e27b97bd414de0c5d01cf5f2445f330eb3906ca8b7eca61346f", Closable: true,
		ReleaseNotes: "POS 2.0.0.", Policy: ref}
	tests := []struct {
		name  string
		query string
		want  VersionCheck
	}{
		{"inventory device", "app_id=com.example.pos&version_code=100&device_id=till-1", update},
		{"device-less app: the governing policy decides", "app_id=com.example.pos&version_code=100", update},
		{"unknown device id", "app_id=com.example.pos&version_code=100&device_id=kiosk-9", update},
		{"up to date", "app_id=com.example.pos&version_code=200", VersionCheck{Action: protocol.ActionNone, Closable: true, Policy: ref}},
		{"ungoverned app", "app_id=com.example.menu&version_code=1", VersionCheck{Action: protocol.ActionNone, Closable: true}},
		{"iOS", "app_id=com.example.pos&version_code=100&platform=ios", VersionCheck{UpdateAvailable: true, Action: protocol.ActionStoreRedirect,
			VersionName: "2.0.0", VersionCode: 200, Closable: true, Button: "openStore", ReleaseNotes: "POS 2.0.0.", Policy: ref,
			StoreURL: "itms-apps://itunes.apple.com/app/id1234567", WebURL: "https://apps.apple.com/app/id1234567"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := h.versionCheck(tc.query)
			codes := make([]string, len(got.Reasons))
			for i, r := range got.Reasons {
				codes[i] = r.Code
			}
			if len(codes) == 0 {
				t.Errorf("no reasons in %+v", got)
			}
			got.Reasons, got.DecisionID = nil, ""
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answer (-want +got), reasons %v:\n%s", codes, diff)
			}
		})
	}
}

func TestVersionCheckForcedPrompt(t *testing.T) {
	h := newAPIHarness(t)
	h.seedPOS()
	h.applyYAML(RoleAdmin, strings.Replace(posPolicyYAML, "mode: highPriority", "mode: highPriority\n  force: true\n  prompt: {closable: false, text: Please update, button: updateApp}", 1))
	got := h.versionCheck("app_id=com.example.pos&version_code=100")
	type short struct {
		Available, Force, Closable bool
		Action                     protocol.Action
		Text, Button               string
	}
	want := short{Available: true, Force: true, Closable: false, Action: protocol.ActionForce, Text: "Please update", Button: "updateApp"}
	if diff := cmp.Diff(want, short{got.UpdateAvailable, got.Force, got.Closable, got.Action, got.PromptText, got.Button}); diff != "" {
		t.Errorf("forced check (-want +got):\n%s", diff)
	}
	var cfg UpdateConfig
	h.decode(h.request("GET", "/api/v1/config/update?app_id=com.example.pos", "", "", nil), 200, &cfg)
	pol, _ := h.store.Policies().Get(testCtx(t), "pos-stable")
	wantCfg := UpdateConfig{App: "com.example.pos", Policy: protocol.PolicyRef{Name: "pos-stable", Revision: pol.Revision}, Assignment: "pos-berlin",
		Mode: protocol.ModeHighPriority, Force: true, Prompt: pol.Value.Prompt}
	if diff := cmp.Diff(wantCfg, cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	type answer struct {
		Status int
		Error  string
	}
	for _, tc := range []struct {
		name, query string
		want        answer
	}{
		{"ungoverned", "app_id=com.example.menu", answer{404, "no policy governs app com.example.menu: no assignment assigns a policy for it"}},
		{"no app", "", answer{400, "parameter app_id is required; want a package name of at most 32 characters, such as com.example.pos"}},
		{"extra parameter", "app_id=com.example.pos&version_code=1", answer{400, "parameter version_code is not known; want one of app_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.request("GET", "/api/v1/config/update?"+tc.query, "", "", nil)
			if diff := cmp.Diff(tc.want, answer{a.Status, a.errorText()}); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersionCheckAnswersInTime(t *testing.T) {
	h := newAPIHarness(t)
	h.seedPOS()
	start := time.Now()
	h.versionCheck("app_id=com.example.pos&version_code=100")
	if d := time.Since(start); d > time.Second {
		t.Errorf("a version check took %s, want well under 3 s", d)
	}
	// A decider that hangs does not hold the app past its 3 s.
	h.decider.mu.Lock()
	h.decider.delay = 10 * time.Second
	h.decider.mu.Unlock()
	start = time.Now()
	a := h.request("GET", "/api/v1/version/check?app_id=com.example.pos&version_code=100", "", "", nil)
	d := time.Since(start)
	if a.Status != 503 || d > 2900*time.Millisecond {
		t.Errorf("hung decider: status %d after %s, want 503 before 3 s", a.Status, d)
	}
}

func TestEventReport(t *testing.T) {
	h := newAPIHarness(t)
	at := h.clock.Now().Format(time.RFC3339)
	events := []string{
		fmt.Sprintf(`{"id":"e1","deviceId":"till-1","app":"com.example.pos","name":"UpdateDialogShow","time":%q,"params":{"zz_dialog_type":"force"}}`, at),
		fmt.Sprintf(`{"id":"e2","app":"com.example.pos","name":"UpdateCheck","time":%q,"params":{"zz_platform":"ios"}}`, at),
		fmt.Sprintf(`{"id":"e3","app":"com.example.pos","name":"Exploded","time":%q}`, at),
		`{"id":"e4","app":"com.example.pos","name":"UpdateCheck"}`,
		fmt.Sprintf(`{"id":"e5","app":"com.example.pos","name":"UpdateCheck","time":%q,"colour":"red"}`, at),
		`"not an object"`,
		fmt.Sprintf(`{"id":"e7","app":"com.example.pos","name":"DownloadProgress","time":%q,"params":{"zz_progress":"140"}}`, at),
	}
	var res EventReportResult
	h.decode(h.request("POST", "/api/v1/event/report", "", "application/json", []byte(`{"events":[`+strings.Join(events, ",")+`]}`)), 200, &res)
	want := EventReportResult{Accepted: 2, Rejected: []EventRejected{
		{Index: 2, Error: `event: name: "Exploded" is not one of UpdateCheck, UpdateDialogShow, UpdateButtonClick, DownloadStart, DownloadProgress, DownloadComplete, InstallStart, InstallResult, StoreRedirect, DirectiveRejected, DirectiveApplied, VerifyFailed`},
		{Index: 3, Error: "event UpdateCheck: time: is missing; want an RFC 3339 time"},
		{Index: 4, Error: `event is not acceptable: field "colour" is not known`},
		{Index: 5, Error: "event is not acceptable: field the body: a JSON string is not allowed; want an object"},
		{Index: 6, Error: `event DownloadProgress: params.zz_progress: "140" is not a percentage from 0 to 100`},
	}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	// The good ones are in the events stream, on their subjects.
	stream, err := h.store.JetStream().Stream(testCtx(t), h.store.Names().Events)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, subject := range []string{"sluice.v1.device.till-1.event", "sluice.v1.appevent.com.example.pos"} {
		m, err := stream.GetLastMsgForSubject(testCtx(t), subject)
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		var e protocol.Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, subject+" "+e.ID)
	}
	if diff := cmp.Diff([]string{"sluice.v1.device.till-1.event e1", "sluice.v1.appevent.com.example.pos e2"}, got); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}

	type answer struct {
		Status int
		Error  string
	}
	tooMany := strings.Repeat(events[1]+",", 100) + events[1]
	for _, tc := range []struct {
		name, contentType, body string
		want                    answer
	}{
		{"no events field", "application/json", `{}`, answer{400, `field events is missing; want {"events": [event, ...]} with 1 to 100 events`}},
		{"empty events", "application/json", `{"events":[]}`, answer{400, "field events: 0 events are not allowed; want 1 to 100 per request"}},
		{"too many events", "application/json", `{"events":[` + tooMany + `]}`, answer{400, "field events: 101 events are not allowed; want 1 to 100 per request"}},
		{"events not a list", "application/json", `{"events":{}}`, answer{400, "the JSON body is not acceptable: field events: a JSON object is not allowed; want an array"}},
		{"unknown field", "application/json", `{"events":[],"device":"x"}`, answer{400, `the JSON body is not acceptable: field "device" is not known`}},
		{"bad JSON", "application/json", `{"events":[`, answer{400, "the JSON body is not acceptable: unexpected EOF"}},
		{"form", "application/x-www-form-urlencoded", `events=1`, answer{415, `content type "application/x-www-form-urlencoded" is not accepted here; want application/json`}},
		{"too large", "application/json", `{"events":["` + strings.Repeat("x", 5<<20) + `"]}`, answer{413, "the request body is larger than the 4194304 bytes allowed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.request("POST", "/api/v1/event/report", "", tc.contentType, []byte(tc.body))
			if diff := cmp.Diff(tc.want, answer{a.Status, a.errorText()}); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppRoutesAreRateLimited(t *testing.T) {
	h := newAPIHarness(t, func(c *APIConfig) { c.RateLimit = RateLimit{PerSecond: 1, Burst: 2} })
	q := "/api/v1/version/check?" + url.Values{"app_id": {"com.example.pos"}, "version_code": {"1"}}.Encode()
	var got []int
	for range 3 {
		got = append(got, h.request("GET", q, "", "", nil).Status)
	}
	limited := h.request("GET", "/api/v1/config/update?app_id=com.example.pos", "", "", nil)
	got = append(got, limited.Status)
	h.clock.Advance(time.Second)
	got = append(got, h.request("GET", q, "", "", nil).Status)
	if diff := cmp.Diff([]int{200, 200, 429, 429, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1", "too many requests from this address; try again in 1 s"}, []string{limited.Header.Get("Retry-After"), limited.errorText()}); diff != "" {
		t.Errorf("429 (-want +got):\n%s", diff)
	}
	// Admin routes are not limited.
	for range 3 {
		if s := h.as(RoleOperator, "GET", "/api/v1/policies", "", nil).Status; s != 200 {
			t.Fatalf("admin route: %d, want 200", s)
		}
	}
}
