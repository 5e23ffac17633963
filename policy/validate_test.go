package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/protocol"
)

func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func validPolicy() UpdatePolicy {
	start := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(1, 0, 0)
	return UpdatePolicy{
		App:               "com.example.pos",
		Platforms:         []string{"android", "ios"},
		Channels:          []string{"stable", "beta-1"},
		Track:             "production",
		Mode:              protocol.ModePostponed,
		PostponeDays:      90,
		Eligible:          &Eligible{VersionName: ">=4.3.3, <=5.0.0", MinVersionCode: 10, MaxVersionCode: 500},
		ExcludedVersions:  []string{"4.9.1"},
		Target:            &TargetSpec{VersionPrefix: "5.1", AllowDowngrade: true},
		MinClientVersion:  "1.4.0",
		Effective:         &Effective{Start: &start, End: &end},
		MaintenanceWindow: &protocol.MaintenanceWindow{Start: "22:00", End: "05:00"},
		Prompt:            &PromptSpec{Closable: true, DailyFrequency: 3, Text: "A new version is ready", Button: ButtonOpenStore, ForceAfter: "7d"},
		Rollout:           &RolloutSpec{Percent: 12.5},
		InstallType:       InstallForceInstalled,
	}
}

func TestUpdatePolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *UpdatePolicy)
		want   []string
	}{
		{name: "valid", change: func(p *UpdatePolicy) {}},
		{name: "zero values except app", change: func(p *UpdatePolicy) { *p = UpdatePolicy{App: "com.example.pos"} }},
		{name: "missing app", change: func(p *UpdatePolicy) { p.App = "" },
			want: []string{"app: is missing; allowed: a package name of dot-separated segments such as com.example.app"}},
		{name: "bad app", change: func(p *UpdatePolicy) { p.App = "pos" },
			want: []string{`app: "pos" is not a package name of dot-separated segments such as com.example.app`}},
		{name: "bad and duplicate platform", change: func(p *UpdatePolicy) { p.Platforms = []string{"windows", "ios", "ios"} },
			want: []string{
				`platforms[0]: "windows" is not one of android, ios`,
				`platforms[2]: "ios" is listed twice`,
			}},
		{name: "bad channel and track", change: func(p *UpdatePolicy) { p.Channels = []string{""}; p.Track = "pro duction" },
			want: []string{
				`channels[0]: "" is not 1 to 128 letters, digits, '.', '-' and '_'`,
				`track: "pro duction" is not 1 to 128 letters, digits, '.', '-' and '_'`,
			}},
		{name: "bad mode", change: func(p *UpdatePolicy) { p.Mode = "fast" },
			want: []string{`mode: "fast" is not one of default, highPriority, postponed`}},
		{name: "postponeDays out of range", change: func(p *UpdatePolicy) { p.PostponeDays = 3651 },
			want: []string{"postponeDays: 3651 is not between 1 and 3650 days"}},
		{name: "negative postponeDays", change: func(p *UpdatePolicy) { p.PostponeDays = -1 },
			want: []string{"postponeDays: -1 is not between 1 and 3650 days"}},
		{name: "bad constraint", change: func(p *UpdatePolicy) { p.Eligible.VersionName = ">=4.x.y, <<5" },
			want: []string{`eligible.versionName: ">=4.x.y, <<5" is not a semver constraint such as ">=4.3.3, <=5.0.0"`}},
		{name: "min above max", change: func(p *UpdatePolicy) { p.Eligible.MinVersionCode = 600 },
			want: []string{"eligible.minVersionCode: 600 is above eligible.maxVersionCode 500; allowed: minVersionCode <= maxVersionCode"}},
		{name: "negative codes", change: func(p *UpdatePolicy) { p.Eligible.MinVersionCode = -1; p.Eligible.MaxVersionCode = -2 },
			want: []string{
				"eligible.minVersionCode: -1 is not a versionCode of 0 or more",
				"eligible.maxVersionCode: -2 is not a versionCode of 0 or more (0: no maximum)",
			}},
		{name: "bad excluded version", change: func(p *UpdatePolicy) { p.ExcludedVersions = []string{"4.9.1", "four"} },
			want: []string{`excludedVersions[1]: "four" is not a version such as "5.1.0"`}},
		{name: "version and prefix", change: func(p *UpdatePolicy) { p.Target.Version = "5.0.0" },
			want: []string{`target.versionPrefix: "5.1" is set together with target.version "5.0.0"; allowed: only one of version, versionPrefix`}},
		{name: "bad prefix", change: func(p *UpdatePolicy) { p.Target.VersionPrefix = "5.x" },
			want: []string{`target.versionPrefix: "5.x" is not a dotted version prefix of numbers such as "5" or "5.1"`}},
		{name: "prefix with trailing dot", change: func(p *UpdatePolicy) { p.Target.VersionPrefix = "5." },
			want: []string{`target.versionPrefix: "5." is not a dotted version prefix of numbers such as "5" or "5.1"`}},
		{name: "bad pinned version", change: func(p *UpdatePolicy) { p.Target = &TargetSpec{Version: "latest"} },
			want: []string{`target.version: "latest" is not a version such as "5.1.0"`}},
		{name: "downgrade without pin", change: func(p *UpdatePolicy) { p.Target = &TargetSpec{AllowDowngrade: true} },
			want: []string{"target.allowDowngrade: true has no pinned version to go down to; allowed: true only with target.version or target.versionPrefix"}},
		{name: "bad minClientVersion", change: func(p *UpdatePolicy) { p.MinClientVersion = "one" },
			want: []string{`minClientVersion: "one" is not a version such as "5.1.0"`}},
		{name: "effective end before start", change: func(p *UpdatePolicy) { p.Effective.Start, p.Effective.End = p.Effective.End, p.Effective.Start },
			want: []string{"effective.end: 2025-05-01T00:00:00Z is not after effective.start 2026-05-01T00:00:00Z; allowed: an end later than the start"}},
		{name: "window hour 25", change: func(p *UpdatePolicy) { p.MaintenanceWindow.Start = "25:00" },
			want: []string{`maintenanceWindow.start: "25:00" is not a local time HH:MM from 00:00 to 23:59`}},
		{name: "window one-sided", change: func(p *UpdatePolicy) { p.MaintenanceWindow.End = "" },
			want: []string{"maintenanceWindow.end: is missing; allowed: a local time HH:MM from 00:00 to 23:59"}},
		{name: "window empty", change: func(p *UpdatePolicy) { p.MaintenanceWindow.End = "22:00" },
			want: []string{`maintenanceWindow.end: "22:00" equals maintenanceWindow.start (an empty window); allowed: an end different from the start; an end before the start wraps midnight`}},
		{name: "window bad format", change: func(p *UpdatePolicy) { p.MaintenanceWindow.End = "5:00" },
			want: []string{`maintenanceWindow.end: "5:00" is not a local time HH:MM from 00:00 to 23:59`}},
		{name: "prompt problems", change: func(p *UpdatePolicy) {
			p.Prompt = &PromptSpec{Closable: true, DailyFrequency: 25, Text: strings.Repeat("é", 1001), Button: "later", ForceAfter: "-3d"}
		},
			want: []string{
				"prompt.dailyFrequency: 25 is not between 0 and 24 times a day",
				"prompt.text: is 1001 characters long; allowed: at most 1000 characters",
				`prompt.button: "later" is not one of updateApp, openStore`,
				`prompt.forceAfter: "-3d" is not a positive Go duration such as "36h" or a number of days such as "7d"`,
			}},
		{name: "force and closable", change: func(p *UpdatePolicy) { p.Force = true },
			want: []string{"prompt.closable: true contradicts force: true (a forced prompt cannot be closed); allowed: false when force is set"}},
		{name: "rollout 150", change: func(p *UpdatePolicy) { p.Rollout.Percent = 150 },
			want: []string{"rollout.percent: 150 is not between 0 and 100"}},
		{name: "bad installType", change: func(p *UpdatePolicy) { p.InstallType = "always" },
			want: []string{`installType: "always" is not one of updateOnly, forceInstalled`}},
		{name: "every problem reported", change: func(p *UpdatePolicy) { p.Mode = "fast"; p.Rollout.Percent = -1; p.InstallType = "x" },
			want: []string{
				`mode: "fast" is not one of default, highPriority, postponed`,
				"rollout.percent: -1 is not between 0 and 100",
				`installType: "x" is not one of updateOnly, forceInstalled`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPolicy()
			tt.change(&p)
			err := p.Validate()
			if diff := cmp.Diff(tt.want, errLines(err)); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidField) {
					t.Errorf("errors.Is(%v, ErrInvalidField) = false", err)
				}
				if got := len(FieldErrors(err)); got != len(tt.want) {
					t.Errorf("FieldErrors() has %d errors, want %d", got, len(tt.want))
				}
			}
		})
	}
}

func validRelease() Release {
	return Release{
		App:         "com.example.pos",
		VersionName: "5.1.0",
		VersionCode: 510,
		Track:       "beta",
		PublishedAt: time.Date(2025, 5, 2, 9, 0, 0, 0, time.UTC),
		Artifact: protocol.Artifact{
			URLs:         []string{"https://cdn.example.com/pos-5.1.0.apk", "http://mirror.example.com/pos.apk"},
			SHA256:       strings.Repeat("ab", 32),
			Size:         1 << 20,
			SignerSHA256: []string{strings.Repeat("0f", 32)},
			MinSDK:       24,
		},
		ReleaseNotes: "Faster checkout.",
	}
}

func TestReleaseValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *Release)
		want   []string
	}{
		{name: "valid", change: func(r *Release) {}},
		{name: "ios release with store id only", change: func(r *Release) { r.Artifact = protocol.Artifact{}; r.AppStoreID = "1234567890" }},
		{name: "no artifact and no store id", change: func(r *Release) { r.Artifact = protocol.Artifact{} },
			want: []string{
				"artifact.urls: is missing; allowed: one or more absolute http or https URLs (or only an appStoreId, for an iOS release)",
				`artifact.sha256: "" is not 64 lowercase hex digits (a SHA-256)`,
				"artifact.size: 0 is not a positive size in bytes",
			}},
		{name: "identity", change: func(r *Release) { r.App = "com..pos"; r.VersionName = ""; r.VersionCode = 0 },
			want: []string{
				`app: "com..pos" is not a package name of dot-separated segments such as com.example.app`,
				"versionName: is missing; allowed: a version name such as 5.1.0",
				"versionCode: 0 is not a positive versionCode",
			}},
		{name: "versionName with space", change: func(r *Release) { r.VersionName = "5.1 beta" },
			want: []string{`versionName: "5.1 beta" is not a version name of at most 128 characters without spaces`}},
		{name: "bad urls", change: func(r *Release) { r.Artifact.URLs = []string{"ftp://x.example.com/a.apk", "/relative.apk", "https://"} },
			want: []string{
				`artifact.urls[0]: "ftp://x.example.com/a.apk" is not an absolute http or https URL`,
				`artifact.urls[1]: "/relative.apk" is not an absolute http or https URL`,
				`artifact.urls[2]: "https://" is not an absolute http or https URL`,
			}},
		{name: "uppercase sha", change: func(r *Release) { r.Artifact.SHA256 = strings.Repeat("AB", 32) },
			want: []string{`artifact.sha256: "` + strings.Repeat("AB", 32) + `" is not 64 lowercase hex digits (a SHA-256)`}},
		{name: "short signer, negative minSdk and size", change: func(r *Release) {
			r.Artifact.SignerSHA256 = []string{"abc"}
			r.Artifact.MinSDK = -1
			r.Artifact.Size = -5
		},
			want: []string{
				"artifact.size: -5 is not a positive size in bytes",
				`artifact.signerSha256[0]: "abc" is not 64 lowercase hex digits (a SHA-256)`,
				"artifact.minSdk: -1 is not an SDK level of 0 or more",
			}},
		{name: "bad app store id and notes", change: func(r *Release) {
			r.AppStoreID = "id123"
			r.ReleaseNotes = strings.Repeat("x", MaxReleaseNotesLen+1)
		},
			want: []string{
				"releaseNotes: is 10001 characters long; allowed: at most 10000 characters",
				`appStoreId: "id123" is not the numeric App Store id, digits only`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRelease()
			tt.change(&r)
			if diff := cmp.Diff(tt.want, errLines(r.Validate())); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeviceValidate(t *testing.T) {
	valid := func() Device {
		return Device{
			ID:           "pos-0001",
			Labels:       map[string]string{"store": "berlin-01"},
			Platform:     "android",
			SDK:          30,
			AgentVersion: "1.4.0",
			Channel:      "stable",
			TimeZone:     "Europe/Berlin",
			Apps: map[string]protocol.InstalledApp{
				"com.example.pos": {VersionName: "5.0.0", VersionCode: 500, SignerSHA256: []string{strings.Repeat("0f", 32)}},
			},
			State: protocol.DeviceState{Unmetered: true, ForegroundApp: "com.example.pos", FreeStorage: 1 << 30},
		}
	}
	tests := []struct {
		name   string
		change func(d *Device)
		want   []string
	}{
		{name: "valid", change: func(d *Device) {}},
		{name: "bad id", change: func(d *Device) { d.ID = "pos.1" },
			want: []string{`id: "pos.1" has '.' at byte 3; allowed: 1 to 128 bytes of letters, digits, '-', '_' and ':'`}},
		{name: "empty id", change: func(d *Device) { d.ID = "" },
			want: []string{`id: "" is empty; allowed: 1 to 128 bytes of letters, digits, '-', '_' and ':'`}},
		{name: "platform and sdk", change: func(d *Device) { d.Platform = "linux"; d.SDK = -1 },
			want: []string{`platform: "linux" is not one of android, ios`, "sdk: -1 is not an SDK level of 0 or more"}},
		{name: "time zone", change: func(d *Device) { d.TimeZone = "Mars/Olympus" },
			want: []string{`timeZone: "Mars/Olympus" is not an IANA time zone such as "Europe/Berlin"`}},
		{name: "agent version and channel", change: func(d *Device) { d.AgentVersion = "new"; d.Channel = "a b" },
			want: []string{
				`agentVersion: "new" is not a version such as "5.1.0"`,
				`channel: "a b" is not 1 to 128 letters, digits, '.', '-' and '_'`,
			}},
		{name: "apps", change: func(d *Device) {
			d.Apps["pos"] = protocol.InstalledApp{VersionCode: -1}
			d.Apps["com.example.kiosk"] = protocol.InstalledApp{SignerSHA256: []string{"zz"}}
		},
			want: []string{
				`apps[com.example.kiosk].signerSha256[0]: "zz" is not 64 lowercase hex digits (a SHA-256)`,
				`apps[pos]: "pos" is not a package name of dot-separated segments such as com.example.app`,
				"apps[pos].versionCode: -1 is not a versionCode of 0 or more",
			}},
		{name: "state", change: func(d *Device) { d.State.ForegroundApp = "launcher"; d.State.FreeStorage = -1 },
			want: []string{
				`state.foregroundApp: "launcher" is not a package name of dot-separated segments such as com.example.app`,
				"state.freeStorage: -1 is not a number of bytes, 0 or more",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := valid()
			tt.change(&d)
			if diff := cmp.Diff(tt.want, errLines(d.Validate())); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseForceAfter(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr string
	}{
		{name: "days", in: "7d", want: 7 * 24 * time.Hour},
		{name: "hours", in: "36h", want: 36 * time.Hour},
		{name: "compound duration", in: "1h30m", want: 90 * time.Minute},
		{name: "zero", in: "0d", wantErr: `forceAfter: "0d" is not a positive Go duration such as "36h" or a number of days such as "7d"`},
		{name: "negative", in: "-1h", wantErr: `forceAfter: "-1h" is not a positive Go duration such as "36h" or a number of days such as "7d"`},
		{name: "fraction of days", in: "1.5d", wantErr: `forceAfter: "1.5d" is not a positive Go duration such as "36h" or a number of days such as "7d"`},
		{name: "overflowing days", in: "999999999999d", wantErr: `forceAfter: "999999999999d" is not a positive Go duration such as "36h" or a number of days such as "7d"`},
		{name: "word", in: "week", wantErr: `forceAfter: "week" is not a positive Go duration such as "36h" or a number of days such as "7d"`},
		{name: "empty", in: "", wantErr: `forceAfter: "" is not a positive Go duration such as "36h" or a number of days such as "7d"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseForceAfter(tt.in)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tt.wantErr, gotErr); diff != "" {
				t.Errorf("ParseForceAfter(%q) error mismatch (-want +got):\n%s", tt.in, diff)
			}
			if got != tt.want {
				t.Errorf("ParseForceAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseClock(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
		ok   bool
	}{
		{name: "midnight", in: "00:00", want: 0, ok: true},
		{name: "last minute", in: "23:59", want: 23*60 + 59, ok: true},
		{name: "hour 24", in: "24:00"},
		{name: "minute 60", in: "12:60"},
		{name: "single digit hour", in: "7:30"},
		{name: "seconds", in: "07:30:00"},
		{name: "signs", in: "+1:30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseClock(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("ParseClock(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestIsVersionPrefix(t *testing.T) {
	got := map[string]bool{}
	for _, s := range []string{"5", "5.1", "5.1.0", "", "5.", ".5", "v5", "5.x", "1234567890"} {
		got[s] = IsVersionPrefix(s)
	}
	want := map[string]bool{"5": true, "5.1": true, "5.1.0": true, "": false, "5.": false, ".5": false, "v5": false, "5.x": false, "1234567890": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("IsVersionPrefix mismatch (-want +got):\n%s", diff)
	}
}
