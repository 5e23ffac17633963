package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/apk"
	"github.com/sluice-mdm/sluice/internal/testapk"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// apksigFixture reads one of the apk package's fixtures.
func apksigFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "apk", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readTestAPK(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(testapk.Path(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func apkSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// apkServer serves APKs and the ways links go wrong, on loopback.
func apkServer(t *testing.T, files map[string][]byte) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for name, data := range files {
		mux.HandleFunc("/apk/"+name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.android.package-archive")
			_, _ = w.Write(data)
		})
	}
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!DOCTYPE html><html><body>Download</body></html>")
	})
	mux.HandleFunc("/sneaky.apk", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.WriteString(w, "\n  <HTML><body>Sign in to download</body></HTML>")
	})
	// A Dropbox-style share link: dl=0 is a preview page, dl=1 the file.
	mux.HandleFunc("/s/abc/pos.apk", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("dl") != "1" {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html>preview</html>")
			return
		}
		w.Header().Set("Content-Type", "application/binary")
		_, _ = w.Write(files["pos-2.0.0.apk"])
	})
	mux.HandleFunc("/huge.apk", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(make([]byte, 64<<10))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// admission is what a test compares of an admission answer.
type admission struct {
	Status   int
	Error    string
	Action   string
	Release  policy.Release
	Warnings []string
}

func (h *apiHarness) addRelease(role Role, body string) admission {
	h.t.Helper()
	a := h.as(role, "POST", "/api/v1/releases", "application/json", []byte(body))
	return readAdmission(h.t, a)
}

func readAdmission(t *testing.T, a apiAnswer) admission {
	t.Helper()
	got := admission{Status: a.Status, Error: a.errorText()}
	if a.Status/100 == 2 {
		var ans struct {
			Spec     policy.Release
			Action   string
			Warnings []string
		}
		if err := json.Unmarshal(a.Body, &ans); err != nil {
			t.Fatalf("decode %s: %v", a.Body, err)
		}
		got.Action, got.Release, got.Warnings = ans.Action, ans.Spec, ans.Warnings
	}
	return got
}

const tinyAppSigner = "fb5dbd3c669af9fc236c6991e6387b7f11ff0590997f22d0f5c74ff40e04fca8"

func TestReleaseAdmissionOfEachFixture(t *testing.T) {
	files := map[string][]byte{}
	for _, name := range []string{"v1-only-with-rsa-2048.apk", "v2-only-with-rsa-pkcs1-sha256-2048.apk", "v3-only-with-rsa-pkcs1-sha256-2048.apk",
		"golden-aligned-v1v2v3-out.apk", "v2-only-with-ecdsa-sha256-p256-digest-mismatch.apk", "androidbinary-helloworld.apk"} {
		files[name] = apksigFixture(t, name)
	}
	srv := apkServer(t, files)
	tiny := func(file string, minSDK int) policy.Release {
		return policy.Release{App: "android.appsecurity.cts.tinyapp", VersionName: "1.0", VersionCode: 10, Track: "production",
			Artifact: protocol.Artifact{URLs: []string{srv.URL + "/apk/" + file}, SHA256: apkSHA(files[file]), Size: int64(len(files[file])),
				SignerSHA256: []string{tinyAppSigner}, MinSDK: minSDK}}
	}
	lateSig := func(scheme int) []string {
		return []string{fmt.Sprintf("the APK declares minSdk 23, but its signature (schemes [%d]) verifies only from API 24; the release records minSdk 24 so that older devices are not sent an APK they would refuse", scheme)}
	}
	tests := []struct {
		name string
		file string
		want admission
	}{
		{"v1", "v1-only-with-rsa-2048.apk", admission{Status: 201, Action: "created", Release: tiny("v1-only-with-rsa-2048.apk", 23)}},
		{"v2", "v2-only-with-rsa-pkcs1-sha256-2048.apk", admission{Status: 201, Action: "created", Release: tiny("v2-only-with-rsa-pkcs1-sha256-2048.apk", 24), Warnings: lateSig(2)}},
		{"v3", "v3-only-with-rsa-pkcs1-sha256-2048.apk", admission{Status: 201, Action: "created", Release: tiny("v3-only-with-rsa-pkcs1-sha256-2048.apk", 24), Warnings: lateSig(3)}},
		{"v1v2v3", "golden-aligned-v1v2v3-out.apk", admission{Status: 201, Action: "created", Release: tiny("golden-aligned-v1v2v3-out.apk", 23)}},
		{"digest mismatch", "v2-only-with-ecdsa-sha256-p256-digest-mismatch.apk", admission{Status: 422}},
		{"unsigned", "androidbinary-helloworld.apk", admission{Status: 422}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newAPIHarness(t)
			got := h.addRelease(RoleOperator, fmt.Sprintf(`{"url": %q}`, srv.URL+"/apk/"+tc.file))
			if got.Status == 422 {
				if !strings.HasPrefix(got.Error, "the APK is refused: ") || strings.Contains(got.Error, os.TempDir()) || !strings.Contains(got.Error, srv.URL) {
					t.Errorf("refusal %q: want the apk package's reason naming the URL, not a temporary file", got.Error)
				}
				got.Error = ""
			}
			got.Release.PublishedAt = got.Release.PublishedAt.UTC()
			want := tc.want
			if want.Status == 201 {
				want.Release.PublishedAt = h.clock.Now()
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("admission (-want +got):\n%s", diff)
			}
			rels, err := h.store.Releases().List(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if wantN := map[bool]int{true: 1, false: 0}[tc.want.Status == 201]; len(rels) != wantN {
				t.Errorf("store holds %d releases, want %d", len(rels), wantN)
			}
		})
	}
}

func TestReleaseAdmissionRefusalsAndRewrites(t *testing.T) {
	pos2, pos2B := readTestAPK(t, "pos-2.0.0.apk"), readTestAPK(t, "pos-2.0.0-keyB.apk")
	srv := apkServer(t, map[string][]byte{"pos-2.0.0.apk": pos2, "pos-2.0.0-keyB.apk": pos2B})
	h := newAPIHarness(t, func(c *APIConfig) { c.MaxUpload = 32 << 10; c.ShareLinkHosts = []string{"127.0.0.1"} })

	share := srv.URL + "/s/abc/pos.apk?dl=0"
	direct := srv.URL + "/s/abc/pos.apk?dl=1"
	got := h.addRelease(RoleOperator, fmt.Sprintf(`{"url": %q, "mirrors": ["https://mirror.example.com/pos.apk"], "track": "beta", "notes": "Faster checkout.", "appStoreId": "1234567"}`, share))
	want := admission{Status: 201, Action: "created",
		Release: policy.Release{App: "com.example.pos", VersionName: "2.0.0", VersionCode: 200, Track: "beta", PublishedAt: h.clock.Now(),
			Artifact: protocol.Artifact{URLs: []string{direct, "https://mirror.example.com/pos.apk"}, SHA256: apkSHA(pos2), Size: int64(len(pos2)),
				SignerSHA256: []string{testapkSigner(t, "pos-2.0.0.apk")}, MinSDK: 21},
			ReleaseNotes: "Faster checkout.", AppStoreID: "1234567"},
		Warnings: []string{fmt.Sprintf("url: %s answers with a preview page (dl=0); using the direct download link %s instead", share, direct)},
	}
	got.Release.PublishedAt = got.Release.PublishedAt.UTC()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("dropbox admission (-want +got):\n%s", diff)
	}

	// The same APK again is idempotent; another APK with the same
	// versionCode is refused.
	h.clock.Advance(time.Hour)
	again := h.addRelease(RoleOperator, fmt.Sprintf(`{"url": %q}`, srv.URL+"/apk/pos-2.0.0.apk"))
	if diff := cmp.Diff([]any{200, "unchanged", want.Release}, []any{again.Status, again.Action, withUTC(again.Release)}); diff != "" {
		t.Errorf("re-admission (-want +got):\n%s", diff)
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
		{"conflicting APK", "application/json", fmt.Sprintf(`{"url": %q}`, srv.URL+"/apk/pos-2.0.0-keyB.apk"),
			answer{409, fmt.Sprintf("release com.example.pos versionCode 200 already exists with sha256 %s; releases are immutable, so sha256 %s is refused (publish a new versionCode)", apkSHA(pos2), apkSHA(pos2B))}},
		{"HTML page", "application/json", fmt.Sprintf(`{"url": %q}`, srv.URL+"/page"),
			answer{422, fmt.Sprintf("the link answers with an HTML page, not an APK: use a direct download link (%s/page)", srv.URL)}},
		{"HTML body", "application/json", fmt.Sprintf(`{"url": %q}`, srv.URL+"/sneaky.apk"),
			answer{422, fmt.Sprintf("the link answers with an HTML page, not an APK: use a direct download link (%s/sneaky.apk)", srv.URL)}},
		{"404", "application/json", fmt.Sprintf(`{"url": %q}`, srv.URL+"/missing.apk"),
			answer{502, fmt.Sprintf("the download of %s/missing.apk answered 404 Not Found; want a 2xx status with the APK", srv.URL)}},
		{"too large", "application/json", fmt.Sprintf(`{"url": %q}`, srv.URL+"/huge.apk"),
			answer{422, fmt.Sprintf("the APK at %s/huge.apk is larger than the 32768 bytes allowed", srv.URL)}},
		{"unreachable", "application/json", `{"url": "http://127.0.0.1:1/x.apk"}`,
			answer{502, "the download of http://127.0.0.1:1/x.apk failed: dial tcp 127.0.0.1:1: connect: connection refused"}},
		{"not a URL", "application/json", `{"url": "ftp://example.com/x.apk"}`,
			answer{400, `field url: "ftp://example.com/x.apk" is not allowed; want an absolute http:// or https:// URL of at most 2048 bytes`}},
		{"no URL", "application/json", `{"track": "beta"}`,
			answer{400, `field url: "" is not allowed; want an absolute http:// or https:// URL of at most 2048 bytes`}},
		{"bad mirror", "application/json", `{"url": "https://a.example/x.apk", "mirrors": ["/relative"]}`,
			answer{400, `field mirrors[0]: "/relative" is not allowed; want an absolute http:// or https:// URL of at most 2048 bytes`}},
		{"bad track", "application/json", `{"url": "https://a.example/x.apk", "track": "Beta Testers"}`,
			answer{400, `field track: "Beta Testers" is not allowed; want 1 to 63 lowercase letters, digits, '-', '_' and '.', starting with a letter or digit (default production)`}},
		{"bad app store id", "application/json", `{"url": "https://a.example/x.apk", "appStoreId": "id123"}`,
			answer{400, `field appStoreId: "id123" is not allowed; want the numeric App Store id (the digits after "id" in the app's App Store link)`}},
		{"mirrors not a list", "application/json", `{"url": "https://a.example/x.apk", "mirrors": "https://b.example/x.apk"}`,
			answer{400, "the JSON body is not acceptable: field mirrors: a JSON string is not allowed; want an array"}},
		{"versionCode from the request", "application/json", `{"url": "https://a.example/x.apk", "versionCode": 999}`,
			answer{400, `the JSON body is not acceptable: field "versionCode" is not known`}},
		{"YAML", "application/yaml", `url: https://a.example/x.apk`,
			answer{415, `content type "application/yaml" is not accepted here; want application/json`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.as(RoleOperator, "POST", "/api/v1/releases", tc.contentType, []byte(tc.body))
			if diff := cmp.Diff(tc.want, answer{a.Status, a.errorText()}); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
	rels, err := h.store.Releases().List(testCtx(t))
	if err != nil || len(rels) != 1 || rels[0].Value.Artifact.SHA256 != apkSHA(pos2) {
		t.Errorf("store after refusals: %d releases (err %v), want only the first", len(rels), err)
	}
	var outcomes []string
	for _, e := range h.auditEntries("") {
		if e.Action == "release add" {
			outcomes = append(outcomes, string(e.Outcome)+" "+e.Name)
		}
	}
	wantOutcomes := []string{"ok com.example.pos.200", "error com.example.pos.200",
		"error " + srv.URL + "/page", "error " + srv.URL + "/sneaky.apk", "error " + srv.URL + "/missing.apk",
		"error " + srv.URL + "/huge.apk", "error http://127.0.0.1:1/x.apk"}
	if diff := cmp.Diff(wantOutcomes, outcomes); diff != "" {
		t.Errorf("audited admissions (-want +got):\n%s", diff)
	}
}

func withUTC(r policy.Release) policy.Release {
	r.PublishedAt = r.PublishedAt.UTC()
	return r
}

// testapkSigner is the signer fingerprint of one of testapk's APKs, read
// with the apk package.
func testapkSigner(t *testing.T, file string) string {
	t.Helper()
	info, err := apk.Inspect(testapk.Path(t, file), 0)
	if err != nil {
		t.Fatal(err)
	}
	return info.SignerSHA256[0]
}

func TestReleaseUpload(t *testing.T) {
	h := newAPIHarness(t, func(c *APIConfig) { c.MaxUpload = 32 << 10 })
	pos3 := readTestAPK(t, "pos-3.0.0.apk")
	a := h.as(RoleOperator, "POST", "/api/v1/releases/upload?track=beta&notes=Big+one", apkContentType, pos3)
	got := readAdmission(t, a)
	sha := apkSHA(pos3)
	want := admission{Status: 201, Action: "created", Release: policy.Release{App: "com.example.pos", VersionName: "3.0.0", VersionCode: 300, Track: "beta",
		PublishedAt: h.clock.Now(), ReleaseNotes: "Big one",
		Artifact: protocol.Artifact{URLs: []string{"http://sluice.test/artifacts/" + sha}, SHA256: sha, Size: int64(len(pos3)),
			SignerSHA256: []string{testapkSigner(t, "pos-3.0.0.apk")}, MinSDK: 21}}}
	if diff := cmp.Diff(want, withUTCAdmission(got)); diff != "" {
		t.Fatalf("upload (-want +got):\n%s", diff)
	}
	info, err := h.store.ArtifactInfo(testCtx(t), sha)
	if err != nil || info.Size != int64(len(pos3)) {
		t.Errorf("object store: %+v, %v; want the APK stored", info, err)
	}

	type answer struct {
		Status int
		Error  string
	}
	tests := []struct {
		name        string
		query       string
		contentType string
		body        []byte
		want        answer
	}{
		{"not an APK", "", apkContentType, []byte("PK\x03\x04 not really"), answer{422, ""}},
		{"wrong content type", "", "application/json", pos3, answer{415, `content type "application/json" is not accepted here; want application/vnd.android.package-archive`}},
		{"too large", "", apkContentType, make([]byte, 40<<10), answer{413, "the APK of 40960 bytes is larger than the 32768 bytes allowed"}},
		{"bad track", "?track=A+B", apkContentType, pos3, answer{400, `parameter track: "A B" is not allowed; want 1 to 63 lowercase letters, digits, '-', '_' and '.'`}},
		{"unknown parameter", "?url=x", apkContentType, pos3, answer{400, "parameter url is not known; want one of track, notes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.as(RoleOperator, "POST", "/api/v1/releases/upload"+tc.query, tc.contentType, tc.body)
			got := answer{a.Status, a.errorText()}
			if tc.want.Error == "" {
				got.Error = ""
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

func withUTCAdmission(a admission) admission {
	a.Release = withUTC(a.Release)
	return a
}

func TestRewriteShareLink(t *testing.T) {
	tests := []struct {
		name, in, want string
		rewritten      bool
	}{
		{"dropbox share link", "https://www.dropbox.com/s/abc/pos.apk?dl=0", "https://www.dropbox.com/s/abc/pos.apk?dl=1", true},
		{"dropbox host in capitals", "https://WWW.Dropbox.com/s/abc/pos.apk?dl=0", "https://WWW.Dropbox.com/s/abc/pos.apk?dl=1", true},
		{"already direct", "https://www.dropbox.com/s/abc/pos.apk?dl=1", "https://www.dropbox.com/s/abc/pos.apk?dl=1", false},
		{"other host keeps its dl parameter", "https://cdn.example.com/pos.apk?dl=0", "https://cdn.example.com/pos.apk?dl=0", false},
		{"no query", "https://www.dropbox.com/s/abc/pos.apk", "https://www.dropbox.com/s/abc/pos.apk", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got, rewritten := rewriteShareLink(u, DropboxHosts)
			if got != tt.want || rewritten != tt.rewritten {
				t.Errorf("rewriteShareLink(%s) = %s, %v; want %s, %v", tt.in, got, rewritten, tt.want, tt.rewritten)
			}
		})
	}
}
