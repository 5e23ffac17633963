package protocol

import (
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current encoding")

// Fixed inputs, so that the encoding (and the Ed25519 signature, which is
// deterministic) never changes unless the wire format does.
var (
	t0       = time.Date(2026, 5, 2, 9, 30, 0, 0, time.UTC)
	testSeed = []byte("sluice-protocol-golden-test-seed") // 32 bytes
)

func testKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	if len(testSeed) != ed25519.SeedSize {
		t.Fatalf("test seed is %d bytes, want %d", len(testSeed), ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(testSeed)
}

func ptr[T any](v T) *T { return &v }

// goldenDirective has one decision of every action.
func goldenDirective() *Directive {
	artifact := &Artifact{
		URLs:         []string{"https://controller.example/artifacts/com.pos.app/420.apk", "https://mirror.example/com.pos.app-4.2.0.apk"},
		SHA256:       "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Size:         18_874_368,
		SignerSHA256: []string{"a40da80a59d170caa950cf15c18c454d47a39b26989d8b640ecd745ba71bf5dc"},
		MinSDK:       26,
	}
	policy := &PolicyRef{Name: "pos-stable", Revision: 7}
	return &Directive{
		Version:   Version,
		DeviceID:  "pos-berlin-01-0042",
		Sequence:  12,
		IssuedAt:  t0,
		ExpiresAt: t0.Add(24 * time.Hour),
		Decisions: []Decision{
			{
				DecisionID: "dec-0001", Device: "pos-berlin-01-0042", App: "com.pos.app", Action: ActionInstall,
				Target:            &Target{VersionName: "4.2.0", VersionCode: 420, Artifact: artifact, ReleaseNotes: "Faster checkout."},
				Mode:              ModeDefault,
				Constraints:       &Constraints{UnmeteredNetwork: true, Charging: true, Idle: true, NotForeground: true},
				MaintenanceWindow: &MaintenanceWindow{Start: "22:00", End: "05:00"},
				InstallType:       "updateOnly",
				Reasons:           []Reason{{Code: ReasonUpdateAvailable, Message: "Version 4.2.0 is available; it installs on Wi-Fi while charging and idle, between 22:00 and 05:00."}},
				Policy:            policy,
				EvaluatedAt:       t0,
			},
			{
				DecisionID: "dec-0002", Device: "pos-berlin-01-0042", App: "com.pos.loyalty", Action: ActionPostponed,
				Target:      &Target{VersionName: "2.0.0", VersionCode: 200},
				Mode:        ModePostponed,
				NotBefore:   ptr(time.Date(2026, 7, 31, 0, 0, 0, 0, time.UTC)),
				Reasons:     []Reason{{Code: ReasonPostponed, Message: "Updates of this app are postponed for 90 days, until 2026-07-31."}},
				Policy:      &PolicyRef{Name: "loyalty-postponed", Revision: 3},
				EvaluatedAt: t0,
			},
			{
				DecisionID: "dec-0003", Device: "pos-berlin-01-0042", App: "com.pos.receipts", Action: ActionPrompt,
				Target:      &Target{VersionName: "1.5.0", VersionCode: 150, Artifact: artifact},
				Mode:        ModeHighPriority,
				Prompt:      &Prompt{Closable: true, DailyFrequency: 2, Text: "A new version is ready.", Button: "updateApp", ForceAfter: ptr(t0.Add(7 * 24 * time.Hour))},
				Reasons:     []Reason{{Code: ReasonUpdateAvailable, Message: "Version 1.5.0 is available; the app asks the user to update."}},
				Policy:      &PolicyRef{Name: "receipts-prompt", Revision: 1},
				EvaluatedAt: t0,
			},
			{
				DecisionID: "dec-0004", Device: "pos-berlin-01-0042", App: "com.pos.payments", Action: ActionForce,
				Target:         &Target{VersionName: "3.0.1", VersionCode: 301, Artifact: artifact},
				Mode:           ModeHighPriority,
				Prompt:         &Prompt{Closable: false, Text: "This update is required.", Button: "updateApp"},
				InstallType:    "forceInstalled",
				AllowDowngrade: true,
				Reasons:        []Reason{{Code: ReasonForced, Message: "Version 3.0.1 is required; the app cannot be used until it is installed."}},
				Policy:         &PolicyRef{Name: "payments-pin", Revision: 12},
				EvaluatedAt:    t0,
			},
			{
				DecisionID: "dec-0005", Device: "pos-berlin-01-0042", App: "com.pos.companion", Action: ActionStoreRedirect,
				Target:      &Target{VersionName: "5.1.0", VersionCode: 510, AppStoreID: "1234567890"},
				Prompt:      &Prompt{Closable: true, Button: "openStore", StoreURL: "itms-apps://itunes.apple.com/app/id1234567890", WebURL: "https://apps.apple.com/app/id1234567890"},
				Reasons:     []Reason{{Code: ReasonUpdateAvailable, Message: "Version 5.1.0 is in the App Store."}},
				Policy:      &PolicyRef{Name: "companion-ios", Revision: 2},
				EvaluatedAt: t0,
			},
			{
				DecisionID: "dec-0006", Device: "pos-berlin-01-0042", App: "com.pos.legacy", Action: ActionUnsupported,
				Reasons:     []Reason{{Code: ReasonClientTooOld, Message: "The agent on this device is 0.9.0; version 1.2.0 or later is needed. Update it by hand."}},
				Policy:      &PolicyRef{Name: "legacy", Revision: 4},
				EvaluatedAt: t0,
			},
			{
				DecisionID: "dec-0007", Device: "pos-berlin-01-0042", App: "com.pos.kiosk", Action: ActionNone,
				Reasons:     []Reason{{Code: ReasonNoPolicy, Message: "No update policy is assigned to this device for this app."}},
				EvaluatedAt: t0,
			},
		},
	}
}

func goldenReport() *DeviceReport {
	return &DeviceReport{
		Version:      Version,
		DeviceID:     "pos-berlin-01-0042",
		SentAt:       t0,
		Labels:       map[string]string{"store": "berlin-01", "model": "P2"},
		Platform:     PlatformAndroid,
		SDK:          33,
		AgentVersion: "1.4.0",
		Channel:      "production",
		TimeZone:     "Europe/Berlin",
		Apps: map[string]InstalledApp{
			"com.pos.app":     {VersionName: "4.1.0", VersionCode: 410, SignerSHA256: []string{"a40da80a59d170caa950cf15c18c454d47a39b26989d8b640ecd745ba71bf5dc"}, UpdatedAt: t0.Add(-30 * 24 * time.Hour)},
			"com.pos.loyalty": {VersionName: "1.0.0", VersionCode: 100, UpdatedAt: t0.Add(-90 * 24 * time.Hour)},
		},
		State: DeviceState{Unmetered: true, Charging: false, Idle: true, ForegroundApp: "com.pos.app", FreeStorage: 2_147_483_648},
		Status: map[string]AppStatus{
			"com.pos.app": {
				State: "waiting", WaitingFor: []string{WaitingForCharging, WaitingAppInForeground}, TargetCode: 420,
				Attempts: 1, DecisionID: "dec-0001", UpdatedState: t0.Add(-time.Minute),
			},
			"com.pos.loyalty": {State: "waiting", WaitingFor: []string{WaitingPostponed}, NotBefore: time.Date(2026, 7, 31, 0, 0, 0, 0, time.UTC), TargetCode: 200},
		},
		DirectiveSequence: 12,
		Dropped:           3,
	}
}

func goldenEvent() *Event {
	return &Event{
		ID: "evt-0042-000017", DeviceID: "pos-berlin-01-0042", App: "com.pos.app", Name: EventDownloadProgress,
		Time: t0.Add(90 * time.Second), DecisionID: "dec-0001",
		Params: map[string]string{
			ParamNewVersion: "4.2.0", ParamFileSize: "18874368", ParamProgress: "42.5", ParamSpeed: "1048576",
			ParamRemaining: "10.4", ParamDownloadURL: "https://controller.example/artifacts/com.pos.app/420.apk",
		},
	}
}

func goldenEnvelope(t testing.TB) *Envelope {
	t.Helper()
	env, err := SignDirective(testKey(t), goldenDirective())
	if err != nil {
		t.Fatalf("SignDirective: %v", err)
	}
	return env
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name  string
		value any
		empty func() any
	}{
		{name: "directive", value: goldenDirective(), empty: func() any { return new(Directive) }},
		{name: "device_report", value: goldenReport(), empty: func() any { return new(DeviceReport) }},
		{name: "event", value: goldenEvent(), empty: func() any { return new(Event) }},
		{name: "sync_request", value: &SyncRequest{Version: Version, DeviceID: "pos-berlin-01-0042", LastSequence: 11, AgentVersion: "1.4.0"}, empty: func() any { return new(SyncRequest) }},
		{name: "sync_reply", value: &SyncReply{Directive: goldenEnvelope(t)}, empty: func() any { return new(SyncReply) }},
		{name: "sync_reply_error", value: &SyncReply{Error: "device pos-berlin-01-0042 has not been evaluated yet; retry later"}, empty: func() any { return new(SyncReply) }},
		{name: "envelope", value: goldenEnvelope(t), empty: func() any { return new(Envelope) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.MarshalIndent(tt.value, "", "  ")
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", tt.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatalf("update golden: %v", err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run go test ./protocol -run TestGolden -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("encoding differs from %s (-golden +got):\n%s", path, diff)
			}
			back := tt.empty()
			if err := json.Unmarshal(want, back); err != nil {
				t.Fatalf("unmarshal golden: %v", err)
			}
			if diff := cmp.Diff(tt.value, back); diff != "" {
				t.Errorf("golden does not decode to the value (-value +decoded):\n%s", diff)
			}
		})
	}
}

// The golden envelope is a real signed directive: it opens with the test
// key's public half and yields the golden directive.
func TestGoldenEnvelopeOpens(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "envelope.golden.json"))
	if err != nil {
		t.Fatalf("read golden: %v", err)
	}
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	pub := testKey(t).Public().(ed25519.PublicKey)
	d, err := OpenDirective(&env, "pos-berlin-01-0042", 11, t0.Add(time.Hour), pub)
	if err != nil {
		t.Fatalf("OpenDirective: %v", err)
	}
	if diff := cmp.Diff(goldenDirective(), d); diff != "" {
		t.Errorf("directive (-want +got):\n%s", diff)
	}
}
