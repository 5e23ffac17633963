package sim

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sluice-mdm/sluice/agent/platform"
	"github.com/sluice-mdm/sluice/apk"
	"github.com/sluice-mdm/sluice/internal/testapk"
	"github.com/sluice-mdm/sluice/protocol"
)

// testAPK is one of the project's own signed test APKs.
func testAPK(t *testing.T, name string) string {
	t.Helper()
	return testapk.Path(t, name)
}

func signers(t *testing.T, path string) []string {
	t.Helper()
	info, err := apk.Inspect(path, 30)
	if err != nil {
		t.Fatal(err)
	}
	return info.SignerSHA256
}

var t0 = time.Date(2026, 5, 2, 9, 30, 0, 0, time.UTC)

func openTest(t *testing.T, opt Options) *Device {
	t.Helper()
	if opt.Now == nil {
		opt.Now = func() time.Time { return t0 }
	}
	d, err := Open(t.TempDir(), opt)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestInstallRules(t *testing.T) {
	keyA := []string{testapk.SignerA()}
	tests := []struct {
		name     string
		sdk      int
		storage  int64
		seed     string // APK seeded as com.example.pos before the install, if any
		install  string // file name under internal/testapk/files, or testdata/NAME
		opt      platform.InstallOptions
		wantCode string
		want     protocol.InstalledApp // com.example.pos afterwards
	}{
		{name: "first install", install: "pos-1.0.0.apk", want: protocol.InstalledApp{VersionName: "1.0.0", VersionCode: 100, SignerSHA256: keyA, UpdatedAt: t0}},
		{name: "upgrade", seed: "pos-1.0.0.apk", install: "pos-2.0.0.apk", opt: platform.InstallOptions{Package: "com.example.pos"}, want: protocol.InstalledApp{VersionName: "2.0.0", VersionCode: 200, SignerSHA256: keyA, UpdatedAt: t0}},
		{name: "reinstall same version", seed: "pos-2.0.0.apk", install: "pos-2.0.0.apk", want: protocol.InstalledApp{VersionName: "2.0.0", VersionCode: 200, SignerSHA256: keyA, UpdatedAt: t0}},
		{name: "downgrade refused", seed: "pos-2.0.0.apk", install: "pos-1.1.0.apk", wantCode: platform.CodeVersionDowngrade, want: protocol.InstalledApp{VersionName: "2.0.0", VersionCode: 200, SignerSHA256: keyA, UpdatedAt: t0.Add(-time.Hour)}},
		{name: "downgrade allowed", seed: "pos-2.0.0.apk", install: "pos-1.1.0.apk", opt: platform.InstallOptions{AllowDowngrade: true}, want: protocol.InstalledApp{VersionName: "1.1.0", VersionCode: 110, SignerSHA256: keyA, UpdatedAt: t0}},
		{name: "other signer refused", seed: "pos-1.1.0.apk", install: "pos-2.0.0-keyB.apk", wantCode: platform.CodeUpdateIncompatible, want: protocol.InstalledApp{VersionName: "1.1.0", VersionCode: 110, SignerSHA256: keyA, UpdatedAt: t0.Add(-time.Hour)}},
		{name: "other signer refused even as downgrade allowed", seed: "pos-2.1.0.apk", install: "pos-2.0.0-keyB.apk", opt: platform.InstallOptions{AllowDowngrade: true}, wantCode: platform.CodeUpdateIncompatible, want: protocol.InstalledApp{VersionName: "2.1.0", VersionCode: 210, SignerSHA256: keyA, UpdatedAt: t0.Add(-time.Hour)}},
		{name: "wrong package refused", seed: "pos-1.0.0.apk", install: "menu-4.5.0.apk", opt: platform.InstallOptions{Package: "com.example.pos"}, wantCode: platform.CodeInvalidAPK, want: protocol.InstalledApp{VersionName: "1.0.0", VersionCode: 100, SignerSHA256: keyA, UpdatedAt: t0.Add(-time.Hour)}},
		{name: "unsigned refused", seed: "pos-1.0.0.apk", install: "testdata/androidbinary-helloworld.apk", wantCode: platform.CodeNoCertificates, want: protocol.InstalledApp{VersionName: "1.0.0", VersionCode: 100, SignerSHA256: keyA, UpdatedAt: t0.Add(-time.Hour)}},
		{name: "digest mismatch refused", seed: "pos-1.0.0.apk", install: "testdata/v2-only-with-ecdsa-sha256-p256-digest-mismatch.apk", wantCode: platform.CodeNoCertificates, want: protocol.InstalledApp{VersionName: "1.0.0", VersionCode: 100, SignerSHA256: keyA, UpdatedAt: t0.Add(-time.Hour)}},
		{name: "not an apk refused", seed: "pos-1.0.0.apk", install: "testdata/LICENSE.apksig-Apache-2.0", wantCode: platform.CodeNotAPK, want: protocol.InstalledApp{VersionName: "1.0.0", VersionCode: 100, SignerSHA256: keyA, UpdatedAt: t0.Add(-time.Hour)}},
		{name: "insufficient storage refused", storage: 64 << 10, seed: "pos-1.0.0.apk", install: "menu-5.1.0-large.apk", wantCode: platform.CodeInsufficientStorage, want: protocol.InstalledApp{VersionName: "1.0.0", VersionCode: 100, SignerSHA256: keyA, UpdatedAt: t0.Add(-time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0.Add(-time.Hour)
			opt := Options{SDK: tt.sdk, FreeStorage: tt.storage, Now: func() time.Time { return now }}
			d := openTest(t, opt)
			var before []byte
			if tt.seed != "" {
				if err := d.Seed("com.example.pos", testAPK(t, tt.seed)); err != nil {
					t.Fatal(err)
				}
				p, err := d.InstalledPath("com.example.pos")
				if err != nil {
					t.Fatal(err)
				}
				if before, err = os.ReadFile(p); err != nil {
					t.Fatal(err)
				}
			}
			now = t0
			path := tt.install
			if filepath.Dir(path) != "testdata" {
				path = testAPK(t, path)
			}
			err := d.Install(context.Background(), path, tt.opt)
			gotCode := ""
			var ie *platform.InstallError
			if errors.As(err, &ie) {
				gotCode = ie.Code
			} else if err != nil {
				t.Fatalf("Install: %v, want nil or *InstallError", err)
			}
			if diff := cmp.Diff(tt.wantCode, gotCode); diff != "" {
				t.Errorf("code mismatch (-want +got):\n%s (err %v)", diff, err)
			}
			apps, err := d.Installed(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, apps["com.example.pos"]); diff != "" {
				t.Errorf("installed com.example.pos mismatch (-want +got):\n%s", diff)
			}
			p, err := d.InstalledPath("com.example.pos")
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			wantBytes := before
			if tt.wantCode == "" {
				if wantBytes, err = os.ReadFile(path); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(wantBytes, got) {
				t.Errorf("installed copy %s is not the expected APK", p)
			}
			// Exactly one copy per installed package is kept.
			copies, err := filepath.Glob(filepath.Join(d.Dir(), "data", "app", "*", "base.apk"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{p}, copies); diff != "" {
				t.Errorf("copies mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInstallMinSDK(t *testing.T) {
	tests := []struct {
		name     string
		sdk      int
		wantCode string
	}{
		{name: "minSdk 34 on sdk 30 refused", sdk: 30, wantCode: platform.CodeOlderSDK},
		{name: "minSdk 34 on sdk 34", sdk: 34},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openTest(t, Options{SDK: tt.sdk})
			if err := d.Seed("com.example.kiosk", testAPK(t, "kiosk-1.0.0.apk")); err != nil {
				t.Fatal(err)
			}
			err := d.Install(context.Background(), testAPK(t, "kiosk-2.0.0-minsdk34.apk"), platform.InstallOptions{Package: "com.example.kiosk"})
			gotCode := ""
			var ie *platform.InstallError
			if errors.As(err, &ie) {
				gotCode = ie.Code
			} else if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantCode, gotCode); diff != "" {
				t.Errorf("code mismatch (-want +got):\n%s", diff)
			}
			if tt.wantCode != "" {
				want := "sim: install " + testAPK(t, "kiosk-2.0.0-minsdk34.apk") + ": install failed: INSTALL_FAILED_OLDER_SDK: Requires newer sdk version #34 (current version is #30)"
				if diff := cmp.Diff(want, err.Error()); diff != "" {
					t.Errorf("message mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestInstallUsesStorage(t *testing.T) {
	d := openTest(t, Options{FreeStorage: 10 << 20})
	large := testAPK(t, "menu-5.1.0-large.apk")
	st, err := os.Stat(large)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Install(context.Background(), large, platform.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := d.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(int64(10<<20)-st.Size(), got.FreeStorage); diff != "" {
		t.Errorf("free storage mismatch (-want +got):\n%s", diff)
	}
}

func TestSeedRefusesOtherPackage(t *testing.T) {
	d := openTest(t, Options{})
	err := d.Seed("com.example.pos", testAPK(t, "menu-4.3.3.apk"))
	want := "sim: seed com.example.pos: " + testAPK(t, "menu-4.3.3.apk") + " declares package com.example.menu"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	apps, err := d.Installed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]protocol.InstalledApp{}, apps); diff != "" {
		t.Errorf("installed mismatch (-want +got):\n%s", diff)
	}
}

func TestInstallsSerialized(t *testing.T) {
	dir := t.TempDir()
	// Two Devices on one directory stand for the agent and a second process.
	a, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i, name := range []string{"pos-1.0.0.apk", "menu-4.3.3.apk", "kiosk-1.0.0.apk", "pos-1.1.0.apk"} {
		d := a
		if i%2 == 1 {
			d = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.Install(context.Background(), testAPK(t, name), platform.InstallOptions{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		// pos-1.0.0 after pos-1.1.0 is a refused downgrade; any other
		// failure, or a lost update, is a bug.
		var ie *platform.InstallError
		if err != nil && !(i == 0 && errors.As(err, &ie) && ie.Code == platform.CodeVersionDowngrade) {
			t.Errorf("install %d: %v", i, err)
		}
	}
	apps, err := a.Installed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for pkg, app := range apps {
		got[pkg] = app.VersionCode
	}
	want := map[string]int64{"com.example.pos": 110, "com.example.menu": 433, "com.example.kiosk": 10}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("installed mismatch (-want +got):\n%s", diff)
	}
}
