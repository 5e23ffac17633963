package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/protocol"
)

// governed is the manifests of one policy applied to one group: an
// UpdatePolicy with spec, a DeviceGroup with selector and an Assignment
// of the one to the other, all called name.
func governed(name, selector, spec string) string {
	return fmt.Sprintf(`apiVersion: sluice.dev/v1
kind: UpdatePolicy
metadata: {name: %[1]s}
spec:
  %[3]s
---
apiVersion: sluice.dev/v1
kind: DeviceGroup
metadata: {name: %[1]s}
spec: {selector: "%[2]s"}
---
apiVersion: sluice.dev/v1
kind: Assignment
metadata: {name: %[1]s}
spec: {policy: %[1]s, groups: [%[1]s], priority: 10}
`, name, selector, strings.ReplaceAll(strings.TrimSpace(spec), "\n", "\n  "))
}

// installEvents counts the download and install events of app.
func installEvents(evs []protocol.Event, app string) map[string]int {
	return countEvents(eventsNamed(evs, app, protocol.EventDownloadStart, protocol.EventDownloadComplete,
		protocol.EventInstallStart, protocol.EventInstallResult, protocol.EventVerifyFailed))
}

// oneInstall is what installEvents counts for one clean install of app.
func oneInstall(app string) map[string]int {
	return map[string]int{
		app + " DownloadStart": 1, app + " DownloadComplete": 1, app + " InstallStart": 1, app + " InstallResult": 1,
	}
}

// TestDefaultAndHighPriority: default mode waits for each constraint in
// turn and for its maintenance window; highPriority installs at once with
// every constraint unmet.
func TestDefaultAndHighPriority(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	clock := sandbox.NewClock(time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC))
	sys := startSystem(t, sandbox.Config{Clock: clock})
	applyYAML(t, ctx, sys, map[string]string{
		"default.yaml": governed("pos-default", "mode=default", "app: com.example.pos\nmode: default"),
		"window.yaml":  governed("pos-window", "mode=window", "app: com.example.pos\nmode: default\nmaintenanceWindow: {start: \"22:00\", end: \"06:00\"}"),
		"high.yaml":    governed("pos-high", "mode=high", "app: com.example.pos\nmode: highPriority"),
	})
	off := []string{"wifi=off", "charging=off", "idle=off"}
	def := startDevice(t, ctx, sys, sandbox.DeviceSpec{ID: "till-default", Labels: map[string]string{"mode": "default"}, Installed: []string{"pos-1.0.0.apk"}, State: off})
	win := startDevice(t, ctx, sys, sandbox.DeviceSpec{ID: "till-window", Labels: map[string]string{"mode": "window"}, TimeZone: "UTC",
		Installed: []string{"pos-1.0.0.apk"}, State: []string{"wifi=on", "charging=on", "idle=on"}})
	high := startDevice(t, ctx, sys, sandbox.DeviceSpec{ID: "till-high", Labels: map[string]string{"mode": "high"}, Installed: []string{"pos-1.0.0.apk"}, State: off})
	for _, d := range []*sandbox.Device{def, win, high} {
		waitAcknowledged(t, ctx, sys, d.ID(), posApp)
	}
	pushReleases(t, ctx, sys, "pos-2.0.0.apk")

	// highPriority: at once, on mobile data, unplugged, in use.
	waitVersion(t, ctx, high, posApp, "2.0.0")

	// default: each constraint in turn, the app in use last.
	steps := []struct {
		name string
		set  []string
		want []string
	}{
		{name: "nothing holds", want: []string{protocol.WaitingForUnmeteredNetwork, protocol.WaitingForCharging, protocol.WaitingForIdle}},
		{name: "wifi", set: []string{"wifi=on"}, want: []string{protocol.WaitingForCharging, protocol.WaitingForIdle}},
		{name: "charging", set: []string{"charging=on"}, want: []string{protocol.WaitingForIdle}},
		{name: "idle, app in use", set: []string{"idle=on", "foreground=" + posApp}, want: []string{protocol.WaitingAppInForeground}},
	}
	for _, st := range steps {
		if len(st.set) > 0 {
			if err := def.Set(ctx, st.set...); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, ctx, scenarioTimeout, "till-default waiting for "+strings.Join(st.want, ", "), func() (bool, error) {
			s, _ := appStatus(def, posApp)
			return s.State == "waiting" && slices.Equal(s.WaitingFor, st.want), fmt.Errorf("status %s %v", s.State, s.WaitingFor)
		})
		if diff := cmp.Diff(map[string]string{posApp: "1.0.0"}, installed(t, ctx, def)); diff != "" {
			t.Fatalf("after %s, till-default installed (-want +got):\n%s", st.name, diff)
		}
	}
	if err := def.Set(ctx, "foreground=none"); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, ctx, def, posApp, "2.0.0")

	// The window: every constraint holds, but 09:00 is outside 22:00–06:00.
	waitFor(t, ctx, scenarioTimeout, "till-window waiting for its window", func() (bool, error) {
		s, _ := appStatus(win, posApp)
		return slices.Equal(s.WaitingFor, []string{protocol.WaitingOutsideWindow}), fmt.Errorf("status %s %v", s.State, s.WaitingFor)
	})
	if diff := cmp.Diff(map[string]string{posApp: "1.0.0"}, installed(t, ctx, win)); diff != "" {
		t.Fatalf("till-window installed outside its window (-want +got):\n%s", diff)
	}
	clock.Set(time.Date(2026, 5, 4, 22, 30, 0, 0, time.UTC))
	waitVersion(t, ctx, win, posApp, "2.0.0")

	// What the controller recorded.
	for _, tc := range []struct {
		dev    *sandbox.Device
		policy string
	}{{def, "pos-default"}, {win, "pos-window"}, {high, "pos-high"}} {
		ex := waitDecision(t, ctx, sys, tc.dev, posApp, "none [UP_TO_DATE]")
		if diff := cmp.Diff(tc.policy, ex.Decisions[0].Policy.Name); diff != "" {
			t.Errorf("%s policy (-want +got):\n%s", tc.dev.ID(), diff)
		}
		want := []string{"none [NO_NEWER_RELEASE]", "install [UPDATE_AVAILABLE] -> 2.0.0", "none [UP_TO_DATE]"}
		if diff := cmp.Diff(want, decisionTrail(t, ctx, sys, tc.dev.ID(), posApp)); diff != "" {
			t.Errorf("%s decision log (-want +got):\n%s", tc.dev.ID(), diff)
		}
		evs := waitEvents(t, ctx, sys, tc.dev.ID(), map[string]int{posApp + " InstallResult": 1})
		if diff := cmp.Diff(oneInstall(posApp), installEvents(evs, posApp)); diff != "" {
			t.Errorf("%s events (-want +got):\n%s", tc.dev.ID(), diff)
		}
	}
	ex, err := sys.Client().Decisions(ctx, clientQuery("till-high", posApp))
	if err != nil {
		t.Fatal(err)
	}
	var modes []string
	for _, e := range ex {
		d, _ := e.Decision()
		if d.Action == protocol.ActionInstall {
			modes = append(modes, string(d.Mode))
		}
	}
	if len(modes) == 0 || modes[0] != string(protocol.ModeHighPriority) {
		t.Errorf("till-high install decisions have modes %v; want highPriority", modes)
	}
}

// TestPostponedMode replays DESIGN.md's worked example: POS 1.0.0
// installed; 2.0.0 published May 2 starts a 90-day period; 3.0.0 on June 6
// does not restart it; on July 31 the latest version installs under
// default-mode rules.
func TestPostponedMode(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	clock := sandbox.NewClock(time.Date(2026, 5, 2, 9, 0, 0, 0, time.UTC))
	sys := startSystem(t, sandbox.Config{Clock: clock})
	applyYAML(t, ctx, sys, map[string]string{
		"postponed.yaml": governed("pos-postponed", "store=munich-03", "app: com.example.pos\nmode: postponed\npostponeDays: 90"),
	})
	dev := startDevice(t, ctx, sys, sandbox.DeviceSpec{ID: "till-munich", Labels: map[string]string{"store": "munich-03"},
		Installed: []string{"pos-1.0.0.apk"}, State: []string{"wifi=on", "charging=on", "idle=on"}})
	waitAcknowledged(t, ctx, sys, dev.ID(), posApp)
	first := pushReleases(t, ctx, sys, "pos-2.0.0.apk")["pos-2.0.0.apk"]
	notBefore := first.PublishedAt.Add(90 * 24 * time.Hour)

	postponed := func(target string) {
		t.Helper()
		waitFor(t, ctx, scenarioTimeout, "till-munich postponing "+target, func() (bool, error) {
			s, _ := appStatus(dev, posApp)
			got := fmt.Sprintf("%s %s %v %s", s.Action, s.TargetVersion, s.WaitingFor, s.NotBefore.UTC().Format(time.RFC3339Nano))
			want := fmt.Sprintf("postponed %s [POSTPONED] %s", target, notBefore.UTC().Format(time.RFC3339Nano))
			return got == want, fmt.Errorf("status %q, want %q", got, want)
		})
		if diff := cmp.Diff(map[string]string{posApp: "1.0.0"}, installed(t, ctx, dev)); diff != "" {
			t.Fatalf("till-munich installed during its postponement (-want +got):\n%s", diff)
		}
	}
	postponed("2.0.0")
	clock.Set(time.Date(2026, 6, 6, 9, 0, 0, 0, time.UTC))
	pushReleases(t, ctx, sys, "pos-3.0.0.apk")
	postponed("3.0.0")
	ex := waitDecision(t, ctx, sys, dev, posApp, "postponed [POSTPONED] -> 3.0.0")
	if d := ex.Decisions[0]; d.NotBefore == nil || !d.NotBefore.Equal(notBefore) {
		t.Errorf("decision notBefore = %v; want %s, set by 2.0.0 and not restarted by 3.0.0", d.NotBefore, notBefore)
	}

	// A day before the end nothing moves; after it, 3.0.0 installs.
	clock.Set(notBefore.Add(-24 * time.Hour))
	postponed("3.0.0")
	clock.Set(notBefore.Add(time.Hour))
	waitVersion(t, ctx, dev, posApp, "3.0.0")
	waitDecision(t, ctx, sys, dev, posApp, "none [UP_TO_DATE]")
	want := []string{"none [NO_NEWER_RELEASE]", "postponed [POSTPONED] -> 2.0.0", "postponed [POSTPONED] -> 3.0.0",
		"install [UPDATE_AVAILABLE] -> 3.0.0", "none [UP_TO_DATE]"}
	if diff := cmp.Diff(want, decisionTrail(t, ctx, sys, dev.ID(), posApp)); diff != "" {
		t.Errorf("decision log (-want +got):\n%s", diff)
	}
	evs := waitEvents(t, ctx, sys, dev.ID(), map[string]int{posApp + " InstallResult": 1})
	if diff := cmp.Diff(oneInstall(posApp), installEvents(evs, posApp)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
