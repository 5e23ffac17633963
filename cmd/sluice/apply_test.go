package main

import (
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/internal/cli"
)

const groupDoc = `apiVersion: sluice.dev/v1
kind: DeviceGroup
metadata: {name: berlin}
spec: {selector: store=berlin-01}
`

func TestApplyRefusesBadFilesBeforeSending(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, `apiVersion: sluice.dev/v1
kind: UpdatePolicy
metadata: {name: p}
spec: {app: com.example.pos, mode: fast}
`)
	device := filepath.Join(dir, "device.yaml")
	writeFile(t, device, `apiVersion: sluice.dev/v1
kind: Device
metadata: {name: till-1}
spec: {platform: android}
`)
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	writeFile(t, a, groupDoc)
	writeFile(t, b, groupDoc)
	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "notes.txt"), "not a manifest")

	// Nothing may be sent: the controller address refuses every request.
	var mu sync.Mutex
	sent := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent++
		mu.Unlock()
		http.Error(w, "unexpected", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"invalid field", "", []string{"-f", bad},
			"sluice: " + bad + `: UpdatePolicy "p": spec.mode: "fast" is not one of default, highPriority, postponed` + "\n"},
		{"device", "", []string{"-f", device},
			"sluice: " + device + ": Device \"till-1\" cannot be applied: devices enter the inventory from their own reports (use it with `sluice eval --device`)\n"},
		{"duplicate across files", "", []string{"-f", a, "-f", b},
			"sluice: " + b + `: DeviceGroup "berlin": metadata.name: "berlin" is already defined in ` + a + "; want one DeviceGroup per name\n"},
		{"missing", "", []string{"-f", filepath.Join(dir, "nope.yaml")},
			"sluice: -f: stat " + filepath.Join(dir, "nope.yaml") + ": no such file or directory\n"},
		{"no manifests in dir", "", []string{"-f", empty},
			"sluice: -f: " + empty + " holds no *.yaml, *.yml, *.json or *.rego files\n"},
		{"stdin twice", groupDoc, []string{"-f", "-", "-f", "-"},
			"sluice: -f: - is given twice; standard input can be read once\n"},
		{"bad stdin", "kind: [", []string{"-f", "-"}, "sluice: stdin: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"apply", "--server", srv.URL, "--token", "t"}, tt.args...)
			_, stderr, code := runWithInput(t, tt.stdin, args...)
			if code != cli.ExitInvalid {
				t.Errorf("exit %d, want %d", code, cli.ExitInvalid)
			}
			if strings.HasSuffix(tt.want, "\n") {
				if diff := cmp.Diff(tt.want, stderr); diff != "" {
					t.Errorf("stderr (-want +got):\n%s", diff)
				}
			} else if !strings.HasPrefix(stderr, tt.want) {
				t.Errorf("stderr %q does not start with %q", stderr, tt.want)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if sent != 0 {
		t.Errorf("%d requests were sent for files refused locally", sent)
	}
}

// TestApplyDirectorySendsEachFileByName checks what reaches the
// controller for -f DIR: one multipart body, a part per manifest or Rego
// file in name order, each named as the admin would see it in errors.
func TestApplyDirectorySendsEachFileByName(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "b-group.yaml"), groupDoc)
	writeFile(t, filepath.Join(dir, "a-rule.rego"), "package sluice.rules\n\ndeny contains \"never\" if false\n")
	writeFile(t, filepath.Join(dir, "README.md"), "ignored")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sub", "c.yaml"), groupDoc) // sub-directories are not read

	type part struct{ File, Type, Data string }
	var got []part
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil {
			t.Errorf("content type: %v", err)
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			_, disp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
			data, _ := io.ReadAll(p)
			got = append(got, part{disp["filename"], p.Header.Get("Content-Type"), string(data)})
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"dryRun": true, "objects": [{"kind": "Rule", "name": "a-rule", "action": "created", "revision": 0},
 {"kind": "DeviceGroup", "name": "berlin", "action": "unchanged", "revision": 4}], "impact": {"devices": 2, "changed": 0, "sample": []}}`)
	}))
	t.Cleanup(srv.Close)
	out, stderr, code := runWithInput(t, "", "apply", "-f", dir, "--dry-run", "--server", srv.URL, "--token", "t")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := []part{
		{filepath.Join(dir, "a-rule.rego"), "text/plain", "package sluice.rules\n\ndeny contains \"never\" if false\n"},
		{filepath.Join(dir, "b-group.yaml"), "application/yaml", groupDoc},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
	if query != "dryRun=true" {
		t.Errorf("query %q, want dryRun=true", query)
	}
	wantOut := "Rule/a-rule would be created\n" +
		"DeviceGroup/berlin unchanged (revision 4)\n" +
		"\nNo decision would change on the 2 devices evaluated.\n" +
		"\nDry run: nothing was changed.\n"
	if diff := cmp.Diff(wantOut, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
