package android

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sluice-mdm/sluice/agent/platform"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCharging(t *testing.T) {
	tests := []struct {
		name string
		file string
		want bool
	}{
		{name: "pre-7 AC charging", file: "battery_pre7_ac_charging.txt", want: true},
		{name: "android 7 Pixel C on AC", file: "battery_android7_pixelc_ac.txt", want: true},
		{name: "samsung on USB, full (status 5)", file: "battery_samsung_usb_full.txt", want: true},
		{name: "samsung on USB, charging", file: "battery_samsung_usb_charging.txt", want: true},
		{name: "android 14 AC, not charging (status 4) still plugged", file: "battery_android14_dock_fields.txt", want: true},
		{name: "unplugged console", file: "battery_console_unplugged.txt", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCharging(readTestdata(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("charging mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseChargingUnrecognized(t *testing.T) {
	tests := []struct {
		name string
		out  string
	}{
		{name: "permission denial", out: "Permission Denial: can't dump Battery service from from pid=1, uid=10149 due to missing android.permission.DUMP permission\n"},
		{name: "bad status", out: "Current Battery Service state:\n  status: charging\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCharging([]byte(tt.out))
			if !errors.Is(err, ErrUnrecognized) {
				t.Fatalf("err = %v, want ErrUnrecognized", err)
			}
		})
	}
}

func TestParseUnmetered(t *testing.T) {
	tests := []struct {
		name    string
		out     []byte
		want    bool
		wantErr bool
	}{
		{
			// The capture was trimmed before the record of network 231, so
			// the parser must say so rather than guess.
			name:    "android 13, active network record missing",
			out:     readTestdata(t, "connectivity_android13_trimmed.txt"),
			wantErr: true,
		},
		{
			// The capture was cut before the record's nc{...} part.
			name: "android 13 mobile record without capabilities",
			out: append([]byte("Active default network: 225\n\nCurrent Networks:\n"),
				readTestdata(t, "connectivity_android13_mobile_record.txt")...),
			wantErr: true,
		},
		{
			name: "android 7 samsung wifi record without NOT_METERED, wrapped",
			out: append([]byte("Active default network: 727\n\nCurrent Networks:\n  "),
				readTestdata(t, "connectivity_android7_wifi_record.txt")...),
			want: true,
		},
		{
			name: "same wifi record, another network active",
			out: append([]byte("Active default network: 728\n\nCurrent Networks:\n  "),
				readTestdata(t, "connectivity_android7_wifi_record.txt")...),
			wantErr: true,
		},
		{name: "no active network", out: []byte("Active default network: none\n\nCurrent Networks:\n"), want: false},
		{name: "not a connectivity dump", out: []byte("Can't find service: connectivity\n"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseUnmetered(tt.out)
			if tt.wantErr {
				if !errors.Is(err, ErrUnrecognized) {
					t.Fatalf("err = %v, want ErrUnrecognized", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unmetered mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePower(t *testing.T) {
	tests := []struct {
		name string
		file string
		want interactivity
	}{
		{name: "samsung awake", file: "power_samsung_awake.txt", want: interactive},
		{name: "awake holding display blocker", file: "power_awake_display_blocker.txt", want: interactive},
		{name: "dozing on USB", file: "power_dozing_usb.txt", want: notInteractive},
		{name: "android 4.4 mScreenOn", file: "power_android44_display_state.txt", want: interactive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parsePower(readTestdata(t, tt.file))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("interactivity mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIdle(t *testing.T) {
	inactive := parseDeviceIdle(readTestdata(t, "deviceidle_android6_inactive.txt"))
	if diff := cmp.Diff(deviceIdle{}, inactive, cmp.AllowUnexported(deviceIdle{})); diff != "" {
		t.Fatalf("deviceidle INACTIVE mismatch (-want +got):\n%s", diff)
	}
	tests := []struct {
		name  string
		power string
		doze  deviceIdle
		want  bool
	}{
		{name: "awake, doze inactive", power: "power_samsung_awake.txt", doze: inactive, want: false},
		{name: "dozing", power: "power_dozing_usb.txt", doze: inactive, want: true},
		{name: "awake but deep idle", power: "power_awake_display_blocker.txt", doze: deviceIdle{deepIdle: true}, want: true},
		{name: "power silent, deviceidle screen off", power: "battery_console_unplugged.txt", doze: deviceIdle{screen: notInteractive}, want: true},
		{name: "power silent, nothing known", power: "battery_console_unplugged.txt", doze: inactive, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := idle(parsePower(readTestdata(t, tt.power)), tt.doze)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("idle mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseForeground(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string
	}{
		{name: "mResumedActivity", file: "activities_old_resumed.txt", want: "com.xtc.watch"},
		{name: "samsung 7, wrapped, no resumed line", file: "activities_android7_samsung_wrapped.txt", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseForeground(readTestdata(t, tt.file))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("foreground mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// Line shapes printed by ActivityTaskManagerService (Android 10+) and
// PowerManagerService when asleep, written inline: no public capture of
// them was found (see testdata/SOURCES.md).
func TestParseShapesWithoutCapture(t *testing.T) {
	if got := parseForeground([]byte("  ResumedActivity: ActivityRecord{3c5bd63 u0 com.example.pos/.MainActivity t42}\n")); got != "com.example.pos" {
		t.Errorf("ResumedActivity: got %q, want com.example.pos", got)
	}
	if got := parseForeground([]byte("    topResumedActivity=ActivityRecord{3c5bd63 u0 com.example.pos/.MainActivity t42}\n")); got != "com.example.pos" {
		t.Errorf("topResumedActivity: got %q, want com.example.pos", got)
	}
	if got := parsePower([]byte("Power Manager State:\n  mWakefulness=Asleep\n")); got != notInteractive {
		t.Errorf("Asleep: got %v, want notInteractive", got)
	}
	if got := parsePower([]byte("Display Power: state=OFF\n")); got != notInteractive {
		t.Errorf("Display Power OFF: got %v, want notInteractive", got)
	}
	if got := parseDeviceIdle([]byte("  mLightState=OVERRIDE mState=IDLE mLightState=OVERRIDE\n")); !got.deepIdle {
		t.Errorf("mState=IDLE: deepIdle = false, want true")
	}
}

func TestParsePackageDump(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parsePackageDump(readTestdata(t, "package_android9_gnirehtet.txt"), "com.genymobile.gnirehtet", berlin)
	if err != nil {
		t.Fatal(err)
	}
	want := packageDetails{
		VersionCode: 6,
		VersionName: "2.3",
		MinSDK:      21,
		UpdatedAt:   time.Date(2019, 6, 6, 13, 19, 5, 0, berlin),
		CodePath:    "/data/app/com.genymobile.gnirehtet-eXRMpOp2Z3lxMs_FH81Z_A==",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("details mismatch (-want +got):\n%s", diff)
	}
	if _, err := parsePackageDump(readTestdata(t, "package_android9_gnirehtet.txt"), "com.example.other", berlin); !errors.Is(err, ErrUnrecognized) {
		t.Errorf("other package: err = %v, want ErrUnrecognized", err)
	}
}

func TestParseInstall(t *testing.T) {
	tests := []struct {
		name string
		file string
		want *platform.InstallError
	}{
		{name: "signatures do not match previously installed", file: "install_update_incompatible.txt", want: &platform.InstallError{Code: "INSTALL_FAILED_UPDATE_INCOMPATIBLE", Message: "Package io.mosip.registration_client signatures do not match previously installed version; ignoring!"}},
		{name: "existing package signatures do not match newer", file: "install_update_incompatible_newer.txt", want: &platform.InstallError{Code: "INSTALL_FAILED_UPDATE_INCOMPATIBLE", Message: "Existing package com.google.android.dialer signatures do not match newer version; ignoring!"}},
		{name: "downgrade detected", file: "install_version_downgrade.txt", want: &platform.InstallError{Code: "INSTALL_FAILED_VERSION_DOWNGRADE", Message: "Downgrade detected: Update version code 34 is older than current 35"}},
		{name: "downgrade bare", file: "install_version_downgrade_bare.txt", want: &platform.InstallError{Code: "INSTALL_FAILED_VERSION_DOWNGRADE"}},
		{name: "older sdk", file: "install_older_sdk.txt", want: &platform.InstallError{Code: "INSTALL_FAILED_OLDER_SDK", Message: "Failed parse during installPackageLI: /data/app/vmdl1494519651.tmp/base.apk (at Binary XML file line #7): Requires newer sdk version #31 (current version is #30)"}},
		{name: "no certificates", file: "install_no_certificates.txt", want: &platform.InstallError{Code: "INSTALL_PARSE_FAILED_NO_CERTIFICATES", Message: "Failed to collect certificates from /data/app/vmdl425632899.tmp/base.apk: Attempt to get length of null array"}},
		{name: "v2 digest did not verify", file: "install_no_certificates_v2_digest.txt", want: &platform.InstallError{Code: "INSTALL_PARSE_FAILED_NO_CERTIFICATES", Message: "Failed to collect certificates from /data/app/vmdl1503297051.tmp/base.apk using APK Signature Scheme v2: SHA-256 digest of contents did not verify"}},
		{name: "insufficient storage", file: "install_insufficient_storage.txt", want: &platform.InstallError{Code: "INSTALL_FAILED_INSUFFICIENT_STORAGE", Message: "Package couldn't be installed in /data/app/com.yourcompany.flavors-1: Creating application package com.yourcompany.flavors failed"}},
		{name: "not enough space exception", file: "install_not_enough_space_exception.txt", want: &platform.InstallError{Code: "INSTALL_FAILED_INSUFFICIENT_STORAGE", Message: "android.os.ParcelableException: java.io.IOException: Requested internal only, but not enough space"}},
		{name: "any other code passes through", file: "install_conflicting_provider.txt", want: &platform.InstallError{Code: "INSTALL_FAILED_CONFLICTING_PROVIDER", Message: "Scanning Failed.: Can't install because provider name com.android.dialer.callscreen.impl.speechrecognition.provider (in package com.google.android.dialer.revanced) is already used by com.google.android.dialer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseInstall(readTestdata(t, tt.file))
			var got *platform.InstallError
			if !errors.As(err, &got) {
				t.Fatalf("err = %v, want *platform.InstallError", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("install error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseInstallSuccess(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want error
	}{
		{name: "streamed install", out: "Performing Streamed Install\nSuccess\n", want: nil},
		{name: "empty output", out: "", want: &platform.InstallError{Code: platform.CodeInternalError, Message: "pm install printed nothing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseInstall([]byte(tt.out))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePackageList(t *testing.T) {
	// Line shapes from PackageManagerShellCommand.runListPackages: the
	// versionCode suffix was added in Android 8.
	got, err := parsePackageList([]byte("package:com.android.settings versionCode:29\npackage:com.example.pos\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []listedPackage{{Name: "com.android.settings", VersionCode: 29}, {Name: "com.example.pos"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("list mismatch (-want +got):\n%s", diff)
	}
}

func TestParsePackagePath(t *testing.T) {
	got, err := parsePackagePath([]byte("package:/data/app/x/base.apk\npackage:/data/app/x/split_config.arm64_v8a.apk\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("/data/app/x/base.apk", got); diff != "" {
		t.Errorf("path mismatch (-want +got):\n%s", diff)
	}
}
