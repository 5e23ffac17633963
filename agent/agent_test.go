package agent

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sluice-mdm/sluice/internal/natstest"
	"github.com/sluice-mdm/sluice/protocol"
)

func installDecision(id string, art *protocol.Artifact, mut ...func(*protocol.Decision)) protocol.Decision {
	d := protocol.Decision{
		DecisionID: id, Device: deviceID, App: posApp, Action: protocol.ActionInstall, Mode: protocol.ModeDefault,
		Target:  &protocol.Target{VersionName: "2.0.0", VersionCode: 200, Artifact: art},
		Reasons: []protocol.Reason{{Code: protocol.ReasonUpdateAvailable, Message: "2.0.0 is available"}},
	}
	for _, m := range mut {
		m(&d)
	}
	return d
}

func TestWaitsForWiFiThenInstallsAndReports(t *testing.T) {
	_, url := natstest.Start(t)
	ctl := newController(t, url)
	srv := apkServer(t)
	clk := newClock()
	dev := device(t, t.TempDir(), "charging=on", "idle=on", "wifi=off")
	ctl.serve(ctl.sign(ctl.directive(clk.Now(), installDecision("d1", artifact(t, srv, "pos-2.0.0.apk"))), nil))
	r := startAgent(t, baseConfig(t, url, t.TempDir(), []ed25519.PublicKey{ctl.pub}, dev, clk))

	eventually(t, "waiting for Wi-Fi", func() bool {
		s := appStatus(r.a, posApp)
		return s.State == PhaseWaiting && slices.Equal(s.WaitingFor, []string{protocol.WaitingForUnmeteredNetwork})
	})
	if got := r.a.Status(); got.DirectiveSequence != 1 || !got.Connected {
		t.Errorf("status: sequence %d connected %t, want 1 and true", got.DirectiveSequence, got.Connected)
	}
	if err := dev.Set(t.Context(), "wifi=on"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "2.0.0 installed", func() bool { return appStatus(r.a, posApp).State == PhaseInstalled })
	inst, err := dev.Installed(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := inst[posApp].VersionCode; got != 200 {
		t.Fatalf("installed versionCode = %d, want 200", got)
	}
	eventually(t, "the report of 2.0.0 in the stream", func() bool {
		_, reps := ctl.captured()
		return len(reps) > 0 && reps[len(reps)-1].Apps[posApp].VersionCode == 200 && r.a.Status().Spooled == 0
	})
	evs, reps := ctl.captured()
	want := []string{"DownloadStart", "DownloadComplete", "InstallStart", "InstallResult"}
	if diff := cmp.Diff(want, eventNames(evs, posApp)); diff != "" {
		t.Errorf("events of %s (-want +got):\n%s", posApp, diff)
	}
	if diff := cmp.Diff([]string{"DirectiveApplied"}, eventNames(evs, AgentApp)); diff != "" {
		t.Errorf("agent events (-want +got):\n%s", diff)
	}
	last := evs[len(evs)-1]
	wantParams := map[string]string{
		protocol.ParamSuccess: "true", protocol.ParamNewVersion: "2.0.0", protocol.ParamUpdateType: "default",
		protocol.ParamInstallType: "updateOnly",
	}
	delete(last.Params, protocol.ParamTotalTime)
	if diff := cmp.Diff(wantParams, last.Params); diff != "" || last.Name != protocol.EventInstallResult || last.DecisionID != "d1" {
		t.Errorf("last event %s (decision %s), params (-want +got):\n%s", last.Name, last.DecisionID, diff)
	}
	ids := map[string]bool{}
	for _, e := range evs {
		if ids[e.ID] {
			t.Errorf("event id %s appears twice", e.ID)
		}
		ids[e.ID] = true
	}
	// The first report, before anything happened, shows 1.0.0 and the
	// labels; the last one 2.0.0 with the status "installed".
	first, lastRep := reps[0], reps[len(reps)-1]
	if diff := cmp.Diff([]any{int64(100), "berlin-01", "sim"}, []any{first.Apps[posApp].VersionCode, first.Labels["store"], r.a.Status().Platform}); diff != "" {
		t.Errorf("first report (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(protocol.AppStatus{State: PhaseInstalled, TargetCode: 200, DecisionID: "d1"}, lastRep.Status[posApp], cmpIgnoreTime); diff != "" {
		t.Errorf("last report status (-want +got):\n%s", diff)
	}
	// No APK is left behind once installed.
	if left, _ := filepath.Glob(filepath.Join(r.a.apkDir(), "*")); len(left) != 0 {
		t.Errorf("files left in the apk dir: %v", left)
	}
}

func TestRefusedDirectivesAndRestart(t *testing.T) {
	_, url := natstest.Start(t)
	ctl := newController(t, url)
	srv := apkServer(t)
	clk := newClock()
	dev := device(t, t.TempDir()) // nothing holds: the update waits
	dataDir := t.TempDir()
	art := artifact(t, srv, "pos-2.0.0.apk")
	good := ctl.directive(clk.Now(), installDecision("d1", art))
	ctl.serve(ctl.sign(good, nil))
	r := startAgent(t, baseConfig(t, url, dataDir, []ed25519.PublicKey{ctl.pub}, dev, clk))
	eventually(t, "directive 1", func() bool { return r.a.Status().DirectiveSequence == 1 })

	other, _ := protocol.GenerateKey()
	expired := ctl.directive(clk.Now().Add(-48*time.Hour), installDecision("d-old", art))
	wrongDev := ctl.directive(clk.Now(), installDecision("d-x", art))
	wrongDev.DeviceID = "pos-999"
	forged := ctl.sign(ctl.directive(clk.Now(), installDecision("d-f", art)), nil)
	forged.Payload = []byte(string(forged.Payload[:len(forged.Payload)-1]) + " }")
	replay := *good
	replay.Decisions = []protocol.Decision{installDecision("d-r", art)}
	unsigned := ctl.sign(ctl.directive(clk.Now(), installDecision("d-u", art)), nil)
	unsigned.Signature = nil

	ctl.pushEnv(ctl.sign(ctl.directive(clk.Now(), installDecision("d-k", art)), other))
	ctl.pushEnv(forged)
	ctl.pushEnv(ctl.sign(&replay, nil))
	ctl.pushEnv(ctl.sign(expired, nil))
	ctl.pushEnv(ctl.sign(wrongDev, nil))
	ctl.pushEnv(unsigned)
	ctl.push([]byte("not json"))
	want := []string{"UNKNOWN_KEY", "BAD_SIGNATURE", "REPLAYED", "EXPIRED", "WRONG_DEVICE", "UNSIGNED", "MALFORMED"}
	rejected := func() []string {
		evs, _ := ctl.captured()
		var codes []string
		for _, e := range evs {
			if e.Name == protocol.EventDirectiveRejected {
				codes = append(codes, e.Params[protocol.ParamErrorCode])
				if e.Params[protocol.ParamReason] == "" {
					t.Errorf("DirectiveRejected %s has no zz_reason", e.Params[protocol.ParamErrorCode])
				}
			}
		}
		return codes
	}
	eventually(t, "seven refusals in the stream", func() bool { return len(rejected()) >= len(want) })
	if diff := cmp.Diff(want, rejected()); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
	if got := appStatus(r.a, posApp).DecisionID; got != "d1" || r.a.Status().DirectiveSequence != 1 {
		t.Errorf("after refusals: decision %s sequence %d, want d1 and 1", got, r.a.Status().DirectiveSequence)
	}

	// A newer directive is accepted.
	next := ctl.directive(clk.Now(), installDecision("d2", art))
	ctl.pushEnv(ctl.sign(next, nil))
	eventually(t, "directive 2", func() bool { return appStatus(r.a, posApp).DecisionID == "d2" })
	r.stop()

	// After a restart, with the controller silent and the directive since
	// expired, the stored directive and sequence still hold.
	ctl.serve(nil)
	clk.Add(48 * time.Hour)
	r2 := startAgent(t, baseConfig(t, url, dataDir, []ed25519.PublicKey{ctl.pub}, dev, clk))
	eventually(t, "the stored directive enforced", func() bool { return appStatus(r2.a, posApp).DecisionID == "d2" })
	st := r2.a.Status()
	if diff := cmp.Diff([]any{next.Sequence, true, PhaseWaiting}, []any{st.DirectiveSequence, st.DirectiveExpired, appStatus(r2.a, posApp).State}); diff != "" {
		t.Errorf("restarted status: sequence, expired, state (-want +got):\n%s", diff)
	}
	before := len(rejected())
	old := *good
	old.Sequence = next.Sequence // same sequence, other content: a replay
	old.ExpiresAt = clk.Now().Add(time.Hour)
	ctl.pushEnv(ctl.sign(&old, nil))
	eventually(t, "the replay refused after restart", func() bool { return len(rejected()) > before })
	if got := rejected()[before]; got != "REPLAYED" {
		t.Errorf("after restart, a replay of sequence %d was refused with %s, want REPLAYED", old.Sequence, got)
	}
}

func TestVerificationRefusesWrongFiles(t *testing.T) {
	_, url := natstest.Start(t)
	ctl := newController(t, url)
	srv := apkServer(t)
	tests := []struct {
		name     string
		art      func() *protocol.Artifact
		want     string
		wantEvts []string
	}{
		{"wrong hash", func() *protocol.Artifact {
			a := artifact(t, srv, "pos-2.0.0.apk")
			a.SHA256 = artifact(t, srv, "pos-3.0.0.apk").SHA256
			a.Size = artifact(t, srv, "pos-3.0.0.apk").Size
			return a
		}, "HASH_MISMATCH", []string{"DownloadStart", "InstallResult"}},
		{"other signer", func() *protocol.Artifact {
			a := artifact(t, srv, "pos-2.0.0-keyB.apk")
			a.SignerSHA256 = artifact(t, srv, "pos-2.0.0.apk").SignerSHA256
			return a
		}, "SIGNER_MISMATCH", []string{"DownloadStart", "DownloadComplete", "VerifyFailed", "InstallResult"}},
		{"other version", func() *protocol.Artifact { return artifact(t, srv, "pos-3.0.0.apk") },
			"VERSION_MISMATCH", []string{"DownloadStart", "DownloadComplete", "VerifyFailed", "InstallResult"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			dev := device(t, t.TempDir(), "wifi=on", "charging=on", "idle=on")
			dec := installDecision(fmt.Sprintf("v%d", i), tt.art(), func(d *protocol.Decision) { d.Mode = protocol.ModeHighPriority })
			ctl.serve(ctl.sign(ctl.directive(clk.Now(), dec), nil))
			cfg := baseConfig(t, url, t.TempDir(), []ed25519.PublicKey{ctl.pub}, dev, clk)
			r := startAgent(t, cfg)
			eventually(t, "the failure", func() bool {
				s := appStatus(r.a, posApp)
				return s.Attempts == 1 && s.State != PhaseVerifying && s.State != PhaseDownloading
			})
			s := appStatus(r.a, posApp)
			if diff := cmp.Diff([]any{tt.want, PhaseWaiting, []string{"RETRY_BACKOFF"}}, []any{s.LastError, s.State, s.WaitingFor}); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			inst, _ := dev.Installed(t.Context())
			if inst[posApp].VersionCode != 100 {
				t.Errorf("installed %d, want 100 untouched", inst[posApp].VersionCode)
			}
			if left, _ := filepath.Glob(filepath.Join(r.a.apkDir(), "*")); len(left) != 0 {
				t.Errorf("refused file kept: %v", left)
			}
			eventually(t, "InstallResult in the stream", func() bool {
				evs, _ := ctl.captured()
				for _, e := range evs {
					if e.DecisionID == dec.DecisionID && e.Name == protocol.EventInstallResult {
						return true
					}
				}
				return false
			})
			evs, _ := ctl.captured()
			var got []string
			for _, e := range evs {
				if e.DecisionID == dec.DecisionID && e.Name != protocol.EventDownloadProgress {
					got = append(got, string(e.Name))
					if e.Name == protocol.EventInstallResult {
						got = append(got, e.Params[protocol.ParamSuccess], e.Params[protocol.ParamErrorCode])
					}
				}
			}
			if diff := cmp.Diff(append(tt.wantEvts, "false", tt.want), got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetryBudgetThenFailedUntilDecisionChanges(t *testing.T) {
	_, url := natstest.Start(t)
	ctl := newController(t, url)
	srv := apkServer(t)
	clk := newClock()
	dev := device(t, t.TempDir())
	bad := artifact(t, srv, "pos-2.0.0.apk")
	bad.SHA256 = artifact(t, srv, "pos-3.0.0.apk").SHA256
	dec := installDecision("d1", bad, func(d *protocol.Decision) { d.Mode = protocol.ModeHighPriority })
	ctl.serve(ctl.sign(ctl.directive(clk.Now(), dec), nil))
	cfg := baseConfig(t, url, t.TempDir(), []ed25519.PublicKey{ctl.pub}, dev, clk)
	cfg.RetryBudget = 3
	r := startAgent(t, cfg)
	for n := 1; n <= 3; n++ {
		eventually(t, fmt.Sprintf("attempt %d", n), func() bool { return appStatus(r.a, posApp).Attempts == n })
		clk.Add(time.Hour) // past any backoff
	}
	eventually(t, "FAILED", func() bool { return appStatus(r.a, posApp).State == PhaseFailed })
	// Time passes; no fourth attempt.
	for i := 0; i < 5; i++ {
		clk.Add(time.Hour)
		time.Sleep(2 * cfg.SenseInterval)
	}
	s := appStatus(r.a, posApp)
	if diff := cmp.Diff([]any{PhaseFailed, 3, "HASH_MISMATCH", "FAILED: HASH_MISMATCH"}, []any{s.State, s.Attempts, s.LastError, s.Detail}); diff != "" {
		t.Errorf("after the budget (-want +got):\n%s", diff)
	}
	// A new decision with a good artifact starts afresh and installs.
	ctl.pushEnv(ctl.sign(ctl.directive(clk.Now(), installDecision("d2", artifact(t, srv, "pos-2.0.0.apk"), func(d *protocol.Decision) {
		d.Mode = protocol.ModeHighPriority
	})), nil))
	eventually(t, "installed after the new decision", func() bool { return appStatus(r.a, posApp).State == PhaseInstalled })
	eventually(t, "four InstallResults", func() bool {
		evs, _ := ctl.captured()
		n := 0
		for _, e := range evs {
			if e.Name == protocol.EventInstallResult {
				n++
			}
		}
		return n == 4
	})
	evs, _ := ctl.captured()
	var results []string
	for _, e := range evs {
		if e.Name == protocol.EventInstallResult {
			results = append(results, e.DecisionID+" "+e.Params[protocol.ParamSuccess]+" "+e.Params[protocol.ParamErrorCode])
		}
	}
	want := []string{"d1 false HASH_MISMATCH", "d1 false HASH_MISMATCH", "d1 false HASH_MISMATCH", "d2 true "}
	if diff := cmp.Diff(want, results); diff != "" {
		t.Errorf("install results (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, retriesFile)); err != nil {
		t.Errorf("retry records not stored: %v", err)
	}
}
