package android

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sluice-mdm/sluice/agent/platform"
	"github.com/sluice-mdm/sluice/internal/testapk"
	"github.com/sluice-mdm/sluice/protocol"
)

// replayRunner answers device commands with captured outputs and records
// the commands it was asked to run.
type replayRunner struct {
	mu      sync.Mutex
	answers map[string][]byte
	calls   []string
}

func (r *replayRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	cmd := strings.Join(append([]string{name}, args...), " ")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, cmd)
	out, ok := r.answers[cmd]
	if !ok {
		return nil, fmt.Errorf("run %s: exit status 255", cmd)
	}
	return out, nil
}

func newTestPlatform(t *testing.T, answers map[string][]byte, signers SignerFunc) (*Platform, *replayRunner) {
	t.Helper()
	r := &replayRunner{answers: answers}
	p, err := New(Config{
		Runner:  r,
		DataDir: t.TempDir(),
		Signers: signers,
		Filter:  func(pkg string) bool { return pkg != "com.android.settings" },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, r
}

func TestState(t *testing.T) {
	wifi := append([]byte("Active default network: 727\n\nCurrent Networks:\n  "), readTestdata(t, "connectivity_android7_wifi_record.txt")...)
	tests := []struct {
		name    string
		answers map[string][]byte
		want    protocol.DeviceState
	}{
		{
			name: "on wifi, charging, dozing, watch app resumed",
			answers: map[string][]byte{
				"dumpsys battery":             readTestdata(t, "battery_samsung_usb_charging.txt"),
				"dumpsys connectivity":        wifi,
				"dumpsys power":               readTestdata(t, "power_dozing_usb.txt"),
				"dumpsys deviceidle":          readTestdata(t, "deviceidle_android6_inactive.txt"),
				"dumpsys activity activities": readTestdata(t, "activities_old_resumed.txt"),
			},
			want: protocol.DeviceState{Unmetered: true, Charging: true, Idle: true, ForegroundApp: "com.xtc.watch"},
		},
		{
			name: "offline, on battery, awake, nothing resumed",
			answers: map[string][]byte{
				"dumpsys battery":             readTestdata(t, "battery_console_unplugged.txt"),
				"dumpsys connectivity":        []byte("Active default network: none\n\nCurrent Networks:\n"),
				"dumpsys power":               readTestdata(t, "power_samsung_awake.txt"),
				"dumpsys deviceidle":          readTestdata(t, "deviceidle_android6_inactive.txt"),
				"dumpsys activity activities": readTestdata(t, "activities_android7_samsung_wrapped.txt"),
			},
			want: protocol.DeviceState{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newTestPlatform(t, tt.answers, nil)
			got, err := p.State(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got.FreeStorage <= 0 {
				t.Errorf("FreeStorage = %d, want the data dir's free bytes", got.FreeStorage)
			}
			got.FreeStorage = 0
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("state mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStateCommandFails(t *testing.T) {
	p, _ := newTestPlatform(t, map[string][]byte{"dumpsys battery": readTestdata(t, "battery_console_unplugged.txt")}, nil)
	_, err := p.State(context.Background())
	want := "android: dumpsys connectivity: run dumpsys connectivity: exit status 255"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestInstalled(t *testing.T) {
	const base = "/data/app/com.genymobile.gnirehtet-eXRMpOp2Z3lxMs_FH81Z_A==/base.apk"
	answers := map[string][]byte{
		"pm list packages --show-versioncode":      []byte("package:com.android.settings versionCode:29\npackage:com.genymobile.gnirehtet versionCode:6\n"),
		"getprop ro.build.version.sdk":             []byte("28\n"),
		"getprop ro.build.version.release":         []byte("9\n"),
		"getprop persist.sys.timezone":             []byte("Europe/Berlin\n"),
		"dumpsys package com.genymobile.gnirehtet": readTestdata(t, "package_android9_gnirehtet.txt"),
		"pm path com.genymobile.gnirehtet":         []byte("package:" + base + "\n"),
	}
	var inspected []string
	signers := func(path string, sdk int) ([]string, error) {
		inspected = append(inspected, fmt.Sprintf("%s@%d", path, sdk))
		return []string{"9f8bb1a2"}, nil
	}
	p, r := newTestPlatform(t, answers, signers)
	for range 2 {
		got, err := p.Installed(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]protocol.InstalledApp{
			"com.genymobile.gnirehtet": {
				VersionName:  "2.3",
				VersionCode:  6,
				SignerSHA256: []string{"9f8bb1a2"},
				UpdatedAt:    time.Date(2019, 6, 6, 11, 19, 5, 0, time.UTC),
			},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("installed mismatch (-want +got):\n%s", diff)
		}
	}
	// The certificate is read once per installed version, and unmanaged
	// packages are never dumped.
	if diff := cmp.Diff([]string{base + "@28"}, inspected); diff != "" {
		t.Errorf("inspected mismatch (-want +got):\n%s", diff)
	}
	for _, c := range r.calls {
		if strings.Contains(c, "com.android.settings") {
			t.Errorf("ran %q for a filtered package", c)
		}
	}
}

func TestInstalledWithoutReadableAPK(t *testing.T) {
	answers := map[string][]byte{
		"pm list packages --show-versioncode":      []byte("package:com.genymobile.gnirehtet versionCode:6\n"),
		"getprop ro.build.version.sdk":             []byte("28\n"),
		"getprop ro.build.version.release":         []byte("9\n"),
		"getprop persist.sys.timezone":             []byte("\n"),
		"dumpsys package com.genymobile.gnirehtet": readTestdata(t, "package_android9_gnirehtet.txt"),
		"pm path com.genymobile.gnirehtet":         []byte("package:/data/app/x/base.apk\n"),
	}
	p, _ := newTestPlatform(t, answers, func(string, int) ([]string, error) {
		return nil, errors.New("open /data/app/x/base.apk: permission denied")
	})
	got, err := p.Installed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got["com.genymobile.gnirehtet"].SignerSHA256 != nil {
		t.Errorf("SignerSHA256 = %v, want none when base.apk is unreadable", got["com.genymobile.gnirehtet"].SignerSHA256)
	}
}

// TestInstalledReadsRealAPK lets the default APKSigners read a real signed
// APK that "pm path" names.
func TestInstalledReadsRealAPK(t *testing.T) {
	answers := map[string][]byte{
		"pm list packages --show-versioncode":      []byte("package:com.genymobile.gnirehtet versionCode:6\n"),
		"getprop ro.build.version.sdk":             []byte("30\n"),
		"getprop ro.build.version.release":         []byte("11\n"),
		"getprop persist.sys.timezone":             []byte("Europe/Berlin\n"),
		"dumpsys package com.genymobile.gnirehtet": readTestdata(t, "package_android9_gnirehtet.txt"),
		"pm path com.genymobile.gnirehtet":         []byte("package:" + testapk.Path(t, "pos-1.0.0.apk") + "\n"),
	}
	p, _ := newTestPlatform(t, answers, nil)
	got, err := p.Installed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{testapk.SignerA()}, got["com.genymobile.gnirehtet"].SignerSHA256); diff != "" {
		t.Errorf("signers mismatch (-want +got):\n%s", diff)
	}
}

func TestInstall(t *testing.T) {
	tests := []struct {
		name     string
		opt      platform.InstallOptions
		answer   string
		wantCall string
		wantCode string
	}{
		{
			name:     "success",
			opt:      platform.InstallOptions{Package: "com.example.pos"},
			answer:   "Success\n",
			wantCall: "pm install -r --pkg com.example.pos /data/local/tmp/pos.apk",
		},
		{
			name:     "downgrade allowed but signer differs",
			opt:      platform.InstallOptions{AllowDowngrade: true},
			answer:   string(readTestdata(t, "install_update_incompatible.txt")),
			wantCall: "pm install -r -d /data/local/tmp/pos.apk",
			wantCode: platform.CodeUpdateIncompatible,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, r := newTestPlatform(t, map[string][]byte{tt.wantCall: []byte(tt.answer)}, nil)
			err := p.Install(context.Background(), "/data/local/tmp/pos.apk", tt.opt)
			gotCode := ""
			var ie *platform.InstallError
			if errors.As(err, &ie) {
				gotCode = ie.Code
			} else if err != nil {
				t.Fatalf("err = %v, want nil or *InstallError", err)
			}
			if diff := cmp.Diff(tt.wantCode, gotCode); diff != "" {
				t.Errorf("code mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{tt.wantCall}, r.calls); diff != "" {
				t.Errorf("calls mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewRequiresDataDir(t *testing.T) {
	_, err := New(Config{})
	want := "android: config: DataDir is empty; want the agent's data directory"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}
