package testapk

import (
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Files holds the APKs, as files/<name>.apk.
//
//go:embed files
var Files embed.FS

//go:embed keys/a.cert.pem keys/b.cert.pem
var certs embed.FS

// APK describes one file of the catalogue. Key is "A" or "B", the test key
// that signed it.
type APK struct {
	File, Package, VersionName string
	VersionCode                int64
	MinSDK                     int
	Key                        string
}

// catalogue lists every file of files/, in build.sh's order.
var catalogue = []APK{
	{File: "pos-1.0.0.apk", Package: "com.example.pos", VersionName: "1.0.0", VersionCode: 100, MinSDK: 21, Key: "A"},
	{File: "pos-1.1.0.apk", Package: "com.example.pos", VersionName: "1.1.0", VersionCode: 110, MinSDK: 21, Key: "A"},
	{File: "pos-2.0.0.apk", Package: "com.example.pos", VersionName: "2.0.0", VersionCode: 200, MinSDK: 21, Key: "A"},
	{File: "pos-2.1.0.apk", Package: "com.example.pos", VersionName: "2.1.0", VersionCode: 210, MinSDK: 21, Key: "A"},
	{File: "pos-3.0.0.apk", Package: "com.example.pos", VersionName: "3.0.0", VersionCode: 300, MinSDK: 21, Key: "A"},
	{File: "pos-2.0.0-keyB.apk", Package: "com.example.pos", VersionName: "2.0.0", VersionCode: 200, MinSDK: 21, Key: "B"},
	{File: "menu-4.3.3.apk", Package: "com.example.menu", VersionName: "4.3.3", VersionCode: 433, MinSDK: 21, Key: "A"},
	{File: "menu-4.5.0.apk", Package: "com.example.menu", VersionName: "4.5.0", VersionCode: 450, MinSDK: 21, Key: "A"},
	{File: "menu-5.0.0.apk", Package: "com.example.menu", VersionName: "5.0.0", VersionCode: 500, MinSDK: 21, Key: "A"},
	{File: "menu-5.1.0.apk", Package: "com.example.menu", VersionName: "5.1.0", VersionCode: 510, MinSDK: 21, Key: "A"},
	{File: "menu-5.1.0-large.apk", Package: "com.example.menu", VersionName: "5.1.0", VersionCode: 510, MinSDK: 21, Key: "A"},
	{File: "kiosk-1.0.0.apk", Package: "com.example.kiosk", VersionName: "1.0.0", VersionCode: 10, MinSDK: 21, Key: "A"},
	{File: "kiosk-2.0.0.apk", Package: "com.example.kiosk", VersionName: "2.0.0", VersionCode: 20, MinSDK: 21, Key: "A"},
	{File: "kiosk-2.0.0-minsdk34.apk", Package: "com.example.kiosk", VersionName: "2.0.0", VersionCode: 20, MinSDK: 34, Key: "A"},
}

// All returns the catalogue: every APK of [Files] with what it is.
func All() []APK { return slices.Clone(catalogue) }

// Lookup returns the catalogue entry of file ("pos-2.0.0.apk").
func Lookup(file string) (APK, bool) {
	i := slices.IndexFunc(catalogue, func(a APK) bool { return a.File == file })
	if i < 0 {
		return APK{}, false
	}
	return catalogue[i], true
}

// WriteTo writes file ("pos-2.0.0.apk") into dir and returns its path.
// The file appears complete or not at all.
func WriteTo(dir, file string) (string, error) {
	if _, ok := Lookup(file); !ok {
		return "", fmt.Errorf("testapk: no APK named %q; want one of %s", file, strings.Join(names(), ", "))
	}
	data, err := Files.ReadFile("files/" + file)
	if err != nil {
		return "", fmt.Errorf("testapk: read %s: %w", file, err)
	}
	tmp, err := os.CreateTemp(dir, "."+file+".*")
	if err != nil {
		return "", fmt.Errorf("testapk: write %s: %w", file, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", fmt.Errorf("testapk: write %s: %w", file, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", fmt.Errorf("testapk: write %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("testapk: write %s: %w", file, err)
	}
	dst := filepath.Join(dir, file)
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("testapk: write %s: %w", file, err)
	}
	return dst, nil
}

type pathKey struct {
	tb   testing.TB
	file string
}

var written sync.Map // pathKey → string

// Path writes file into a temporary directory of t, once per test, and
// returns its path; the test fails at once if file is not in the
// catalogue.
func Path(t testing.TB, file string) string {
	t.Helper()
	k := pathKey{t, file}
	if p, ok := written.Load(k); ok {
		return p.(string)
	}
	p, err := WriteTo(t.TempDir(), file)
	if err != nil {
		t.Fatal(err)
	}
	if prev, loaded := written.LoadOrStore(k, p); loaded {
		return prev.(string)
	}
	t.Cleanup(func() { written.Delete(k) })
	return p
}

// SignerA returns the SHA-256 fingerprint (lowercase hex of the DER
// certificate) of test key A, the signer of every APK with Key "A".
func SignerA() string { return signers()["A"] }

// SignerB returns the SHA-256 fingerprint of test key B.
func SignerB() string { return signers()["B"] }

// Signer returns the fingerprint of key "A" or "B", and "" for any other.
func Signer(key string) string { return signers()[key] }

var signers = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for key, file := range map[string]string{"A": "keys/a.cert.pem", "B": "keys/b.cert.pem"} {
		data, err := certs.ReadFile(file)
		if err != nil {
			panic(fmt.Sprintf("testapk: embedded %s: %v", file, err))
		}
		block, _ := pem.Decode(data)
		if block == nil || block.Type != "CERTIFICATE" {
			panic(fmt.Sprintf("testapk: embedded %s is not a PEM certificate", file))
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			panic(fmt.Sprintf("testapk: embedded %s: %v", file, err))
		}
		sum := sha256.Sum256(block.Bytes)
		m[key] = hex.EncodeToString(sum[:])
	}
	return m
})

func names() []string {
	out := make([]string, len(catalogue))
	for i, a := range catalogue {
		out[i] = a.File
	}
	return out
}
