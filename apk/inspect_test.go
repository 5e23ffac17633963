package apk_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/apk"
	"github.com/sluice-mdm/sluice/internal/testapk"
)

// rsa2048 is the signer of the AOSP apksig fixtures (CN=rsa-2048), as
// `apksigner verify --print-certs -v` prints it (see testdata/apksigner).
const rsa2048 = "fb5dbd3c669af9fc236c6991e6387b7f11ff0590997f22d0f5c74ff40e04fca8"

// Whole-file SHA-256 and size of the fixtures, from sha256sum and ls.
const (
	goldenSHA    = "ba7828ba42a3b68bd3acff78773e41d6a62aabe6317538671441c568748d9cd7"
	goldenSize   = 12865
	v1OnlySHA    = "1a2aa49011c5e0a773bd559484cb867b8bd15423381178b2137b63d16dff7540"
	v1OnlySize   = 4623
	v2OnlySHA    = "b11e85df088c3474b2d0f266f1a4863744162fc44b4b53a87d3432f03dce25c6"
	v2OnlySize   = 4134
	v3OnlySHA    = "11394d65bfd43bb7e6a234dccaa6b6a18078c5d57fc8f3d17a5159332e0c4455"
	v3OnlySize   = 12496
	golden       = "testdata/golden-aligned-v1v2v3-out.apk"
	v1Only       = "testdata/v1-only-with-rsa-2048.apk"
	v2Only       = "testdata/v2-only-with-rsa-pkcs1-sha256-2048.apk"
	v3Only       = "testdata/v3-only-with-rsa-pkcs1-sha256-2048.apk"
	v2Mismatch   = "testdata/v2-only-with-ecdsa-sha256-p256-digest-mismatch.apk"
	unsignedHelo = "testdata/androidbinary-helloworld.apk"
)

// tinyApp is what every apksig fixture is: android.appsecurity.cts.tinyapp
// 1.0 (10), minSdk and targetSdk 23, signed by rsa-2048.
func tinyApp(sha string, size int64, schemes ...int) *apk.Info {
	return &apk.Info{
		Package:      "android.appsecurity.cts.tinyapp",
		VersionCode:  10,
		VersionName:  "1.0",
		MinSDK:       23,
		TargetSDK:    23,
		SignerSHA256: []string{rsa2048},
		Schemes:      schemes,
		SHA256:       sha,
		Size:         size,
	}
}

func TestInspectFixtures(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		sdk     int
		want    *apk.Info
		wantErr error
	}{
		{name: "v1v2v3 at its own minSdk 23", file: golden, sdk: 0, want: tinyApp(goldenSHA, goldenSize, 1, 2, 3)},
		{name: "v1v2v3 on API 23", file: golden, sdk: 23, want: tinyApp(goldenSHA, goldenSize, 1, 2, 3)},
		{name: "v1v2v3 on API 24 checks v2 and v3", file: golden, sdk: 24, want: tinyApp(goldenSHA, goldenSize, 2, 3)},
		{name: "v1v2v3 on API 28 checks v3", file: golden, sdk: 28, want: tinyApp(goldenSHA, goldenSize, 3)},
		{name: "v1 only at its minSdk", file: v1Only, sdk: 0, want: tinyApp(v1OnlySHA, v1OnlySize, 1)},
		{name: "v1 only on API 30", file: v1Only, sdk: 30, want: tinyApp(v1OnlySHA, v1OnlySize, 1)},
		{name: "v2 only on API 23 is refused", file: v2Only, sdk: 23, wantErr: apk.ErrBadSignature},
		{name: "v2 only at its minSdk 23 is refused", file: v2Only, sdk: 0, wantErr: apk.ErrBadSignature},
		{name: "v2 only on API 24", file: v2Only, sdk: 24, want: tinyApp(v2OnlySHA, v2OnlySize, 2)},
		{name: "v2 only on API 28", file: v2Only, sdk: 28, want: tinyApp(v2OnlySHA, v2OnlySize, 2)},
		{name: "v3 only on API 23 is refused", file: v3Only, sdk: 23, wantErr: apk.ErrBadSignature},
		{name: "v3 only on API 24", file: v3Only, sdk: 24, want: tinyApp(v3OnlySHA, v3OnlySize, 3)},
		{name: "v3 only on API 33", file: v3Only, sdk: 33, want: tinyApp(v3OnlySHA, v3OnlySize, 3)},
		{name: "v2 digest mismatch on API 24", file: v2Mismatch, sdk: 24, wantErr: apk.ErrBadSignature},
		{name: "v2 digest mismatch on API 30", file: v2Mismatch, sdk: 30, wantErr: apk.ErrBadSignature},
		{name: "unsigned", file: unsignedHelo, sdk: 0, wantErr: apk.ErrUnsigned},
		{name: "unsigned on API 30", file: unsignedHelo, sdk: 30, wantErr: apk.ErrUnsigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apk.Inspect(tt.file, tt.sdk)
			if !errors.Is(err, tt.wantErr) || (err != nil && tt.wantErr == nil) {
				t.Fatalf("Inspect(%s, %d) error = %v, want %v", tt.file, tt.sdk, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Inspect(%s, %d) (-want +got):\n%s", tt.file, tt.sdk, diff)
			}
		})
	}
}

// TestInspectSaysWhy pins the one-sentence reasons of refused fixtures.
func TestInspectSaysWhy(t *testing.T) {
	tests := []struct {
		name string
		file string
		sdk  int
		want string
	}{
		{
			name: "v2 only below API 24", file: v2Only, sdk: 23,
			want: "apk: APK signature does not verify: " + v2Only + ": the APK is signed only with APK Signature Scheme v2/v3, which devices below API level 24 do not check; API level 23 needs a v1 (JAR) signature",
		},
		{
			name: "digest mismatch", file: v2Mismatch, sdk: 24,
			want: "apk: APK signature does not verify: " + v2Mismatch + ": the signature does not verify for API level 24 and later: 1 digest of contents did not verify",
		},
		{
			name: "unsigned", file: unsignedHelo, sdk: 0,
			want: "apk: APK is not signed: " + unsignedHelo + ": the APK has no v1 (JAR), v2 or v3 signature",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := apk.Inspect(tt.file, tt.sdk)
			if err == nil {
				t.Fatalf("Inspect(%s, %d) succeeded, want an error", tt.file, tt.sdk)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error text (-want +got):\n%s", diff)
			}
		})
	}
}

// zipOf builds a zip archive of name → content, deflated.
func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

const htmlPage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Dropbox - pos-2.0.0.apk</title></head>
<body><div id="preview">pos-2.0.0.apk</div><a href="?dl=1">Download</a></body></html>
`

func TestInspectMalformed(t *testing.T) {
	full := readFile(t, golden)
	tests := []struct {
		name       string
		data       []byte
		wantReason string // the sentence after "apk: malformed APK: <path>: "
	}{
		{name: "truncated to 8000 bytes", data: full[:8000],
			wantReason: "the zip archive is incomplete or damaged, perhaps truncated (zip: not a valid zip file)"},
		{name: "last 10 bytes missing", data: full[:len(full)-10],
			wantReason: "the zip archive is incomplete or damaged, perhaps truncated (zip: not a valid zip file)"},
		{name: "empty file", data: nil, wantReason: "the file is empty"},
		{name: "not a zip", data: []byte("#!/bin/sh\necho this is a shell script, not an APK\n"),
			wantReason: "the file is not a zip archive (zip: not a valid zip file)"},
		{name: "HTML page saved as .apk", data: []byte(htmlPage),
			wantReason: "the file is an HTML page, not an APK (a download link that answers with a web page?)"},
		{name: "HTML page with leading blank lines", data: []byte("\r\n\n  <html><body>Not found</body></html>"),
			wantReason: "the file is an HTML page, not an APK (a download link that answers with a web page?)"},
		{name: "zip without AndroidManifest.xml",
			data:       zipOf(t, map[string]string{"classes.dex": "dex\n035\x00", "res/raw/readme.txt": "hello"}),
			wantReason: "the archive has no AndroidManifest.xml"},
		{name: "plain-text manifest",
			data: zipOf(t, map[string]string{"AndroidManifest.xml": `<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="com.example.pos" android:versionCode="1"/>`}),
			wantReason: "AndroidManifest.xml is plain-text XML, not the compiled binary XML of a built APK"},
		{name: "binary manifest without elements",
			data:       zipOf(t, map[string]string{"AndroidManifest.xml": "\x03\x00\x08\x00\x08\x00\x00\x00"}),
			wantReason: "AndroidManifest.xml has no <manifest> root element"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "app.apk", tt.data)
			got, err := apk.Inspect(p, 0)
			if !errors.Is(err, apk.ErrMalformed) {
				t.Fatalf("Inspect = %+v, %v; want an error wrapping ErrMalformed", got, err)
			}
			if got != nil {
				t.Errorf("Inspect returned %+v with its error, want nil", got)
			}
			want := "apk: malformed APK: " + p + ": " + tt.wantReason
			if diff := cmp.Diff(want, err.Error()); diff != "" {
				t.Errorf("error text (-want +got):\n%s", diff)
			}
			if after := readFile(t, p); !bytes.Equal(after, tt.data) {
				t.Errorf("Inspect changed the file")
			}
		})
	}
}

func TestInspectBadArguments(t *testing.T) {
	_, err := apk.Inspect(filepath.Join(t.TempDir(), "absent.apk"), 0)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: error %v, want fs.ErrNotExist", err)
	}
	_, err = apk.Inspect(t.TempDir(), 0)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: error %v, want one saying it is not a regular file", err)
	}
	_, err = apk.Inspect(golden, -1)
	want := "apk: inspect " + golden + ": sdk -1 is not an API level; want 0 (the APK's own minSdk) or 1 and above"
	if err == nil || err.Error() != want {
		t.Errorf("negative sdk: error %v, want %q", err, want)
	}
}

// TestInspectHashesWholeFile checks SHA256 and Size against an independent
// hash of a file larger than the hasher's buffer.
func TestInspectHashesWholeFile(t *testing.T) {
	p := largeAPK(t)
	data := readFile(t, p)
	sum := sha256.Sum256(data)
	info, err := apk.Inspect(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	type hashed struct {
		SHA256 string
		Size   int64
	}
	want := hashed{hex.EncodeToString(sum[:]), int64(len(data))}
	if diff := cmp.Diff(want, hashed{info.SHA256, info.Size}); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestInspectResolvesReferences reads a versionName given as a reference
// into resources.arsc.
func TestInspectResolvesReferences(t *testing.T) {
	const file = "testdata/resref-versionname.apk"
	sha, size := fileHash(t, file)
	want := &apk.Info{
		Package: "com.example.resref", VersionCode: 71, VersionName: "7.1.0", MinSDK: 21, TargetSDK: 33,
		SignerSHA256: []string{testapk.SignerA()}, Schemes: []int{1, 2, 3}, SHA256: sha, Size: size,
	}
	got, err := apk.Inspect(file, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Inspect (-want +got):\n%s", diff)
	}
}
