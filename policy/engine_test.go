package policy

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/sluice-mdm/sluice/protocol"
)

// TestDecide covers every reason code, every mode and every action, and
// compares whole decisions (all but the DecisionID, a digest tested
// elsewhere).
func TestDecide(t *testing.T) {
	e := newTestEngine(t)
	for _, tc := range decideCases() {
		t.Run(tc.name, func(t *testing.T) {
			req := baseRequest()
			tc.req(&req)
			got := decide(t, e, req)
			want := tc.want
			want.Device, want.App, want.EvaluatedAt = testDevice, testApp, testAt
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Decision{}, "DecisionID")); diff != "" {
				t.Errorf("decision mismatch (-want +got):\n%s", diff)
			}
			if len(got.DecisionID) != 32 {
				t.Errorf("DecisionID = %q, want 32 hex digits", got.DecisionID)
			}
		})
	}
}

// decideCase is one case of the decision table: a change to baseRequest
// and the whole decision it must give.
type decideCase struct {
	name string
	req  func(r *Request)
	want Decision
}

// decideCases is the decision table of TestDecide.
func decideCases() []decideCase {
	bucket := RolloutBucket(testPolicy, testDevice)
	notIn := float64(bucket) / 100    // bucket == percent*100: not below it
	justIn := float64(bucket+1) / 100 // bucket < percent*100
	rel517 := release("5.1.7", 517, day(2025, time.May, 5), 24)
	rel600 := release("5.10.0", 600, day(2025, time.May, 6), 24)
	iosRel := rel510
	iosRel.AppStoreID = "1234567"
	window := &protocol.MaintenanceWindow{Start: "22:00", End: "05:00"}
	const wifiChargingIdle = "it installs when the device is on Wi-Fi, charging and idle and the app is not in use."

	return []decideCase{
		{
			name: "no policy",
			req:  func(r *Request) { r.Policy = nil; r.PolicyName = ""; r.PolicyRevision = 0 },
			want: Decision{Action: protocol.ActionNone, Reasons: reasons("NO_POLICY", "No update policy applies to com.example.pos on this device.")},
		},
		{
			name: "before the effective window",
			req:  func(r *Request) { r.Policy.Effective = &Effective{Start: timePtr(day(2025, time.June, 1))} },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("OUTSIDE_EFFECTIVE_WINDOW", "Policy pos-stable takes effect on 1 June 2025; until then it changes nothing.")},
		},
		{
			name: "at the end of the effective window",
			req:  func(r *Request) { r.Policy.Effective = &Effective{End: timePtr(testAt)} },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("OUTSIDE_EFFECTIVE_WINDOW", "Policy pos-stable stopped applying on 20 May 2025 10:00 UTC.")},
		},
		{
			name: "inside the effective window",
			req: func(r *Request) {
				r.Policy.Effective = &Effective{Start: timePtr(day(2025, time.May, 1)), End: timePtr(day(2025, time.June, 1))}
			},
			want: Decision{Action: protocol.ActionInstall, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510),
				InstallType: "updateOnly", Constraints: allConstraints,
				Reasons: reasons("UPDATE_AVAILABLE", "Version 5.1.0 (510) is available; "+wifiChargingIdle)},
		},
		{
			name: "platform mismatch",
			req:  func(r *Request) { r.Policy.Platforms = []string{"ios"} },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("PLATFORM_MISMATCH", "Policy pos-stable applies to ios devices; this device runs android.")},
		},
		{
			name: "channel mismatch",
			req:  func(r *Request) { r.Policy.Channels = []string{"beta", "canary"} },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("CHANNEL_MISMATCH", "Policy pos-stable applies to devices on the beta or canary channel; this device is on stable.")},
		},
		{
			name: "not installed, update only",
			req:  func(r *Request) { r.Device.Apps = nil },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("NOT_INSTALLED", "com.example.pos is not installed on this device, and policy pos-stable only updates apps that are installed.")},
		},
		{
			name: "not installed, force installed",
			req:  func(r *Request) { r.Device.Apps = nil; r.Policy.InstallType = InstallForceInstalled },
			want: Decision{Action: protocol.ActionInstall, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510),
				InstallType: "forceInstalled", Constraints: allConstraints,
				Reasons: reasons("UPDATE_AVAILABLE", "com.example.pos is not installed, and policy pos-stable installs it: version 5.1.0 (510); "+wifiChargingIdle)},
		},
		{
			name: "installed version below the eligible constraint",
			req:  func(r *Request) { r.Policy.Eligible = &Eligible{VersionName: ">=5.0.1, <=6.0.0"} },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("NOT_IN_ELIGIBLE_RANGE", "Installed version 5.0.0 (500) is outside the versions policy pos-stable updates (>=5.0.1, <=6.0.0).")},
		},
		{
			name: "installed version inside the eligible constraint",
			req: func(r *Request) {
				r.Policy.Eligible = &Eligible{VersionName: ">=4.3.3, <=5.0.0", MinVersionCode: 433, MaxVersionCode: 500}
			},
			want: Decision{Action: protocol.ActionInstall, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510),
				InstallType: "updateOnly", Constraints: allConstraints,
				Reasons: reasons("UPDATE_AVAILABLE", "Version 5.1.0 (510) is available; "+wifiChargingIdle)},
		},
		{
			name: "installed version code below the minimum",
			req:  func(r *Request) { r.Policy.Eligible = &Eligible{MinVersionCode: 501} },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("NOT_IN_ELIGIBLE_RANGE", "Installed version 5.0.0 (500) is below version code 501, the lowest that policy pos-stable updates.")},
		},
		{
			name: "installed version code above the maximum",
			req:  func(r *Request) { r.Policy.Eligible = &Eligible{MaxVersionCode: 499} },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("NOT_IN_ELIGIBLE_RANGE", "Installed version 5.0.0 (500) is above version code 499, the highest that policy pos-stable updates.")},
		},
		{
			name: "installed version name is not a version",
			req: func(r *Request) {
				r.Device.Apps = installed("build-42", 500, day(2025, time.March, 3))
				r.Policy.Eligible = &Eligible{VersionName: ">=4.0"}
			},
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("NOT_IN_ELIGIBLE_RANGE", `Policy pos-stable cannot check installed version build-42 (500) against its eligible range ">=4.0": "build-42" is not a version.`)},
		},
		{
			name: "installed version excluded, equal as a semantic version",
			req:  func(r *Request) { r.Policy.ExcludedVersions = []string{"4.9.9", "5.0"} },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("EXCLUDED_VERSION", "Installed version 5.0.0 (500) is excluded from updates by policy pos-stable.")},
		},
		{
			name: "excluded release is skipped as a target",
			req:  func(r *Request) { r.Policy.ExcludedVersions = []string{"5.1.0"} },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("UP_TO_DATE", "Installed version 5.0.0 (500) is the latest release on the production track.")},
		},
		{
			name: "no release on the policy's track",
			req:  func(r *Request) { r.Policy.Track = "canary" },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("NO_NEWER_RELEASE", "No release of com.example.pos that policy pos-stable allows is published on the canary track yet.")},
		},
		{
			name: "beta track",
			req:  func(r *Request) { r.Policy.Track = "beta" },
			want: Decision{Action: protocol.ActionInstall, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel520),
				InstallType: "updateOnly", Constraints: allConstraints,
				Reasons: reasons("UPDATE_AVAILABLE", "Version 5.2.0-beta.1 (520) is available; "+wifiChargingIdle)},
		},
		{
			name: "pinned version not published",
			req:  func(r *Request) { r.Policy.Target = &TargetSpec{Version: "6.0.0"} },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("NO_NEWER_RELEASE", "Version 6.0.0, which policy pos-stable pins, is not published on the production track.")},
		},
		{
			name: "pinned version not published yet",
			req:  func(r *Request) { r.Policy.Target = &TargetSpec{Version: "5.3.0"} },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("NO_NEWER_RELEASE", "Version 5.3.0, which policy pos-stable pins, is not published on the production track.")},
		},
		{
			name: "version prefix matches nothing",
			req:  func(r *Request) { r.Policy.Target = &TargetSpec{VersionPrefix: "7"} },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("NO_NEWER_RELEASE", "No version starting with 7 is published on the production track.")},
		},
		{
			name: "version prefix 5.1 takes 5.1.7, not 5.10.0",
			req: func(r *Request) {
				r.Releases = append(r.Releases, rel517, rel600)
				r.Policy.Target = &TargetSpec{VersionPrefix: "5.1"}
			},
			want: Decision{Action: protocol.ActionInstall, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel517),
				InstallType: "updateOnly", Constraints: allConstraints,
				Reasons: reasons("UPDATE_AVAILABLE", "Version 5.1.7 (517) is available; "+wifiChargingIdle)},
		},
		{
			name: "latest takes 5.10.0",
			req:  func(r *Request) { r.Releases = append(r.Releases, rel517, rel600) },
			want: Decision{Action: protocol.ActionInstall, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel600),
				InstallType: "updateOnly", Constraints: allConstraints,
				Reasons: reasons("UPDATE_AVAILABLE", "Version 5.10.0 (600) is available; "+wifiChargingIdle)},
		},
		{
			name: "newer release needs a higher SDK",
			req:  func(r *Request) { r.Device.SDK = 22 },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("SDK_TOO_OLD", "Version 5.1.0 (510) needs Android SDK 24 or later; this device runs SDK 22.")},
		},
		{
			name: "every release needs a higher SDK",
			req:  func(r *Request) { r.Device.SDK = 19; r.Device.Apps = nil; r.Policy.InstallType = InstallForceInstalled },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("SDK_TOO_OLD", "Version 5.1.0 (510) needs Android SDK 24 or later; this device runs SDK 19.")},
		},
		{
			name: "unknown SDK is not checked",
			req:  func(r *Request) { r.Device.SDK = 0 },
			want: Decision{Action: protocol.ActionInstall, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510),
				InstallType: "updateOnly", Constraints: allConstraints,
				Reasons: reasons("UPDATE_AVAILABLE", "Version 5.1.0 (510) is available; "+wifiChargingIdle)},
		},
		{
			name: "up to date",
			req:  func(r *Request) { r.Device.Apps = installed("5.1.0", 510, day(2025, time.May, 3)) },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("UP_TO_DATE", "Installed version 5.1.0 (510) is the latest release on the production track.")},
		},
		{
			name: "installed above the latest release",
			req:  func(r *Request) { r.Device.Apps = installed("5.2.0", 525, day(2025, time.May, 3)) },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("UP_TO_DATE", "Installed version 5.2.0 (525) is newer than 5.1.0 (510), the latest release on the production track.")},
		},
		{
			name: "pinned lower version without allowDowngrade",
			req: func(r *Request) {
				r.Device.Apps = installed("5.1.0", 510, day(2025, time.May, 3))
				r.Policy.Target = &TargetSpec{Version: "5.0.0"}
			},
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("UP_TO_DATE", "Installed version 5.1.0 (510) is already at or above version 5.0.0 (500), which policy pos-stable pins.")},
		},
		{
			name: "pinned lower version with allowDowngrade",
			req: func(r *Request) {
				r.Device.Apps = installed("5.1.0", 510, day(2025, time.May, 3))
				r.Policy.Target = &TargetSpec{Version: "5.0.0", AllowDowngrade: true}
			},
			want: Decision{Action: protocol.ActionInstall, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel500),
				InstallType: "updateOnly", Constraints: allConstraints, AllowDowngrade: true,
				Reasons: reasons("UPDATE_AVAILABLE", "Version 5.0.0 (500), pinned by policy pos-stable, replaces the newer installed version 5.1.0 (510); "+wifiChargingIdle)},
		},
		{
			name: "agent older than minClientVersion",
			req:  func(r *Request) { r.Policy.MinClientVersion = "2.0.0" },
			want: Decision{Action: protocol.ActionUnsupported, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510), InstallType: "updateOnly",
				Reasons: reasons("CLIENT_TOO_OLD", "Version 5.1.0 (510) needs Sluice agent 2.0.0 or later, and this device runs agent 1.4.2; install 5.1.0 by hand or update the agent.")},
		},
		{
			name: "agent version not reported",
			req:  func(r *Request) { r.Policy.MinClientVersion = "1.0"; r.Device.AgentVersion = "" },
			want: Decision{Action: protocol.ActionUnsupported, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510), InstallType: "updateOnly",
				Reasons: reasons("CLIENT_TOO_OLD", "Version 5.1.0 (510) needs Sluice agent 1.0 or later, and this device has not reported its agent version; install 5.1.0 by hand or update the agent.")},
		},
		{
			name: "agent version is not a version",
			req:  func(r *Request) { r.Policy.MinClientVersion = "1.0"; r.Device.AgentVersion = "nightly" },
			want: Decision{Action: protocol.ActionUnsupported, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510), InstallType: "updateOnly",
				Reasons: reasons("CLIENT_TOO_OLD", `Version 5.1.0 (510) needs Sluice agent 1.0 or later, and this device's agent version cannot be compared ("nightly" is not a version); install 5.1.0 by hand or update the agent.`)},
		},
		{
			name: "agent at minClientVersion",
			req:  func(r *Request) { r.Policy.MinClientVersion = "1.4.2" },
			want: Decision{Action: protocol.ActionInstall, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510),
				InstallType: "updateOnly", Constraints: allConstraints,
				Reasons: reasons("UPDATE_AVAILABLE", "Version 5.1.0 (510) is available; "+wifiChargingIdle)},
		},
		{
			name: "outside the rollout",
			req:  func(r *Request) { r.Policy.Rollout = &RolloutSpec{Percent: notIn} },
			want: Decision{Action: protocol.ActionNone, Mode: protocol.ModeDefault, Policy: testRef,
				Reasons: reasons("NOT_IN_ROLLOUT", fmt.Sprintf("Version 5.1.0 (510) is rolling out to %s%% of devices under policy pos-stable, and this device is not among them yet.", strconv.FormatFloat(notIn, 'f', -1, 64)))},
		},
		{
			name: "inside the rollout",
			req:  func(r *Request) { r.Policy.Rollout = &RolloutSpec{Percent: justIn} },
			want: Decision{Action: protocol.ActionInstall, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510),
				InstallType: "updateOnly", Constraints: allConstraints,
				Reasons: reasons("UPDATE_AVAILABLE", "Version 5.1.0 (510) is available; "+wifiChargingIdle)},
		},
		{
			name: "default mode with a window and a lifted constraint",
			req: func(r *Request) {
				r.Policy.MaintenanceWindow = window
				r.Policy.Constraints = &ConstraintOverrides{Charging: boolPtr(false), Idle: boolPtr(true)}
			},
			want: Decision{Action: protocol.ActionInstall, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510), InstallType: "updateOnly",
				Constraints:       &protocol.Constraints{UnmeteredNetwork: true, Idle: true, NotForeground: true},
				MaintenanceWindow: window,
				Reasons:           reasons("UPDATE_AVAILABLE", "Version 5.1.0 (510) is available; it installs when the device is on Wi-Fi and idle and the app is not in use, between 22:00 and 05:00 device time.")},
		},
		{
			name: "default mode with every constraint lifted",
			req: func(r *Request) {
				r.Policy.MaintenanceWindow = window
				r.Policy.Constraints = &ConstraintOverrides{UnmeteredNetwork: boolPtr(false), Charging: boolPtr(false), Idle: boolPtr(false), NotForeground: boolPtr(false)}
			},
			want: Decision{Action: protocol.ActionInstall, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510), InstallType: "updateOnly",
				Constraints:       &protocol.Constraints{},
				MaintenanceWindow: window,
				Reasons:           reasons("UPDATE_AVAILABLE", "Version 5.1.0 (510) is available; it installs between 22:00 and 05:00 device time.")},
		},
		{
			name: "high priority ignores constraints and window",
			req: func(r *Request) {
				r.Policy.Mode = protocol.ModeHighPriority
				r.Policy.MaintenanceWindow = window
			},
			want: Decision{Action: protocol.ActionInstall, Mode: protocol.ModeHighPriority, Policy: testRef, Target: target(rel510), InstallType: "updateOnly",
				Reasons: reasons("UPDATE_AVAILABLE", "Version 5.1.0 (510) is available; it installs as soon as possible.")},
		},
		{
			name: "postponed mode inside the period",
			req: func(r *Request) {
				r.Policy.Mode = protocol.ModePostponed
				r.Policy.PostponeDays = 30
				r.Policy.MaintenanceWindow = window
			},
			want: Decision{Action: protocol.ActionPostponed, Mode: protocol.ModePostponed, Policy: testRef, Target: target(rel510), InstallType: "updateOnly",
				NotBefore: timePtr(day(2025, time.June, 1)),
				Reasons:   reasons("POSTPONED", "Version 5.1.0 (510) is available, but policy pos-stable postpones updates for 30 days after the app became out of date on 2 May 2025; it can install from 1 June 2025.")},
		},
		{
			name: "postponed mode after the period",
			req: func(r *Request) {
				r.Policy.Mode = protocol.ModePostponed
				r.Policy.PostponeDays = 10
				r.Policy.MaintenanceWindow = window
			},
			want: Decision{Action: protocol.ActionInstall, Mode: protocol.ModePostponed, Policy: testRef, Target: target(rel510), InstallType: "updateOnly",
				NotBefore: timePtr(day(2025, time.May, 12)), Constraints: allConstraints, MaintenanceWindow: window,
				Reasons: reasons("UPDATE_AVAILABLE", "Version 5.1.0 (510) is available and the 10-day postponement ended on 12 May 2025; it installs when the device is on Wi-Fi, charging and idle and the app is not in use, between 22:00 and 05:00 device time.")},
		},
		{
			name: "prompt",
			req: func(r *Request) {
				r.Policy.Prompt = &PromptSpec{Closable: true, Text: "A new version is ready.", ForceAfter: "30d"}
			},
			want: Decision{Action: protocol.ActionPrompt, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510), InstallType: "updateOnly",
				Prompt:  &protocol.Prompt{Closable: true, DailyFrequency: 1, Text: "A new version is ready.", Button: "updateApp", ForceAfter: timePtr(day(2025, time.June, 1))},
				Reasons: reasons("UPDATE_AVAILABLE", "Version 5.1.0 (510) is available; the app asks the user to update, at most once a day, and the update becomes mandatory on 1 June 2025.")},
		},
		{
			name: "prompt three times a day, opening the store, never forced",
			req: func(r *Request) {
				r.Policy.Prompt = &PromptSpec{Closable: true, DailyFrequency: 3, Button: ButtonOpenStore}
			},
			want: Decision{Action: protocol.ActionPrompt, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510), InstallType: "updateOnly",
				Prompt:  &protocol.Prompt{Closable: true, DailyFrequency: 3, Button: "openStore"},
				Reasons: reasons("UPDATE_AVAILABLE", "Version 5.1.0 (510) is available; the app asks the user to update, at most 3 times a day.")},
		},
		{
			name: "prompt past forceAfter is forced",
			req: func(r *Request) {
				r.Policy.Prompt = &PromptSpec{Closable: true, Text: "Update now.", ForceAfter: "72h"}
			},
			want: Decision{Action: protocol.ActionForce, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510), InstallType: "updateOnly",
				Prompt:  &protocol.Prompt{Closable: false, Text: "Update now.", Button: "updateApp", ForceAfter: timePtr(day(2025, time.May, 5))},
				Reasons: reasons("FORCED", "Version 5.1.0 (510) has been required since 5 May 2025; the app cannot be used until it is updated.")},
		},
		{
			name: "force",
			req:  func(r *Request) { r.Policy.Force = true },
			want: Decision{Action: protocol.ActionForce, Mode: protocol.ModeDefault, Policy: testRef, Target: target(rel510), InstallType: "updateOnly",
				Prompt:  &protocol.Prompt{Closable: false, Button: "updateApp"},
				Reasons: reasons("FORCED", "Version 5.1.0 (510) is required by policy pos-stable; the app cannot be used until it is updated.")},
		},
		{
			name: "postponement comes before the prompt",
			req: func(r *Request) {
				r.Policy.Mode = protocol.ModePostponed
				r.Policy.Force = true
			},
			want: Decision{Action: protocol.ActionPostponed, Mode: protocol.ModePostponed, Policy: testRef, Target: target(rel510), InstallType: "updateOnly",
				NotBefore: timePtr(day(2025, time.July, 31)),
				Reasons:   reasons("POSTPONED", "Version 5.1.0 (510) is available, but policy pos-stable postpones updates for 90 days after the app became out of date on 2 May 2025; it can install from 31 July 2025.")},
		},
		{
			name: "iOS is redirected to the App Store",
			req: func(r *Request) {
				r.Device.Platform = protocol.PlatformIOS
				r.Device.SDK = 0
				r.Releases = []Release{rel500, iosRel}
				r.Policy.Prompt = &PromptSpec{Text: "Please update."}
			},
			want: Decision{Action: protocol.ActionStoreRedirect, Mode: protocol.ModeDefault, Policy: testRef, Target: target(iosRel), InstallType: "updateOnly",
				Prompt: &protocol.Prompt{Closable: true, DailyFrequency: 1, Text: "Please update.", Button: "openStore",
					StoreURL: "itms-apps://itunes.apple.com/app/id1234567", WebURL: "https://apps.apple.com/app/id1234567"},
				Reasons: reasons("UPDATE_AVAILABLE", "Version 5.1.0 (510) is available; the app offers to open the App Store to update.")},
		},
		{
			name: "iOS forced",
			req: func(r *Request) {
				r.Device.Platform = protocol.PlatformIOS
				r.Releases = []Release{rel500, iosRel}
				r.Policy.Force = true
			},
			want: Decision{Action: protocol.ActionStoreRedirect, Mode: protocol.ModeDefault, Policy: testRef, Target: target(iosRel), InstallType: "updateOnly",
				Prompt: &protocol.Prompt{Closable: false, DailyFrequency: 1, Button: "openStore",
					StoreURL: "itms-apps://itunes.apple.com/app/id1234567", WebURL: "https://apps.apple.com/app/id1234567"},
				Reasons: reasons("FORCED", "Version 5.1.0 (510) is required; the app sends the user to the App Store and cannot be used until it is updated.")},
		},
	}
}

// TestDecideDoesNotModifyRequest checks that the engine leaves the caller's
// request alone (it sorts and normalizes copies).
func TestDecideDoesNotModifyRequest(t *testing.T) {
	e := newTestEngine(t)
	req := baseRequest()
	start := time.Date(2025, time.January, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600))
	req.Policy.Effective = &Effective{Start: &start}
	before := baseRequest()
	before.Policy.Effective = &Effective{Start: timePtr(start)}
	decide(t, e, req)
	if diff := cmp.Diff(before, req); diff != "" {
		t.Errorf("request changed (-before +after):\n%s", diff)
	}
	if req.Policy.Effective.Start.Location().String() != "CET" {
		t.Errorf("effective.start location = %s, want CET", req.Policy.Effective.Start.Location())
	}
}

// TestDecideUsesNowWithoutAt checks that Config.Now supplies the evaluation
// time of a request without At, and nothing else does.
func TestDecideUsesNowWithoutAt(t *testing.T) {
	now := day(2025, time.June, 2)
	e, err := NewEngine(t.Context(), Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	req := baseRequest()
	req.At = time.Time{}
	got := decide(t, e, req)
	want := struct {
		At     time.Time
		Target string
	}{now, "5.3.0"}
	if diff := cmp.Diff(want, struct {
		At     time.Time
		Target string
	}{got.EvaluatedAt, got.Target.VersionName}); diff != "" {
		t.Errorf("decision at Now (-want +got):\n%s", diff)
	}
}
