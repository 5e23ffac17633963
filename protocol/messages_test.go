package protocol

import (
	"strings"
	"testing"
	_ "time/tzdata" // time zones in the tests do not depend on the machine

	"github.com/google/go-cmp/cmp"
)

func TestDeviceReportValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *DeviceReport)
		want   string // "" means valid
	}{
		{name: "golden report", change: func(r *DeviceReport) {}},
		{name: "ios without sdk or zone", change: func(r *DeviceReport) {
			r.Platform, r.SDK, r.TimeZone = PlatformIOS, 0, ""
		}},
		{name: "no apps", change: func(r *DeviceReport) { r.Apps = nil }},
		{name: "version 0", change: func(r *DeviceReport) { r.Version = 0 },
			want: "protocol: report: version: 0 is not supported; want 1"},
		{name: "version 2", change: func(r *DeviceReport) { r.Version = 2 },
			want: "protocol: report: version: 2 is not supported; want 1"},
		{name: "missing device id", change: func(r *DeviceReport) { r.DeviceID = "" },
			want: `report: deviceId: protocol: device id "": is empty; allowed: 1 to 128 bytes of letters, digits, '-', '_' and ':'`},
		{name: "device id with wildcard", change: func(r *DeviceReport) { r.DeviceID = "pos>" },
			want: `report: deviceId: protocol: device id "pos>": has '>' at byte 3; allowed: 1 to 128 bytes of letters, digits, '-', '_' and ':'`},
		{name: "unknown platform", change: func(r *DeviceReport) { r.Platform = "windows" },
			want: `protocol: report pos-berlin-01-0042: platform: "windows" is not one of android, ios`},
		{name: "missing platform", change: func(r *DeviceReport) { r.Platform = "" },
			want: `protocol: report pos-berlin-01-0042: platform: "" is not one of android, ios`},
		{name: "negative sdk", change: func(r *DeviceReport) { r.SDK = -1 },
			want: "protocol: report pos-berlin-01-0042: sdk: -1 is negative"},
		{name: "bad package", change: func(r *DeviceReport) { r.Apps["pos"] = InstalledApp{VersionCode: 1} },
			want: `protocol: report pos-berlin-01-0042: apps: package "pos" has only one segment; want dot-separated segments like com.example.app`},
		{name: "first bad package in sorted order", change: func(r *DeviceReport) {
			r.Apps["zz"] = InstalledApp{}
			r.Apps["aa"] = InstalledApp{}
		}, want: `protocol: report pos-berlin-01-0042: apps: package "aa" has only one segment; want dot-separated segments like com.example.app`},
		{name: "negative version code", change: func(r *DeviceReport) { r.Apps["com.pos.app"] = InstalledApp{VersionName: "1.0", VersionCode: -410} },
			want: "protocol: report pos-berlin-01-0042: apps[com.pos.app].versionCode: -410 is negative"},
		{name: "bad time zone", change: func(r *DeviceReport) { r.TimeZone = "Mars/Olympus_Mons" },
			want: `protocol: report pos-berlin-01-0042: timeZone: "Mars/Olympus_Mons" is not an IANA time zone`},
		{name: "offset is not a zone name", change: func(r *DeviceReport) { r.TimeZone = "+02:00" },
			want: `protocol: report pos-berlin-01-0042: timeZone: "+02:00" is not an IANA time zone`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := goldenReport()
			tt.change(r)
			got := ""
			if err := r.Validate(); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidatePackageName(t *testing.T) {
	const tail = "; want dot-separated segments like com.example.app"
	long := "com." + strings.Repeat("a", 251) // 255 bytes
	tests := []struct {
		name string
		pkg  string
		want string // "" means valid
	}{
		{name: "android", pkg: "com.example.app"},
		{name: "two segments", pkg: "a.b"},
		{name: "digits underscore dash inside", pkg: "com.Example_1.app-x2"},
		{name: "ios bundle id", pkg: "com.apple.Pages"},
		{name: "255 bytes", pkg: long},
		{name: "empty", pkg: "", want: `package "" is empty` + tail},
		{name: "256 bytes", pkg: long + "b", want: `package "` + long + `b" is longer than 255 bytes` + tail},
		{name: "one segment", pkg: "com", want: `package "com" has only one segment` + tail},
		{name: "leading dot", pkg: ".com.x", want: `package ".com.x" has an empty segment at byte 0` + tail},
		{name: "double dot", pkg: "com..x", want: `package "com..x" has an empty segment at byte 4` + tail},
		{name: "trailing dot", pkg: "com.x.", want: `package "com.x." ends with '.'` + tail},
		{name: "segment starts with digit", pkg: "com.1x", want: `package "com.1x" has a segment starting with '1' at byte 4` + tail},
		{name: "segment starts with underscore", pkg: "com._x", want: `package "com._x" has a segment starting with '_' at byte 4` + tail},
		{name: "first segment starts with dash", pkg: "-com.x", want: `package "-com.x" has a segment starting with '-' at byte 0` + tail},
		{name: "space", pkg: "com.x y", want: `package "com.x y" has ' ' at byte 5` + tail},
		{name: "slash", pkg: "com/x.y", want: `package "com/x.y" has '/' at byte 3` + tail},
		{name: "unicode", pkg: "com.kölsch", want: `package "com.kölsch" has 'ö' at byte 5` + tail},
		{name: "newline", pkg: "com.x\n", want: `package "com.x\n" has '\n' at byte 5` + tail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := ValidatePackageName(tt.pkg); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ValidatePackageName(%q) (-want +got):\n%s", tt.pkg, diff)
			}
		})
	}
}

func TestDirectiveDecision(t *testing.T) {
	d := goldenDirective()
	got, ok := d.Decision("com.pos.payments")
	if diff := cmp.Diff(true, ok); diff != "" {
		t.Fatalf("found (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(d.Decisions[3], got); diff != "" {
		t.Errorf("decision (-want +got):\n%s", diff)
	}
	got, ok = d.Decision("com.not.there")
	if diff := cmp.Diff(Decision{}, got); ok || diff != "" {
		t.Errorf("Decision(com.not.there) = %v, %v; want none", got, ok)
	}
}
