package apk_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/apk"
	"github.com/sluice-mdm/sluice/internal/testapk"
)

func largeAPK(t *testing.T) string { return testapk.Path(t, "menu-5.1.0-large.apk") }

// fileHash hashes a file independently of package apk.
func fileHash(t *testing.T, p string) (string, int64) {
	t.Helper()
	data := readFile(t, p)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), int64(len(data))
}

// expectOf is the Expect a directive for catalogue file would carry.
func expectOf(t *testing.T, file string, sdk int) apk.Expect {
	t.Helper()
	a, ok := testapk.Lookup(file)
	if !ok {
		t.Fatalf("no test APK %s", file)
	}
	sha, size := fileHash(t, testapk.Path(t, file))
	return apk.Expect{
		Package: a.Package, VersionCode: a.VersionCode, SHA256: sha, Size: size,
		SignerSHA256: []string{testapk.Signer(a.Key)}, SDK: sdk,
	}
}

// colonHex writes a fingerprint as keytool does: upper case, ':' separated.
func colonHex(s string) string {
	var parts []string
	for i := 0; i+2 <= len(s); i += 2 {
		parts = append(parts, strings.ToUpper(s[i:i+2]))
	}
	return strings.Join(parts, ":")
}

func TestCheckAccepts(t *testing.T) {
	pos200 := testapk.Path(t, "pos-2.0.0.apk")
	sha, size := fileHash(t, pos200)
	want := &apk.Info{
		Package: "com.example.pos", VersionCode: 200, VersionName: "2.0.0", MinSDK: 21, TargetSDK: 33,
		SignerSHA256: []string{testapk.SignerA()}, Schemes: []int{3}, SHA256: sha, Size: size,
	}
	withSchemes := func(schemes ...int) *apk.Info {
		w := *want
		w.Schemes = schemes
		return &w
	}
	tests := []struct {
		name   string
		expect func(apk.Expect) apk.Expect
		want   *apk.Info
	}{
		{name: "everything given", expect: func(e apk.Expect) apk.Expect { return e }, want: want},
		{name: "fingerprint and hash in upper case with colons", expect: func(e apk.Expect) apk.Expect {
			e.SignerSHA256 = []string{colonHex(e.SignerSHA256[0])}
			e.SHA256 = strings.ToUpper(e.SHA256)
			return e
		}, want: want},
		{name: "only the package", expect: func(e apk.Expect) apk.Expect { return apk.Expect{Package: e.Package, SDK: 30} }, want: want},
		{name: "API 26 device checks v2 as well", expect: func(e apk.Expect) apk.Expect { e.SDK = 26; return e }, want: withSchemes(2, 3)},
		{name: "API 21 device checks v1 as well", expect: func(e apk.Expect) apk.Expect { e.SDK = 21; return e }, want: withSchemes(1, 2, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apk.Check(pos200, tt.expect(expectOf(t, "pos-2.0.0.apk", 30)))
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckRefuses produces every CheckError code with a real file.
func TestCheckRefuses(t *testing.T) {
	pos200 := testapk.Path(t, "pos-2.0.0.apk")
	pos200sha, pos200size := fileHash(t, pos200)
	pos210sha, _ := fileHash(t, testapk.Path(t, "pos-2.1.0.apk"))
	_, largeSize := fileHash(t, largeAPK(t))
	truncated := writeFile(t, "pos-2.0.0.apk", readFile(t, pos200)[:4000])
	html := writeFile(t, "pos-2.0.0.apk", []byte(htmlPage))

	tests := []struct {
		name   string
		path   string
		expect apk.Expect
		want   *apk.CheckError
		wantIs error
	}{
		{
			name: "hash of another file of the same size", path: pos200,
			expect: func() apk.Expect { e := expectOf(t, "pos-2.0.0.apk", 30); e.SHA256 = pos210sha; return e }(),
			want:   &apk.CheckError{Code: "HASH_MISMATCH", Field: "sha256", Want: pos210sha, Got: pos200sha},
			wantIs: apk.ErrMismatch,
		},
		{
			name: "large file where the small one was expected", path: largeAPK(t),
			expect: expectOf(t, "menu-5.1.0.apk", 30),
			want:   &apk.CheckError{Code: "SIZE_MISMATCH", Field: "size", Want: "8524 bytes", Got: strconv.FormatInt(largeSize, 10) + " bytes"},
			wantIs: apk.ErrMismatch,
		},
		{
			name: "download cut short", path: truncated,
			expect: expectOf(t, "pos-2.0.0.apk", 30),
			want:   &apk.CheckError{Code: "SIZE_MISMATCH", Field: "size", Want: strconv.FormatInt(pos200size, 10) + " bytes", Got: "4000 bytes"},
			wantIs: apk.ErrMismatch,
		},
		{
			name: "another app", path: testapk.Path(t, "menu-5.0.0.apk"),
			expect: apk.Expect{Package: "com.example.pos", VersionCode: 500, SignerSHA256: []string{testapk.SignerA()}, SDK: 30},
			want:   &apk.CheckError{Code: "PACKAGE_MISMATCH", Field: "package", Want: "com.example.pos", Got: "com.example.menu"},
			wantIs: apk.ErrMismatch,
		},
		{
			name: "older version than the target", path: pos200,
			expect: apk.Expect{Package: "com.example.pos", VersionCode: 210, SDK: 30},
			want:   &apk.CheckError{Code: "VERSION_MISMATCH", Field: "versionCode", Want: "210", Got: "200"},
			wantIs: apk.ErrMismatch,
		},
		{
			name: "signed with key B where A was expected", path: testapk.Path(t, "pos-2.0.0-keyB.apk"),
			expect: apk.Expect{Package: "com.example.pos", VersionCode: 200, SignerSHA256: []string{testapk.SignerA()}, SDK: 30},
			want:   &apk.CheckError{Code: "SIGNER_MISMATCH", Field: "signerSha256", Want: testapk.SignerA(), Got: testapk.SignerB()},
			wantIs: apk.ErrMismatch,
		},
		{
			name: "minSdk 34 on an API 30 device", path: testapk.Path(t, "kiosk-2.0.0-minsdk34.apk"),
			expect: apk.Expect{Package: "com.example.kiosk", VersionCode: 20, SignerSHA256: []string{testapk.SignerA()}, SDK: 30},
			want:   &apk.CheckError{Code: "MIN_SDK_TOO_HIGH", Field: "minSdk", Want: "at most 30 (the device's API level)", Got: "34"},
			wantIs: apk.ErrMismatch,
		},
		{
			name: "v2 digest mismatch", path: v2Mismatch,
			expect: apk.Expect{Package: "android.appsecurity.cts.tinyapp", VersionCode: 10, SDK: 24},
			want: &apk.CheckError{Code: "BAD_SIGNATURE", Field: "signature", Want: "a signature valid on API level 24",
				Got: "the signature does not verify for API level 24 and later: 1 digest of contents did not verify"},
			wantIs: apk.ErrBadSignature,
		},
		{
			name: "v2 only on an API 23 device", path: v2Only,
			expect: apk.Expect{Package: "android.appsecurity.cts.tinyapp", VersionCode: 10, SignerSHA256: []string{rsa2048}, SDK: 23},
			want: &apk.CheckError{Code: "BAD_SIGNATURE", Field: "signature", Want: "a signature valid on API level 23",
				Got: "the APK is signed only with APK Signature Scheme v2/v3, which devices below API level 24 do not check; API level 23 needs a v1 (JAR) signature"},
			wantIs: apk.ErrBadSignature,
		},
		{
			name: "unsigned", path: unsignedHelo,
			expect: apk.Expect{Package: "com.example.helloworld", VersionCode: 1},
			want: &apk.CheckError{Code: "BAD_SIGNATURE", Field: "signature", Want: "a signature valid on API level 15",
				Got: "the APK has no v1 (JAR), v2 or v3 signature"},
			wantIs: apk.ErrBadSignature,
		},
		{
			name: "web page instead of the APK", path: html,
			expect: apk.Expect{Package: "com.example.pos", VersionCode: 200, SDK: 30},
			want: &apk.CheckError{Code: "MALFORMED_APK", Field: "file", Want: "a valid APK",
				Got: "the file is an HTML page, not an APK (a download link that answers with a web page?)"},
			wantIs: apk.ErrMalformed,
		},
		{
			name: "truncated file with nothing to compare its size to", path: truncated,
			expect: apk.Expect{Package: "com.example.pos", VersionCode: 200, SDK: 30},
			want: &apk.CheckError{Code: "MALFORMED_APK", Field: "file", Want: "a valid APK",
				Got: "the zip archive is incomplete or damaged, perhaps truncated (zip: not a valid zip file)"},
			wantIs: apk.ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := apk.Check(tt.path, tt.expect)
			if info != nil {
				t.Errorf("Check returned %+v with an error, want nil", info)
			}
			var got *apk.CheckError
			if !errors.As(err, &got) {
				t.Fatalf("Check error = %v, want a *CheckError", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CheckError (-want +got):\n%s", diff)
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
		})
	}
}

func TestCheckErrorText(t *testing.T) {
	_, err := apk.Check(testapk.Path(t, "pos-2.0.0.apk"), apk.Expect{Package: "com.example.pos", VersionCode: 210, SDK: 30})
	want := "apk: VERSION_MISMATCH: versionCode: want 210, found 200"
	if err == nil || err.Error() != want {
		t.Errorf("Check error = %v, want %q", err, want)
	}
}

// TestCheckOtherErrors: failures that say nothing about the file's content
// are not CheckErrors.
func TestCheckOtherErrors(t *testing.T) {
	_, err := apk.Check(filepath.Join(t.TempDir(), "absent.apk"), apk.Expect{Package: "com.example.pos"})
	var ce *apk.CheckError
	if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &ce) {
		t.Errorf("missing file: error %v, want fs.ErrNotExist and no *CheckError", err)
	}
	_, err = apk.Check(testapk.Path(t, "pos-2.0.0.apk"), apk.Expect{SDK: -3})
	if err == nil || !strings.Contains(err.Error(), "sdk -3 is not an API level") || errors.As(err, &ce) {
		t.Errorf("negative SDK: error %v, want one naming sdk -3 and no *CheckError", err)
	}
}
