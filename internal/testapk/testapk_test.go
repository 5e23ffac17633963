package testapk_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/apk"
	"github.com/sluice-mdm/sluice/internal/testapk"
)

// TestCatalogueListsEveryFile keeps All and the embedded files in step.
func TestCatalogueListsEveryFile(t *testing.T) {
	entries, err := fs.ReadDir(testapk.Files, "files")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	var listed []string
	for _, a := range testapk.All() {
		listed = append(listed, a.File)
	}
	slices.Sort(listed)
	if diff := cmp.Diff(files, listed); diff != "" {
		t.Errorf("catalogue vs files/ (-files +catalogue):\n%s", diff)
	}
}

// TestEveryAPKIsItsCatalogueEntry inspects every file with package apk, as
// the controller would at admission, and maps its signer back to a key.
func TestEveryAPKIsItsCatalogueEntry(t *testing.T) {
	keyOf := map[string]string{testapk.SignerA(): "A", testapk.SignerB(): "B"}
	for _, want := range testapk.All() {
		t.Run(want.File, func(t *testing.T) {
			info, err := apk.Inspect(testapk.Path(t, want.File), 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(info.SignerSHA256) != 1 {
				t.Fatalf("signers = %q, want exactly one", info.SignerSHA256)
			}
			key, ok := keyOf[info.SignerSHA256[0]]
			if !ok {
				key = "unknown signer " + info.SignerSHA256[0]
			}
			got := testapk.APK{
				File: want.File, Package: info.Package, VersionName: info.VersionName,
				VersionCode: info.VersionCode, MinSDK: info.MinSDK, Key: key,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("catalogue vs file (-catalogue +file):\n%s", diff)
			}
			if got, ok := testapk.Lookup(want.File); !ok || got != want {
				t.Errorf("Lookup(%q) = %+v, %v; want %+v, true", want.File, got, ok, want)
			}
		})
	}
}

func TestSignersAreTwoDistinctFingerprints(t *testing.T) {
	hex64 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	a, b := testapk.SignerA(), testapk.SignerB()
	for name, s := range map[string]string{"A": a, "B": b} {
		if !hex64.MatchString(s) {
			t.Errorf("Signer%s() = %q, want 64 lowercase hex digits", name, s)
		}
	}
	if a == b {
		t.Errorf("SignerA() == SignerB() == %s, want two different keys", a)
	}
	if diff := cmp.Diff([]string{a, b, ""}, []string{testapk.Signer("A"), testapk.Signer("B"), testapk.Signer("C")}); diff != "" {
		t.Errorf("Signer (-want +got):\n%s", diff)
	}
}

// verdict is what a verifier says of one APK.
type verdict struct {
	Verifies bool
	Schemes  []int
	Signers  []string
}

var schemeLine = regexp.MustCompile(`^Verified using v([123]) scheme .*: (true|false)$`)

// readApksigner parses testdata/apksigner.txt, written by build.sh from
// `apksigner verify --print-certs -v`.
func readApksigner(t *testing.T) map[string]verdict {
	t.Helper()
	data, err := os.ReadFile("testdata/apksigner.txt")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]verdict{}
	var file string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		v := out[file]
		switch {
		case strings.HasPrefix(line, "== "):
			file = strings.TrimPrefix(line, "== ")
			continue
		case line == "Verifies":
			v.Verifies = true
		case schemeLine.MatchString(line):
			m := schemeLine.FindStringSubmatch(line)
			if m[2] == "true" {
				v.Schemes = append(v.Schemes, int(m[1][0]-'0'))
			}
		case strings.Contains(line, "certificate SHA-256 digest: "):
			v.Signers = append(v.Signers, line[strings.LastIndex(line, " ")+1:])
		}
		out[file] = v
	}
	return out
}

// TestApksignerAgrees compares package apk with apksigner's own verdict on
// every file: same schemes and signer, and the signer is the key the
// catalogue names.
func TestApksignerAgrees(t *testing.T) {
	recorded := readApksigner(t)
	if len(recorded) != len(testapk.All()) {
		t.Fatalf("testdata/apksigner.txt covers %d files, the catalogue %d; rerun build.sh", len(recorded), len(testapk.All()))
	}
	for _, a := range testapk.All() {
		t.Run(a.File, func(t *testing.T) {
			want, ok := recorded[a.File]
			if !ok {
				t.Fatalf("testdata/apksigner.txt has no entry for %s; rerun build.sh", a.File)
			}
			if diff := cmp.Diff([]string{testapk.Signer(a.Key)}, want.Signers); diff != "" {
				t.Errorf("apksigner's signer vs key %s (-key +apksigner):\n%s", a.Key, diff)
			}
			info, err := apk.Inspect(testapk.Path(t, a.File), 0)
			got := verdict{Verifies: err == nil}
			if info != nil {
				got.Schemes, got.Signers = info.Schemes, info.SignerSHA256
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("apksigner vs apk.Inspect (-apksigner +apk) (err %v):\n%s", err, diff)
			}
		})
	}
}

func TestPathWritesOncePerTest(t *testing.T) {
	p1 := testapk.Path(t, "pos-1.0.0.apk")
	p2 := testapk.Path(t, "pos-1.0.0.apk")
	if p1 != p2 {
		t.Errorf("Path twice in one test = %q then %q, want the same path", p1, p2)
	}
	got, err := os.ReadFile(p1)
	if err != nil {
		t.Fatal(err)
	}
	want, err := testapk.Files.ReadFile("files/pos-1.0.0.apk")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s holds %d bytes that differ from the embedded %d", p1, len(got), len(want))
	}
}

func TestWriteTo(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		wantErr string // substring; "" means success
	}{
		{name: "known file", file: "kiosk-2.0.0-minsdk34.apk"},
		{name: "unknown file", file: "pos-9.9.9.apk", wantErr: `no APK named "pos-9.9.9.apk"; want one of pos-1.0.0.apk, `},
		{name: "path escape", file: "../keys/a.pk8", wantErr: `no APK named "../keys/a.pk8"`},
		{name: "empty name", file: "", wantErr: `no APK named ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p, err := testapk.WriteTo(dir, tt.file)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("WriteTo(%q) error = %v, want one containing %q", tt.file, err, tt.wantErr)
				}
				left, _ := os.ReadDir(dir)
				if len(left) != 0 {
					t.Errorf("a refused WriteTo left %d files in %s", len(left), dir)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, tt.file); p != want {
				t.Errorf("WriteTo path = %q, want %q", p, want)
			}
			left, _ := os.ReadDir(dir)
			if len(left) != 1 {
				t.Errorf("WriteTo left %d entries in %s, want only the APK", len(left), dir)
			}
		})
	}
}

func TestWriteToMissingDir(t *testing.T) {
	_, err := testapk.WriteTo(filepath.Join(t.TempDir(), "absent"), "pos-1.0.0.apk")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteTo into a missing directory: error %v, want fs.ErrNotExist", err)
	}
}

// TestLargeAPKStoresItsAsset checks the download demo: a 3 MiB asset stored,
// not deflated, so the file stays about as large over the wire; and the
// whole folder stays small enough to embed.
func TestLargeAPKStoresItsAsset(t *testing.T) {
	zr, err := zip.OpenReader(testapk.Path(t, "menu-5.1.0-large.apk"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	type entry struct {
		Method uint16
		Size   uint64
	}
	var got *entry
	for _, f := range zr.File {
		if f.Name == "assets/payload.bin" {
			got = &entry{f.Method, f.UncompressedSize64}
		}
	}
	if diff := cmp.Diff(&entry{zip.Store, 3 << 20}, got); diff != "" {
		t.Errorf("assets/payload.bin (-want +got):\n%s", diff)
	}

	var total int64
	err = fs.WalkDir(testapk.Files, "files", func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		total += fi.Size()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if total > 6<<20 {
		t.Errorf("files/ holds %d bytes, want at most 6 MiB", total)
	}
}
