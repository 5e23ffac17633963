package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sluice-mdm/sluice/protocol"
)

const app = "com.example.pos"

var t0 = time.Date(2026, 5, 2, 10, 0, 0, 0, time.UTC)

func decision(mut ...func(*protocol.Decision)) protocol.Decision {
	d := protocol.Decision{
		DecisionID: "d1", App: app, Action: protocol.ActionInstall, Mode: protocol.ModeDefault,
		Target: &protocol.Target{VersionName: "2.0.0", VersionCode: 200, Artifact: &protocol.Artifact{URLs: []string{"http://x/a.apk"}}},
	}
	for _, m := range mut {
		m(&d)
	}
	return d
}

var installed100 = &protocol.InstalledApp{VersionName: "1.0.0", VersionCode: 100}

var allGood = protocol.DeviceState{Unmetered: true, Charging: true, Idle: true, ForegroundApp: "com.other.app"}

func TestEvaluate(t *testing.T) {
	notBefore := t0.Add(time.Hour)
	tests := []struct {
		name string
		in   Input
		want Result
	}{
		{"none", Input{Decision: decision(func(d *protocol.Decision) {
			d.Action = protocol.ActionNone
			d.Reasons = []protocol.Reason{{Code: protocol.ReasonNoPolicy}}
		}), Installed: installed100}, Result{Do: DoNothing, Reason: protocol.ReasonNoPolicy}},
		{"unsupported", Input{Decision: decision(func(d *protocol.Decision) { d.Action = protocol.ActionUnsupported }), Installed: installed100},
			Result{Do: DoNothing, Reason: "unsupported"}},
		{"unknown action", Input{Decision: decision(func(d *protocol.Decision) { d.Action = "explode" }), Installed: installed100},
			Result{Do: DoFailed, Reason: ReasonUnknownAction}},
		{"no target", Input{Decision: decision(func(d *protocol.Decision) { d.Target = nil }), Installed: installed100},
			Result{Do: DoNothing, Reason: ReasonNoTarget}},
		{"up to date", Input{Decision: decision(), Installed: &protocol.InstalledApp{VersionCode: 200}, Device: allGood},
			Result{Do: DoNothing, Reason: ReasonUpToDate}},
		{"downgrade refused", Input{Decision: decision(), Installed: &protocol.InstalledApp{VersionCode: 300}, Device: allGood},
			Result{Do: DoNothing, Reason: ReasonDowngrade}},
		{"downgrade allowed", Input{Decision: decision(func(d *protocol.Decision) { d.AllowDowngrade = true }), Installed: &protocol.InstalledApp{VersionCode: 300}, Device: allGood},
			Result{Do: DoInstall}},
		{"absent, updateOnly", Input{Decision: decision(), Device: allGood},
			Result{Do: DoNothing, Reason: ReasonNotInstalled}},
		{"absent, forceInstalled", Input{Decision: decision(func(d *protocol.Decision) { d.InstallType = InstallForceInstalled }), Device: allGood},
			Result{Do: DoInstall}},
		{"default, all hold", Input{Decision: decision(), Installed: installed100, Device: allGood, Now: t0}, Result{Do: DoInstall}},
		{"default, nothing holds", Input{Decision: decision(), Installed: installed100, Device: protocol.DeviceState{ForegroundApp: app}, Now: t0},
			Result{Do: DoWait, WaitingFor: []string{protocol.WaitingForUnmeteredNetwork, protocol.WaitingForCharging, protocol.WaitingForIdle, protocol.WaitingAppInForeground}}},
		{"highPriority ignores constraints and window", Input{Decision: decision(func(d *protocol.Decision) {
			d.Mode = protocol.ModeHighPriority
			d.MaintenanceWindow = &protocol.MaintenanceWindow{Start: "02:00", End: "04:00"}
		}), Installed: installed100, Device: protocol.DeviceState{ForegroundApp: app}, Now: t0}, Result{Do: DoInstall}},
		{"postponed, one second before", Input{Decision: decision(func(d *protocol.Decision) {
			d.Action, d.Mode, d.NotBefore = protocol.ActionPostponed, protocol.ModePostponed, &notBefore
			d.MaintenanceWindow = &protocol.MaintenanceWindow{Start: "02:00", End: "04:00"}
		}), Installed: installed100, Device: allGood, Now: notBefore.Add(-time.Second)},
			Result{Do: DoWait, WaitingFor: []string{protocol.WaitingPostponed}, NotBefore: notBefore, Recheck: notBefore}},
		{"postponed, at notBefore", Input{Decision: decision(func(d *protocol.Decision) {
			d.Action, d.Mode, d.NotBefore = protocol.ActionPostponed, protocol.ModePostponed, &notBefore
		}), Installed: installed100, Device: allGood, Now: notBefore}, Result{Do: DoInstall}},
		{"postponed, one second after, default rules apply", Input{Decision: decision(func(d *protocol.Decision) {
			d.Action, d.Mode, d.NotBefore = protocol.ActionPostponed, protocol.ModePostponed, &notBefore
		}), Installed: installed100, Device: protocol.DeviceState{Unmetered: true, Idle: true}, Now: notBefore.Add(time.Second)},
			Result{Do: DoWait, WaitingFor: []string{protocol.WaitingForCharging}}},
		{"postponed, after, outside window", Input{Decision: decision(func(d *protocol.Decision) {
			d.Action, d.Mode, d.NotBefore = protocol.ActionPostponed, protocol.ModePostponed, &notBefore
			d.MaintenanceWindow = &protocol.MaintenanceWindow{Start: "02:00", End: "04:00"}
		}), Installed: installed100, Device: allGood, Now: notBefore.Add(time.Second)},
			Result{Do: DoWait, WaitingFor: []string{protocol.WaitingOutsideWindow}, Recheck: time.Date(2026, 5, 3, 2, 0, 0, 0, time.UTC)}},
		{"prompt is never silent", Input{Decision: decision(func(d *protocol.Decision) { d.Action = protocol.ActionPrompt }), Installed: installed100, Device: allGood, Now: t0},
			Result{Do: DoPrompt}},
		{"force is never silent", Input{Decision: decision(func(d *protocol.Decision) { d.Action = protocol.ActionForce }), Installed: installed100, Device: allGood, Now: t0},
			Result{Do: DoPrompt}},
		{"user asked: no constraints", Input{Decision: decision(func(d *protocol.Decision) {
			d.Action = protocol.ActionPrompt
			d.MaintenanceWindow = &protocol.MaintenanceWindow{Start: "02:00", End: "04:00"}
		}), Installed: installed100, Device: protocol.DeviceState{ForegroundApp: app}, Now: t0, UserRequested: true}, Result{Do: DoInstall}},
		{"bad window", Input{Decision: decision(func(d *protocol.Decision) {
			d.MaintenanceWindow = &protocol.MaintenanceWindow{Start: "25:00", End: "04:00"}
		}), Installed: installed100, Device: allGood, Now: t0}, Result{Do: DoFailed, Reason: ReasonBadWindow}},
		{"equal window ends mean all day", Input{Decision: decision(func(d *protocol.Decision) {
			d.MaintenanceWindow = &protocol.MaintenanceWindow{Start: "03:00", End: "03:00"}
		}), Installed: installed100, Device: allGood, Now: t0}, Result{Do: DoInstall}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Evaluate(tt.in)); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEvaluateModeConstraintMatrix runs every mode against every sensed
// state (2^4) and every constraint set (defaults, and each constraint
// lifted in turn, and all lifted).
func TestEvaluateModeConstraintMatrix(t *testing.T) {
	lift := map[string]*protocol.Constraints{
		"defaults":           nil,
		"unmetered lifted":   {Charging: true, Idle: true, NotForeground: true},
		"charging lifted":    {UnmeteredNetwork: true, Idle: true, NotForeground: true},
		"idle lifted":        {UnmeteredNetwork: true, Charging: true, NotForeground: true},
		"foreground lifted":  {UnmeteredNetwork: true, Charging: true, Idle: true},
		"everything lifted":  {},
		"everything written": {UnmeteredNetwork: true, Charging: true, Idle: true, NotForeground: true},
	}
	modes := []protocol.Mode{protocol.ModeDefault, protocol.ModeHighPriority, protocol.ModePostponed}
	for _, mode := range modes {
		for cname, cons := range lift {
			for bits := 0; bits < 16; bits++ {
				dev := protocol.DeviceState{Unmetered: bits&1 != 0, Charging: bits&2 != 0, Idle: bits&4 != 0}
				if bits&8 != 0 {
					dev.ForegroundApp = app
				}
				name := fmt.Sprintf("%s/%s/wifi=%t,charging=%t,idle=%t,foreground=%t", mode, cname, dev.Unmetered, dev.Charging, dev.Idle, bits&8 != 0)
				t.Run(name, func(t *testing.T) {
					past := t0.Add(-time.Second)
					dec := decision(func(d *protocol.Decision) {
						d.Mode, d.Constraints = mode, cons
						if mode == protocol.ModePostponed {
							d.Action, d.NotBefore = protocol.ActionPostponed, &past
						}
					})
					need := map[string]bool{"wifi": true, "charging": true, "idle": true}
					if cons != nil {
						need = map[string]bool{"wifi": cons.UnmeteredNetwork, "charging": cons.Charging, "idle": cons.Idle}
					}
					want := Result{Do: DoInstall}
					if mode != protocol.ModeHighPriority {
						var w []string
						if need["wifi"] && !dev.Unmetered {
							w = append(w, protocol.WaitingForUnmeteredNetwork)
						}
						if need["charging"] && !dev.Charging {
							w = append(w, protocol.WaitingForCharging)
						}
						if need["idle"] && !dev.Idle {
							w = append(w, protocol.WaitingForIdle)
						}
						if dev.ForegroundApp == app { // never replaced in the foreground
							w = append(w, protocol.WaitingAppInForeground)
						}
						if len(w) > 0 {
							want = Result{Do: DoWait, WaitingFor: w}
						}
					}
					got := Evaluate(Input{Decision: dec, Installed: installed100, Device: dev, Now: t0})
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("Evaluate (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

func TestEvaluateRetryBudget(t *testing.T) {
	dec := decision(func(d *protocol.Decision) { d.Mode = protocol.ModeHighPriority })
	var r Retry
	now := t0
	var got []Result
	for i := 0; i < DefaultRetryBudget; i++ {
		res := Evaluate(Input{Decision: dec, Installed: installed100, Now: now, Retry: r})
		got = append(got, res)
		if res.Do != DoInstall {
			break
		}
		r = r.Failed(dec, "INSTALL_FAILED_INSUFFICIENT_STORAGE", now)
		// One second before the backoff ends it still waits.
		next := now.Add(Backoff(r.Attempts))
		got = append(got, Evaluate(Input{Decision: dec, Installed: installed100, Now: next.Add(-time.Second), Retry: r}))
		now = next
	}
	got = append(got, Evaluate(Input{Decision: dec, Installed: installed100, Now: now.Add(time.Hour), Retry: r}))
	var want []Result
	at := t0
	for i := 1; i <= DefaultRetryBudget; i++ {
		next := at.Add(Backoff(i))
		want = append(want, Result{Do: DoInstall})
		if i < DefaultRetryBudget {
			want = append(want, Result{Do: DoWait, WaitingFor: []string{WaitingRetry}, NotBefore: next, Recheck: next})
		}
		at = next
	}
	// The last failure spends the budget: FAILED at once, and still later.
	failed := Result{Do: DoFailed, Reason: "INSTALL_FAILED_INSUFFICIENT_STORAGE"}
	want = append(want, failed, failed)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("retry sequence (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}, []time.Duration{Backoff(1), Backoff(2), Backoff(3), Backoff(4), Backoff(5)}); diff != "" {
		t.Errorf("backoff (-want +got):\n%s", diff)
	}
	if Backoff(40) != RetryMax {
		t.Errorf("Backoff(40) = %s, want the cap %s", Backoff(40), RetryMax)
	}

	// A new decision id, or a new target, starts afresh.
	newID := dec
	newID.DecisionID = "d2"
	newTarget := dec
	newTarget.Target = &protocol.Target{VersionCode: 300, Artifact: &protocol.Artifact{}}
	for name, d := range map[string]protocol.Decision{"new id": newID, "new target": newTarget} {
		if diff := cmp.Diff(Result{Do: DoInstall}, Evaluate(Input{Decision: d, Installed: installed100, Now: now, Retry: r})); diff != "" {
			t.Errorf("%s after FAILED (-want +got):\n%s", name, diff)
		}
	}
}

func TestDescribe(t *testing.T) {
	nb := time.Date(2026, 7, 31, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		r    Result
		want string
	}{
		{"postponed", Result{Do: DoWait, WaitingFor: []string{protocol.WaitingPostponed}, NotBefore: nb}, "POSTPONED_UNTIL 2026-07-31T00:00:00Z"},
		{"several", Result{Do: DoWait, WaitingFor: []string{protocol.WaitingForCharging, protocol.WaitingForIdle}}, "WAITING_FOR_CHARGING, WAITING_FOR_IDLE"},
		{"failed", Result{Do: DoFailed, Reason: "HASH_MISMATCH"}, "FAILED: HASH_MISMATCH"},
		{"install", Result{Do: DoInstall}, "install"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Describe(); got != tt.want {
				t.Errorf("Describe() = %q, want %q", got, tt.want)
			}
		})
	}
}
