package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/examples"
	"github.com/sluice-mdm/sluice/internal/client"
	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/protocol"
)

const kioskApp = "com.example.kiosk"

// TestEligibility runs the example policies of Munich (examples/fleet):
// menu-range updates installed versions from 4.3.3 below 5.0.0 to the
// latest 5.0.x, except the excluded 4.5.0; kiosk-min-client leaves
// agents older than 1.2.0 with CLIENT_TOO_OLD and nothing installed.
func TestEligibility(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys := startSystem(t, sandbox.Config{Clock: sandbox.NewClock(time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC))})
	if _, err := sys.Apply(ctx, examples.FS, "fleet"); err != nil {
		t.Fatal(err)
	}
	pushReleases(t, ctx, sys, "menu-4.3.3.apk", "menu-4.5.0.apk", "menu-5.0.0.apk", "menu-5.1.0.apk", "kiosk-1.0.0.apk", "kiosk-2.0.0.apk")
	munich := map[string]string{"store": "munich-03", "model": "V2"}
	tests := []struct {
		name      string
		spec      sandbox.DeviceSpec
		decisions map[string]string // app: final decision
		want      map[string]string // installed at the end
	}{
		{
			name: "4.3.3 in range, new agent",
			spec: sandbox.DeviceSpec{ID: "till-433", Installed: []string{"menu-4.3.3.apk", "kiosk-1.0.0.apk"}},
			decisions: map[string]string{
				menuApp:  "none [NOT_IN_ELIGIBLE_RANGE]",
				kioskApp: "none [UP_TO_DATE]",
			},
			want: map[string]string{menuApp: "5.0.0", kioskApp: "2.0.0"},
		},
		{
			name:      "4.5.0 excluded",
			spec:      sandbox.DeviceSpec{ID: "till-450", Installed: []string{"menu-4.5.0.apk"}},
			decisions: map[string]string{menuApp: "none [EXCLUDED_VERSION]"},
			want:      map[string]string{menuApp: "4.5.0"},
		},
		{
			name:      "5.0.0 above the range",
			spec:      sandbox.DeviceSpec{ID: "till-500", Installed: []string{"menu-5.0.0.apk"}},
			decisions: map[string]string{menuApp: "none [NOT_IN_ELIGIBLE_RANGE]"},
			want:      map[string]string{menuApp: "5.0.0"},
		},
		{
			name:      "agent 1.1.0 too old",
			spec:      sandbox.DeviceSpec{ID: "till-old", AgentVersion: "1.1.0", Installed: []string{"kiosk-1.0.0.apk"}},
			decisions: map[string]string{kioskApp: "unsupported [CLIENT_TOO_OLD] -> 2.0.0"},
			want:      map[string]string{kioskApp: "1.0.0"},
		},
	}
	devs := map[string]*sandbox.Device{}
	for _, tt := range tests {
		tt.spec.Labels = munich
		devs[tt.name] = startDevice(t, ctx, sys, tt.spec)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := devs[tt.name]
			for app, want := range tt.decisions {
				waitDecision(t, ctx, sys, d, app, want)
			}
			if diff := cmp.Diff(tt.want, installed(t, ctx, d)); diff != "" {
				t.Errorf("installed (-want +got):\n%s", diff)
			}
		})
	}

	// The decision log says why, and the only installs are till-433's.
	for id, want := range map[string]map[string][]string{
		"till-433": {
			menuApp:  {"install [UPDATE_AVAILABLE] -> 5.0.0", "none [NOT_IN_ELIGIBLE_RANGE]"},
			kioskApp: {"install [UPDATE_AVAILABLE] -> 2.0.0", "none [UP_TO_DATE]"},
		},
		"till-450": {menuApp: {"none [EXCLUDED_VERSION]"}},
		"till-500": {menuApp: {"none [NOT_IN_ELIGIBLE_RANGE]"}},
		"till-old": {kioskApp: {"unsupported [CLIENT_TOO_OLD] -> 2.0.0"}},
	} {
		for app, trail := range want {
			if diff := cmp.Diff(trail, decisionTrail(t, ctx, sys, id, app)); diff != "" {
				t.Errorf("%s %s decision log (-want +got):\n%s", id, app, diff)
			}
		}
	}
	evs := waitEvents(t, ctx, sys, "till-433", map[string]int{menuApp + " InstallResult": 1, kioskApp + " InstallResult": 1})
	if diff := cmp.Diff(oneInstall(menuApp), installEvents(evs, menuApp)); diff != "" {
		t.Errorf("till-433 menu events (-want +got):\n%s", diff)
	}
	for _, id := range []string{"till-450", "till-500", "till-old"} {
		evs := deviceEvents(t, ctx, sys, id)
		if got := installEvents(evs, menuApp); len(got) > 0 {
			t.Errorf("%s has menu install events %v; want none", id, got)
		}
		if got := installEvents(evs, kioskApp); len(got) > 0 {
			t.Errorf("%s has kiosk install events %v; want none", id, got)
		}
	}
	ex, err := sys.Client().Explain(ctx, "till-old", kioskApp)
	if err != nil {
		t.Fatal(err)
	}
	if r := ex.Decisions[0].Reasons; len(r) != 1 || !containsAll(r[0].Message, "1.1.0", "1.2.0") {
		t.Errorf("CLIENT_TOO_OLD reasons %+v do not name the agent's version and the minimum", r)
	}
}

// TestIOSStoreRedirect: an iOS release with an App Store id, applied as a
// manifest, sends iOS apps that check for themselves to the App Store.
func TestIOSStoreRedirect(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sys := startSystem(t, sandbox.Config{})
	const iosApp = "com.example.orders"
	applyYAML(t, ctx, sys, map[string]string{
		"ios.yaml": `apiVersion: sluice.dev/v1
kind: Release
metadata: {name: orders-1.0.0}
spec: {app: com.example.orders, versionName: 1.0.0, versionCode: 100, publishedAt: 2026-01-10T09:00:00Z, appStoreId: "1234567890"}
---
apiVersion: sluice.dev/v1
kind: Release
metadata: {name: orders-2.0.0}
spec: {app: com.example.orders, versionName: 2.0.0, versionCode: 200, publishedAt: 2026-03-10T09:00:00Z, appStoreId: "1234567890", releaseNotes: Faster checkout.}
---
` + governed("orders-ios", "platform=ios", "app: com.example.orders\nplatforms: [ios]\nmode: highPriority"),
	})
	tests := []struct {
		name string
		q    client.VersionCheckQuery
		want client.VersionCheck
	}{
		{
			name: "old version on iOS",
			q:    client.VersionCheckQuery{App: iosApp, VersionCode: 100, Platform: "ios"},
			want: client.VersionCheck{UpdateAvailable: true, Action: protocol.ActionStoreRedirect, VersionName: "2.0.0", VersionCode: 200,
				Closable: true, Button: "openStore",
				StoreURL: "itms-apps://itunes.apple.com/app/id1234567890", WebURL: "https://apps.apple.com/app/id1234567890",
				ReleaseNotes: "Faster checkout.", Reasons: []protocol.Reason{{Code: protocol.ReasonUpdateAvailable}}},
		},
		{
			name: "latest version on iOS",
			q:    client.VersionCheckQuery{App: iosApp, VersionCode: 200, Platform: "ios"},
			want: client.VersionCheck{Action: protocol.ActionNone, Closable: true, Reasons: []protocol.Reason{{Code: protocol.ReasonUpToDate}}},
		},
		{
			name: "the same app on Android",
			q:    client.VersionCheckQuery{App: iosApp, VersionCode: 100, Platform: "android"},
			want: client.VersionCheck{Action: protocol.ActionNone, Closable: true, Reasons: []protocol.Reason{{Code: protocol.ReasonPlatformMismatch}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sys.Client().CheckVersion(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got.DecisionID == "" || got.Policy == nil || got.Policy.Name != "orders-ios" {
				t.Errorf("answer names decision %q, policy %+v; want a decision id and policy orders-ios", got.DecisionID, got.Policy)
			}
			got.DecisionID, got.Policy = "", nil
			for i := range got.Reasons {
				got.Reasons[i].Message = ""
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("version check (-want +got):\n%s", diff)
			}
		})
	}

	// The app reports the redirect; the event lands on the app's subject.
	res, err := sys.Client().ReportEvents(ctx, []protocol.Event{{
		ID: "orders-redirect-1", App: iosApp, Name: protocol.EventStoreRedirect, Time: time.Now().UTC(),
		Params: map[string]string{protocol.ParamPlatform: "ios", protocol.ParamNewVersion: "2.0.0", protocol.ParamRedirectResult: "opened"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(1, res.Accepted); diff != "" || len(res.Rejected) > 0 {
		t.Fatalf("event report accepted %d, rejected %+v; want 1 and none", res.Accepted, res.Rejected)
	}
	subject, err := protocol.AppEventSubject(iosApp)
	if err != nil {
		t.Fatal(err)
	}
	var evs []protocol.Event
	waitFor(t, ctx, scenarioTimeout, "the StoreRedirect event in the stream", func() (bool, error) {
		evs, err = readStream(ctx, sys.NATSURL(), subject)
		return len(evs) == 1, err
	})
	if diff := cmp.Diff(countEvents(evs), map[string]int{iosApp + " StoreRedirect": 1}); diff != "" {
		t.Errorf("app events (-want +got):\n%s", diff)
	}
}
