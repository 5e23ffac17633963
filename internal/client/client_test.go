package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// seen is what the fake controller received.
type seen struct {
	Method, Path, Query string
	Auth, ContentType   string
	Range               string
	Body                string
}

// fake is a controller stand-in that answers every request with one canned
// status and body, and records the requests.
type fake struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	reqs   []seen
	status int
	body   string
	header http.Header
}

func newFake(t *testing.T) *fake {
	t.Helper()
	f := &fake{t: t, status: http.StatusOK}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("fake: read body: %v", err)
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, seen{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Range: r.Header.Get("Range"), Body: string(data)})
		status, body, header := f.status, f.body, f.header
		f.mu.Unlock()
		for k, vs := range header {
			w.Header()[k] = vs
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// answer sets the next answers.
func (f *fake) answer(status int, body string, header http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.body, f.header = status, body, header
	f.reqs = nil
}

func (f *fake) last() seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		f.t.Fatal("fake: no request received")
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fake) client(token string) *Client {
	f.t.Helper()
	c, err := New(Config{Server: f.srv.URL, Token: token})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNewRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"scheme", Config{Server: "ftp://x"}, `client: server "ftp://x" is not allowed; want an http:// or https:// base URL such as http://127.0.0.1:8080`},
		{"no host", Config{Server: "http://"}, `client: server "http://" is not allowed; want an http:// or https:// base URL such as http://127.0.0.1:8080`},
		{"query", Config{Server: "http://h?x=1"}, `client: server "http://h?x=1" is not allowed; want an http:// or https:// base URL such as http://127.0.0.1:8080`},
		{"token space", Config{Token: "a b"}, "client: token \"(secret)\" is not allowed; want the secret exactly as `sluice token create` printed it, without white space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("New error (-want +got):\n%s", diff)
			}
		})
	}
	c, err := New(Config{})
	if err != nil || c.Server() != DefaultServer {
		t.Errorf("New(zero) = %v, %v; want the default server %s", c, err, DefaultServer)
	}
}

func TestServerPathPrefixIsKept(t *testing.T) {
	f := newFake(t)
	c, err := New(Config{Server: f.srv.URL + "/sluice/", Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	f.answer(http.StatusOK, `{"items": []}`, nil)
	if _, err := c.List(testCtx(t), Policies); err != nil {
		t.Fatal(err)
	}
	want := seen{Method: "GET", Path: "/sluice/api/v1/policies", Auth: "Bearer s3cret"}
	if diff := cmp.Diff(want, f.last()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

func TestApplyOneFileSendsItAsTheBody(t *testing.T) {
	f := newFake(t)
	f.answer(http.StatusOK, `{"dryRun": true,
 "objects": [{"kind": "UpdatePolicy", "name": "pos-stable", "action": "updated", "revision": 12}],
 "impact": {"devices": 240, "changed": 31,
            "sample": [{"device": "till-1", "app": "com.example.pos", "from": "none", "to": "install", "reason": "UPDATE_AVAILABLE"}]}}`, nil)
	doc := "apiVersion: sluice.dev/v1\nkind: UpdatePolicy\n"
	got, err := f.client("tok").Apply(testCtx(t), []File{{Name: "dir/policy.yaml", Data: []byte(doc)}}, true)
	if err != nil {
		t.Fatal(err)
	}
	wantReq := seen{Method: "POST", Path: "/api/v1/apply", Query: "dryRun=true&file=dir%2Fpolicy.yaml",
		Auth: "Bearer tok", ContentType: "application/yaml", Body: doc}
	if diff := cmp.Diff(wantReq, f.last()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	want := ApplyResult{DryRun: true,
		Objects: []ApplyObject{{Kind: "UpdatePolicy", Name: "pos-stable", Action: ApplyUpdated, Revision: 12}},
		Impact: &Impact{Devices: 240, Changed: 31, Sample: []ImpactChange{
			{Device: "till-1", App: "com.example.pos", From: "none", To: "install", Reason: "UPDATE_AVAILABLE"}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
}

func TestApplySeveralFilesSendsMultipart(t *testing.T) {
	f := newFake(t)
	f.answer(http.StatusOK, `{"dryRun": false, "objects": []}`, nil)
	files := []File{
		{Name: "ex/a.yaml", Data: []byte("kind: UpdatePolicy\n")},
		{Name: "ex/b.json", Data: []byte(`{"kind": "DeviceGroup"}`)},
		{Name: `ex/deny "weekends".rego`, Data: []byte("package sluice.rules\n")},
	}
	if _, err := f.client("").Apply(testCtx(t), files, false); err != nil {
		t.Fatal(err)
	}
	req := f.last()
	if req.Query != "" || req.Auth != "" {
		t.Errorf("query %q, auth %q; want neither", req.Query, req.Auth)
	}
	mt, params, err := mime.ParseMediaType(req.ContentType)
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("content type %q (%v); want multipart/form-data", req.ContentType, err)
	}
	type part struct{ Field, File, Type, Data string }
	var got []part
	mr := multipart.NewReader(strings.NewReader(req.Body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(p)
		// Part.FileName keeps only the base name; the path is wanted.
		_, disp, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, part{p.FormName(), disp["filename"], p.Header.Get("Content-Type"), string(data)})
	}
	want := []part{
		{"file", "ex/a.yaml", "application/yaml", "kind: UpdatePolicy\n"},
		{"file", "ex/b.json", "application/json", `{"kind": "DeviceGroup"}`},
		{"file", `ex/deny "weekends".rego`, "text/plain", "package sluice.rules\n"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
	if _, err := f.client("").Apply(testCtx(t), nil, false); err == nil {
		t.Error("Apply without files succeeded")
	}
}

func TestUploadStreamsTheAPK(t *testing.T) {
	f := newFake(t)
	f.answer(http.StatusCreated, `{"kind": "Release", "name": "com.example.pos.200", "revision": 3,
 "updatedAt": "2026-05-02T09:00:00Z", "spec": {"app": "com.example.pos", "versionName": "2.0.0", "versionCode": 200},
 "action": "created", "warnings": ["w1"]}`, nil)
	apk := bytes.Repeat([]byte("PK"), 1000)
	got, err := f.client("tok").UploadRelease(testCtx(t), Upload{APK: io.MultiReader(bytes.NewReader(apk)), Size: int64(len(apk)), Track: "beta", Notes: "a&b"})
	if err != nil {
		t.Fatal(err)
	}
	wantReq := seen{Method: "POST", Path: "/api/v1/releases/upload", Query: "notes=a%26b&track=beta",
		Auth: "Bearer tok", ContentType: APKContentType, Body: string(apk)}
	if diff := cmp.Diff(wantReq, f.last()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	rel, err := got.Release()
	if err != nil {
		t.Fatal(err)
	}
	if got.Action != ApplyCreated || got.Revision != 3 || rel.VersionCode != 200 || !cmp.Equal(got.Warnings, []string{"w1"}) {
		t.Errorf("admission = %+v, release %+v", got, rel)
	}
}

func TestDecodesRecords(t *testing.T) {
	f := newFake(t)
	f.answer(http.StatusOK, `{"items": [{"kind": "DeviceGroup", "name": "berlin", "revision": 4,
 "updatedAt": "2026-05-02T09:00:00Z", "updatedBy": "alice", "spec": {"selector": "store=berlin", "members": ["till-9"]}}]}`, nil)
	recs, err := f.client("t").List(testCtx(t), Groups)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	g, err := recs[0].Group()
	if err != nil {
		t.Fatal(err)
	}
	got := []any{recs[0].Kind, recs[0].Name, recs[0].Revision, recs[0].UpdatedAt, recs[0].UpdatedBy, g.Name, g.Selector, g.Members}
	want := []any{"DeviceGroup", "berlin", uint64(4), mustTime(t, "2026-05-02T09:00:00Z"), "alice", "berlin", "store=berlin", []string{"till-9"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	var bad Record
	bad.Kind, bad.Name, bad.Spec = "Assignment", "x", json.RawMessage(`{"priority": "high"}`)
	if _, err := bad.Assignment(); err == nil || !strings.Contains(err.Error(), `client: Assignment "x": decode spec`) {
		t.Errorf("bad spec error = %v", err)
	}
}

func TestParseKind(t *testing.T) {
	tests := []struct {
		in   string
		want Kind
	}{
		{"policies", Policies}, {"policy", Policies}, {"UpdatePolicy", Policies}, {"updatepolicy", Policies},
		{"Groups", Groups}, {"DeviceGroup", Groups}, {"release", Releases}, {"rules", Rules}, {"Device", Devices},
		{"assignment", Assignments},
	}
	for _, tt := range tests {
		got, err := ParseKind(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseKind(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	_, err := ParseKind("widgets")
	want := `kind "widgets" is not known; want one of releases, policies, groups, assignments, rules, devices`
	if err == nil || err.Error() != want {
		t.Errorf("ParseKind(widgets) = %v; want %s", err, want)
	}
}
