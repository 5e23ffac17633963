package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/testapk"
)

// speed drops the measured speed and time left from progress lines.
var speed = regexp.MustCompile(`  [0-9.]+ [KMG]?i?B/s(  [0-9hms.]+ left)?`)

func TestLiveReleasePushAndAdd(t *testing.T) {
	lc := startController(t)
	apkPath := testapk.Path(t, "pos-2.0.0.apk")
	info, ok := testapk.Lookup("pos-2.0.0.apk")
	if !ok {
		t.Fatal("pos-2.0.0.apk is not in the test catalogue")
	}
	fi, err := os.Stat(apkPath)
	if err != nil {
		t.Fatal(err)
	}
	size := cli.Bytes(fi.Size())

	out, stderr, code := lc.sluice(lc.operator, "release", "push", apkPath, "--track", "beta", "--notes", "Receipts fixed")
	if code != cli.ExitOK {
		t.Fatalf("push exit %d: %s", code, stderr)
	}
	plain := speed.ReplaceAllString(out, "")
	lines := strings.Split(plain, "\n")
	bar := "pos-2.0.0.apk [==============================] 100%  " + size + "/" + size
	if lines[0] != "pos-2.0.0.apk [>                             ]   0%  0 B/"+size || !strings.Contains(plain, bar+"\n") {
		t.Errorf("push progress lines: want a 0%% line first and %q:\n%s", bar, out)
	}
	admitted := regexp.MustCompile(`(?m)^Release com\.example\.pos 2\.0\.0 \(200\) admitted \(revision \d+\)\n` +
		`APP +VERSION +CODE +TRACK +PUBLISHED +SIZE +SHA256 +REVISION\n` +
		`com\.example\.pos +2\.0\.0 +200 +beta +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +` + regexp.QuoteMeta(size) + ` +[0-9a-f]{12} +\d+\n` +
		`url: +` + regexp.QuoteMeta(lc.url) + `/artifacts/[0-9a-f]{64}\n` +
		`signer: ` + testapk.Signer(info.Key) + `\n$`)
	if !admitted.MatchString(out) {
		t.Errorf("push output:\n%s", out)
	}

	// Pushing the same APK again changes nothing; -o json has no bar.
	out, stderr, code = lc.sluice(lc.operator, "release", "push", apkPath, "-o", "json")
	var adm struct {
		Action string `json:"action"`
		Spec   struct {
			VersionCode int64  `json:"versionCode"`
			Notes       string `json:"releaseNotes"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(out), &adm); err != nil || code != cli.ExitOK {
		t.Fatalf("push -o json: exit %d, %v, stderr %s\n%s", code, err, stderr, out)
	}
	if diff := cmp.Diff([]any{"unchanged", int64(200), "Receipts fixed"}, []any{adm.Action, adm.Spec.VersionCode, adm.Spec.Notes}); diff != "" {
		t.Errorf("second push (-want +got):\n%s", diff)
	}

	// Not an APK: refused here, before anything is sent.
	junk := writeTemp(t, "junk.apk", "this is not a zip archive")
	_, stderr, code = lc.sluice(lc.operator, "release", "push", junk)
	if code != cli.ExitInvalid || !strings.HasPrefix(stderr, "sluice: "+junk+" is not an APK the controller would admit: malformed APK") {
		t.Errorf("junk push: exit %d, stderr %q", code, stderr)
	}

	// Added by link: a Dropbox-style dl=0 link is rewritten, with a warning.
	menu, err := os.ReadFile(testapk.Path(t, "menu-5.0.0.apk"))
	if err != nil {
		t.Fatal(err)
	}
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.android.package-archive")
		_, _ = w.Write(menu)
	}))
	t.Cleanup(files.Close)
	out, stderr, code = lc.sluice(lc.operator, "release", "add", "--url", files.URL+"/menu.apk?dl=0", "--mirror", files.URL+"/mirror/menu.apk", "--notes", "New menu")
	if code != cli.ExitOK {
		t.Fatalf("add exit %d: %s", code, stderr)
	}
	wantWarn := "warning: url: " + files.URL + "/menu.apk?dl=0 answers with a preview page (dl=0); using the direct download link " + files.URL + "/menu.apk?dl=1 instead\n"
	if diff := cmp.Diff(wantWarn, stderr); diff != "" {
		t.Errorf("add warnings (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(out, "Release com.example.menu 5.0.0 (500) admitted (revision ") ||
		!strings.Contains(out, "url:    "+files.URL+"/menu.apk?dl=1\nmirror: "+files.URL+"/mirror/menu.apk\n") {
		t.Errorf("add output:\n%s", out)
	}
	out, _, _ = lc.sluice(lc.operator, "get", "releases")
	if strings.Count(out, "\n") != 3 || !strings.Contains(out, "com.example.menu  5.0.0") {
		t.Errorf("get releases after push and add:\n%s", out)
	}
	_, stderr, code = lc.sluice(lc.operator, "release", "add", "--url", "not a url")
	if code != cli.ExitInvalid || strings.Count(stderr, "\n") != 1 {
		t.Errorf("bad url: exit %d, stderr %q", code, stderr)
	}
}

func TestLiveTokensAndRoles(t *testing.T) {
	lc := startController(t)
	out, stderr, code := lc.sluice(lc.super, "token", "create", "--name", "ci", "--role", "operator")
	if code != cli.ExitOK {
		t.Fatalf("token create exit %d: %s", code, stderr)
	}
	secret := strings.TrimSuffix(out, "\n")
	if !strings.HasPrefix(secret, "sluice_") || strings.Contains(secret, "\n") {
		t.Fatalf("token create printed %q; want the secret alone", out)
	}
	if diff := cmp.Diff("Token \"ci\" created with the operator role. Its secret is shown this once; keep it safe:\n", stderr); diff != "" {
		t.Errorf("token create note (-want +got):\n%s", diff)
	}
	tokenFile := writeTemp(t, "ci.token", out)
	if out, stderr, code := runWithInput(t, "", "get", "policies", "--server", lc.url, "--token-file", tokenFile); out != "No policies.\n" || code != cli.ExitOK {
		t.Errorf("get with the new token: exit %d, %q, %s", code, out, stderr)
	}
	out, _, _ = lc.sluice(lc.super, "token", "list")
	if !regexp.MustCompile(`(?m)^ci +operator +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +superadmin-1$`).MatchString(out) {
		t.Errorf("token list lacks ci:\n%s", out)
	}
	_, stderr, code = lc.sluice(lc.super, "token", "create", "--name", "ci", "--role", "admin")
	if code != cli.ExitConflict {
		t.Errorf("second token ci: exit %d, want %d: %s", code, cli.ExitConflict, stderr)
	}
	_, stderr, code = lc.sluice(secret, "token", "list")
	if code != cli.ExitForbidden || !strings.Contains(stderr, `needs the superadmin role; token "ci" has the operator role`) {
		t.Errorf("operator listing tokens: exit %d, stderr %q", code, stderr)
	}
	if out, _, code := lc.sluice(lc.super, "token", "delete", "ci"); out != "Token \"ci\" deleted.\n" || code != cli.ExitOK {
		t.Errorf("token delete: exit %d, %q", code, out)
	}
	_, stderr, code = lc.sluice(secret, "get", "policies")
	if code != cli.ExitForbidden || stderr != "sluice: the token is not known (it may have been deleted)\n" {
		t.Errorf("deleted token: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = runWithInput(t, "", "get", "policies", "--server", lc.url)
	want := "sluice: this route needs a token: send Authorization: Bearer <token> (sluice token create makes one)\n  give a token with --token, --token-file or $SLUICE_TOKEN\n"
	if diff := cmp.Diff(want, stderr); diff != "" || code != cli.ExitForbidden {
		t.Errorf("no token: exit %d, stderr (-want +got):\n%s", code, diff)
	}
}
