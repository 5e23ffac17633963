package promptapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sluice-mdm/sluice/protocol"
)

const pkg = "com.example.pos"

// backend is a hand-written Backend that records what the API asked of it.
type backend struct {
	mu        sync.Mutex
	dec       map[string]protocol.Decision
	installed *protocol.InstalledApp
	loc       *time.Location
	events    []string
	updates   []string
	cancels   []string
	progress  Progress
}

func (b *backend) App(p string) (protocol.Decision, *protocol.InstalledApp, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.dec[p]
	if !ok {
		return protocol.Decision{}, nil, fmt.Errorf("app %s: %w", p, ErrNoDecision)
	}
	return d, b.installed, nil
}
func (b *backend) UpdateNow(p string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.updates = append(b.updates, p)
	return nil
}
func (b *backend) Cancel(p string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.progress.State != "downloading" {
		return fmt.Errorf("%w: %s is not downloading", ErrNoUpdate, p)
	}
	b.cancels = append(b.cancels, p)
	return nil
}
func (b *backend) Progress(string) Progress { return b.progress }
func (b *backend) Status() any              { return map[string]any{"deviceId": "pos-001"} }
func (b *backend) Location() *time.Location { return b.loc }
func (b *backend) Emit(p string, name protocol.EventName, decisionID string, params map[string]string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keys := make([]string, 0, len(params))
	for k, v := range params {
		keys = append(keys, k+"="+v)
	}
	slices.Sort(keys)
	b.events = append(b.events, fmt.Sprintf("%s %s %s %s", p, name, decisionID, strings.Join(keys, ",")))
}

func (b *backend) takeEvents() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.events
	b.events = nil
	return e
}

type fixture struct {
	be   *backend
	url  string
	now  time.Time
	mu   sync.Mutex
	dir  string
	http *http.Client
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) set(t time.Time)  { f.mu.Lock(); f.now = t; f.mu.Unlock() }

func start(t *testing.T, be *backend, dir string, now time.Time) *fixture {
	t.Helper()
	f := &fixture{be: be, now: now, dir: dir, http: &http.Client{Timeout: 5 * time.Second}}
	srv, err := New(Config{Addr: "127.0.0.1:0", DataDir: dir, Backend: be, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	f.url = "http://" + ln.Addr().String()
	return f
}

func (f *fixture) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func promptDecision() protocol.Decision {
	return protocol.Decision{
		DecisionID: "d1", App: pkg, Action: protocol.ActionPrompt,
		Target: &protocol.Target{VersionName: "2.0.0", VersionCode: 200, ReleaseNotes: "Faster", Artifact: &protocol.Artifact{}},
		Prompt: &protocol.Prompt{Closable: true, DailyFrequency: 1, Text: "New version", Button: "updateApp"},
	}
}

func TestPromptOncePerLocalDayAcrossMidnight(t *testing.T) {
	loc := berlin(t)
	be := &backend{dec: map[string]protocol.Decision{pkg: promptDecision()}, installed: &protocol.InstalledApp{VersionCode: 100}, loc: loc}
	dir := t.TempDir()
	// 23:50 in Berlin is 21:50 UTC; 00:05 the next local day is still
	// 22:05 UTC of the same UTC day.
	evening := time.Date(2026, 5, 2, 23, 50, 0, 0, loc)
	f := start(t, be, dir, evening)
	show := `{"show":true,"forced":false,"closable":true,"text":"New version","button":"updateApp","releaseNotes":"Faster","versionName":"2.0.0","versionCode":200,"showsLeft":0}`
	limit := `{"show":false,"forced":false,"closable":true,"text":"New version","button":"updateApp","releaseNotes":"Faster","versionName":"2.0.0","versionCode":200,"reason":"DAILY_LIMIT_REACHED","nextShow":"2026-05-03T00:00:00+02:00","showsLeft":0}`
	type step struct {
		Code int
		Body string
	}
	var got []step
	get := func() {
		c, b := f.do(t, http.MethodGet, "/v1/apps/"+pkg+"/prompt", "")
		got = append(got, step{c, b})
	}
	get()
	f.set(evening.Add(5 * time.Minute))
	get()
	// A restart keeps the count: a new server on the same data dir.
	f2 := start(t, be, dir, evening.Add(9*time.Minute))
	c, b := f2.do(t, http.MethodGet, "/v1/apps/"+pkg+"/prompt", "")
	got = append(got, step{c, b})
	f2.set(evening.Add(15 * time.Minute)) // 00:05 local, next day
	c, b = f2.do(t, http.MethodGet, "/v1/apps/"+pkg+"/prompt", "")
	got = append(got, step{c, b})
	want := []step{{200, show}, {200, limit}, {200, limit}, {200, show}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("prompts (-want +got):\n%s", diff)
	}
	check := pkg + " UpdateCheck d1 zz_new_version=2.0.0,zz_update_type=prompt"
	dialog := pkg + " UpdateDialogShow d1 zz_dialog_type=closable,zz_force_update=false,zz_new_version=2.0.0,zz_version_info=2.0.0 (200)"
	if diff := cmp.Diff([]string{check, dialog, check, check, check, dialog}, be.takeEvents()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestPromptActions(t *testing.T) {
	loc := berlin(t)
	forced := promptDecision()
	forced.App, forced.DecisionID, forced.Action = "com.example.menu", "d2", protocol.ActionForce
	be := &backend{
		dec:       map[string]protocol.Decision{pkg: promptDecision(), "com.example.menu": forced},
		installed: &protocol.InstalledApp{VersionCode: 100}, loc: loc,
		progress: Progress{State: "downloading", Downloaded: 512, Total: 1024, BytesPerSecond: 256, RemainingSeconds: 2},
	}
	now := time.Date(2026, 5, 2, 10, 0, 0, 0, loc)
	f := start(t, be, t.TempDir(), now)
	tests := []struct {
		name, method, path, body string
		wantCode                 int
		wantBody                 string
		wantEvents               []string
	}{
		{"update", "POST", "/v1/apps/" + pkg + "/prompt", `{"action":"update"}`, 202, `{"action":"update","app":"com.example.pos"}`,
			[]string{pkg + " UpdateButtonClick d1 zz_button_action=update"}},
		{"later", "POST", "/v1/apps/" + pkg + "/prompt", `{"action":"later"}`, 202, `{"action":"later","app":"com.example.pos"}`,
			[]string{pkg + " UpdateButtonClick d1 zz_button_action=later"}},
		{"hidden after later", "GET", "/v1/apps/" + pkg + "/prompt", "", 200,
			`{"show":false,"forced":false,"closable":true,"text":"New version","button":"updateApp","releaseNotes":"Faster","versionName":"2.0.0","versionCode":200,"reason":"HIDDEN_BY_USER","nextShow":"2026-05-03T00:00:00+02:00","showsLeft":1}`,
			[]string{pkg + " UpdateCheck d1 zz_new_version=2.0.0,zz_update_type=prompt"}},
		{"cancel", "POST", "/v1/apps/" + pkg + "/prompt", `{"action":"cancel"}`, 202, `{"action":"cancel","app":"com.example.pos"}`,
			[]string{pkg + " UpdateButtonClick d1 zz_button_action=cancel"}},
		{"later on forced", "POST", "/v1/apps/com.example.menu/prompt", `{"action":"later"}`, 409,
			`{"error":"action: later is not allowed: the update of com.example.menu is forced; use update","field":"action","value":"later"}`, nil},
		{"forced shows every time", "GET", "/v1/apps/com.example.menu/prompt", "", 200,
			`{"show":true,"forced":true,"closable":false,"text":"New version","button":"updateApp","releaseNotes":"Faster","versionName":"2.0.0","versionCode":200,"showsLeft":0}`,
			[]string{"com.example.menu UpdateCheck d2 zz_new_version=2.0.0,zz_update_type=force",
				"com.example.menu UpdateDialogShow d2 zz_dialog_type=forced,zz_force_update=true,zz_new_version=2.0.0,zz_version_info=2.0.0 (200)"}},
		{"progress", "GET", "/v1/apps/" + pkg + "/progress", "", 200,
			`{"state":"downloading","downloaded":512,"total":1024,"bytesPerSecond":256,"remainingSeconds":2}`, nil},
		{"status", "GET", "/v1/status", "", 200, `{"deviceId":"pos-001"}`, nil},
		{"unknown app prompt", "GET", "/v1/apps/com.example.other/prompt", "", 200,
			`{"show":false,"forced":false,"closable":false,"reason":"NO_PROMPT","showsLeft":0}`,
			[]string{"com.example.other UpdateCheck  zz_update_type=none"}},
		{"unknown app progress", "GET", "/v1/apps/com.example.other/progress", "", 404,
			`{"error":"pkg: no update is known for com.example.other","field":"pkg","value":"com.example.other"}`, nil},
		{"unknown app action", "POST", "/v1/apps/com.example.other/prompt", `{"action":"update"}`, 404,
			`{"error":"pkg: no update is known for com.example.other","field":"pkg","value":"com.example.other"}`, nil},
		{"bad package", "GET", "/v1/apps/nodots/prompt", "", 400,
			`{"error":"pkg: package \"nodots\" has only one segment; want dot-separated segments like com.example.app","field":"pkg","value":"nodots"}`, nil},
		{"unknown action", "POST", "/v1/apps/" + pkg + "/prompt", `{"action":"explode"}`, 400,
			`{"error":"action: \"explode\" is not one of update, later, cancel","field":"action","value":"explode"}`, nil},
		{"bad json", "POST", "/v1/apps/" + pkg + "/prompt", `{"action":`, 400,
			`{"error":"body: not a JSON object like {\"action\": \"update\"}: unexpected EOF","field":"body"}`, nil},
		{"unknown field", "POST", "/v1/apps/" + pkg + "/prompt", `{"button":"update"}`, 400,
			`{"error":"body: not a JSON object like {\"action\": \"update\"}: json: unknown field \"button\"","field":"body"}`, nil},
		{"wrong method", "DELETE", "/v1/apps/" + pkg + "/prompt", "", 405,
			`{"error":"method DELETE is not allowed on /v1/apps/com.example.pos/prompt; use GET or POST","field":"method","value":"DELETE"}`, nil},
		{"wrong method on status", "POST", "/v1/status", "", 405,
			`{"error":"method POST is not allowed on /v1/status; use GET","field":"method","value":"POST"}`, nil},
		{"unknown path", "GET", "/v2/anything", "", 404,
			`{"error":"path \"/v2/anything\" is not part of the API; see /v1/apps/{pkg}/prompt, /v1/apps/{pkg}/progress, /v1/status","field":"path","value":"/v2/anything"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.do(t, tt.method, tt.path, tt.body)
			if diff := cmp.Diff(fmt.Sprint(tt.wantCode, " ", tt.wantBody), fmt.Sprint(code, " ", body)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantEvents, be.takeEvents()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff([]string{pkg}, be.updates); diff != "" {
		t.Errorf("UpdateNow calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{pkg}, be.cancels); diff != "" {
		t.Errorf("Cancel calls (-want +got):\n%s", diff)
	}
	// Cancel when nothing downloads is a conflict.
	be.progress = Progress{State: "waiting"}
	code, body := f.do(t, "POST", "/v1/apps/"+pkg+"/prompt", `{"action":"cancel"}`)
	if want := `409 {"error":"action: cancel: promptapi: no update to act on: com.example.pos is not downloading","field":"action","value":"cancel"}`; fmt.Sprint(code, " ", body) != want {
		t.Errorf("cancel while idle = %d %s, want %s", code, body, want)
	}
}

func TestUnixSocketAndAddressChecks(t *testing.T) {
	be := &backend{dec: map[string]protocol.Decision{}, loc: time.UTC}
	dir := t.TempDir()
	sock := filepath.Join(dir, "prompt.sock")
	srv, err := New(Config{Addr: "unix:" + sock, DataDir: dir, Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	actx, acancel := context.WithTimeout(ctx, 5*time.Second)
	defer acancel()
	if _, err := srv.Addr(actx); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := client.Get("http://agent/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if diff := cmp.Diff(map[string]any{"deviceId": "pos-001"}, got); diff != "" {
		t.Errorf("status over unix socket (-want +got):\n%s", diff)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}

	for _, tt := range []struct{ name, addr, want string }{
		{"public address", "0.0.0.0:7070", `promptapi: addr: "0.0.0.0:7070" is not a loopback address; want 127.0.0.1:PORT, [::1]:PORT or unix:/path`},
		{"no port", "127.0.0.1", `promptapi: addr: "127.0.0.1" is not host:port or unix:/path: address 127.0.0.1: missing port in address`},
		{"empty socket", "unix:", `promptapi: addr: "unix:" has no socket path; want unix:/path/to/socket`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{Addr: tt.addr, DataDir: dir, Backend: be})
			if err == nil || err.Error() != tt.want {
				t.Errorf("New(%q) = %v, want %s", tt.addr, err, tt.want)
			}
		})
	}
}

// TestHeadDoesNotUseUpAShow: HEAD answers like GET but is not a show: it
// neither counts against dailyFrequency nor produces events.
func TestHeadDoesNotUseUpAShow(t *testing.T) {
	loc := berlin(t)
	be := &backend{dec: map[string]protocol.Decision{pkg: promptDecision()}, installed: &protocol.InstalledApp{VersionCode: 100}, loc: loc}
	f := start(t, be, t.TempDir(), time.Date(2026, 5, 2, 10, 0, 0, 0, loc))
	if c, _ := f.do(t, http.MethodHead, "/v1/apps/"+pkg+"/prompt", ""); c != http.StatusOK {
		t.Fatalf("HEAD: status %d, want 200", c)
	}
	if diff := cmp.Diff([]string(nil), be.takeEvents()); diff != "" {
		t.Errorf("events of HEAD (-want +got):\n%s", diff)
	}
	_, body := f.do(t, http.MethodGet, "/v1/apps/"+pkg+"/prompt", "")
	var ans struct {
		Show   bool   `json:"show"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(body), &ans); err != nil {
		t.Fatal(err)
	}
	if !ans.Show {
		t.Errorf("GET after HEAD: %s; want the day's one show", body)
	}
}
