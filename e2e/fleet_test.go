package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/sluice-mdm/sluice/agent"
	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/protocol"
)

// waitEnforcing waits until every device's agent enforces a directive in
// which its POS decision has action, and the controller holds a report
// of that sequence; it returns each device's sequence.
func waitEnforcing(t *testing.T, ctx context.Context, sys *sandbox.System, devs []*sandbox.Device, action protocol.Action) map[string]uint64 {
	t.Helper()
	seqs := map[string]uint64{}
	waitFor(t, ctx, 2*time.Minute, fmt.Sprintf("%d devices enforcing a %s decision, acknowledged", len(devs), action), func() (bool, error) {
		inv := inventory(t, ctx, sys)
		for _, d := range devs {
			st := d.Status()
			s, _ := appStatus(d, posApp)
			rep := inv[d.ID()].LastReport
			if s.Action != string(action) || rep == nil || rep.DirectiveSequence != st.DirectiveSequence {
				return false, fmt.Errorf("%s: action %q, sequence %d, reported %v", d.ID(), s.Action, st.DirectiveSequence, rep)
			}
			seqs[d.ID()] = st.DirectiveSequence
		}
		return true, nil
	})
	return seqs
}

// reportWatch records, per device, when a report first carried a
// directive sequence above a floor.
type reportWatch struct {
	mu    sync.Mutex
	floor map[string]uint64
	at    map[string]time.Time
}

func (w *reportWatch) handle(m *nats.Msg) {
	now := time.Now()
	var r protocol.DeviceReport
	if json.Unmarshal(m.Data, &r) != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if f, ok := w.floor[r.DeviceID]; ok && r.DirectiveSequence > f && w.at[r.DeviceID].IsZero() {
		w.at[r.DeviceID] = now
	}
}

func (w *reportWatch) acked() map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]time.Time, len(w.at))
	for k, v := range w.at {
		out[k] = v
	}
	return out
}

// change is the timing of one policy change: how long the apply request
// took, and when the devices reported enforcing the new directive,
// counted from the start of the request.
type change struct {
	apply, median, last time.Duration
}

// measureChange applies a change and waits until every device of floor
// reports a directive sequence above its floor.
func measureChange(t *testing.T, ctx context.Context, sys *sandbox.System, floor map[string]uint64, apply func()) change {
	t.Helper()
	nc, err := nats.Connect(sys.NATSURL(), nats.Name("e2e report watch"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	w := &reportWatch{floor: floor, at: map[string]time.Time{}}
	if _, err := nc.Subscribe(protocol.AllReportSubjects, w.handle); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	apply()
	c := change{apply: time.Since(start)}
	waitFor(t, ctx, 2*time.Minute, fmt.Sprintf("all %d devices acknowledging the new directive", len(floor)), func() (bool, error) {
		got := len(w.acked())
		return got == len(floor), fmt.Errorf("%d of %d acknowledged", got, len(floor))
	})
	var lat []time.Duration
	for _, at := range w.acked() {
		lat = append(lat, at.Sub(start))
	}
	slices.Sort(lat)
	c.median, c.last = lat[len(lat)/2], lat[len(lat)-1]
	return c
}

// TestPolicyChangeReachesAllDevices changes the policy of 200 online
// agents and measures the time from the apply request to the last device
// reporting that it enforces the new directive. The baseline, in the same
// system, is the same change to a policy that governs one device.
func TestPolicyChangeReachesAllDevices(t *testing.T) {
	t.Parallel()
	const n = 200
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	sys := startSystem(t, sandbox.Config{SenseInterval: 30 * time.Second, ReportInterval: 10 * time.Minute})
	const before, after = "app: com.example.pos\nmode: default", "app: com.example.pos\nmode: postponed\npostponeDays: 30"
	applyYAML(t, ctx, sys, map[string]string{
		"fleet.yaml": governed("pos-fleet", "fleet=wide", before),
		"solo.yaml":  governed("pos-solo", "fleet=solo", before),
	})
	pushReleases(t, ctx, sys, "pos-2.0.0.apk")
	start := time.Now()
	devs := startFleet(t, ctx, sys, "pos", n, map[string]string{"fleet": "wide"})
	solo := startFleet(t, ctx, sys, "solo", 1, map[string]string{"fleet": "solo"})
	first := waitEnforcing(t, ctx, sys, devs, protocol.ActionInstall)
	soloSeq := waitEnforcing(t, ctx, sys, solo, protocol.ActionInstall)
	t.Logf("%d agents started and enforcing their first directive in %s", n+1, time.Since(start).Round(time.Millisecond))

	one := measureChange(t, ctx, sys, soloSeq, func() {
		applyYAML(t, ctx, sys, map[string]string{"solo.yaml": governed("pos-solo", "fleet=solo", after)})
	})
	all := measureChange(t, ctx, sys, first, func() {
		applyYAML(t, ctx, sys, map[string]string{"fleet.yaml": governed("pos-fleet", "fleet=wide", after)})
	})
	t.Logf("policy change to 1 agent (baseline): apply answered in %s, acknowledged after %s",
		one.apply.Round(time.Millisecond), one.last.Round(time.Millisecond))
	t.Logf("policy change to %d agents: apply answered in %s; median device acknowledged after %s, last after %s (%.1f× the baseline)",
		n, all.apply.Round(time.Millisecond), all.median.Round(time.Millisecond), all.last.Round(time.Millisecond),
		float64(all.last)/float64(one.last))

	// Every agent enforces the new decision, and the controller saw it.
	now := waitEnforcing(t, ctx, sys, devs, protocol.ActionPostponed)
	for _, d := range devs {
		if now[d.ID()] != first[d.ID()]+1 {
			t.Errorf("%s went from sequence %d to %d; want exactly one new directive", d.ID(), first[d.ID()], now[d.ID()])
		}
		if s, _ := appStatus(d, posApp); s.Mode != string(protocol.ModePostponed) {
			t.Errorf("%s enforces mode %q; want postponed", d.ID(), s.Mode)
		}
	}
	want := map[string]string{}
	for _, d := range devs {
		want[d.ID()] = "1.0.0"
	}
	if diff := cmp.Diff(want, fleetVersions(t, ctx, devs)); diff != "" {
		t.Errorf("installed (-want +got):\n%s", diff)
	}
	// Each device applied its two directives, in order, and nothing else.
	for _, d := range devs {
		got := appliedSequences(t, deviceEvents(t, ctx, sys, d.ID()))
		if diff := cmp.Diff([]uint64{first[d.ID()], first[d.ID()] + 1}, got); diff != "" {
			t.Errorf("%s applied sequences (-want +got):\n%s", d.ID(), diff)
		}
	}
}

// appliedSequences lists the sequences of a device's DirectiveApplied
// events, in order.
func appliedSequences(t *testing.T, evs []protocol.Event) []uint64 {
	t.Helper()
	var out []uint64
	for _, e := range eventsNamed(evs, agentApp, protocol.EventDirectiveApplied) {
		f := strings.Fields(e.Params[protocol.ParamReason])
		if len(f) < 2 || f[0] != "sequence" {
			t.Fatalf("DirectiveApplied reason %q does not start with the sequence", e.Params[protocol.ParamReason])
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			t.Fatalf("DirectiveApplied reason %q: %v", e.Params[protocol.ParamReason], err)
		}
		out = append(out, n)
	}
	return out
}

// TestOfflineDeviceCatchesUp: a device whose agent is stopped misses two
// policy changes; on reconnect it receives and applies only the latest
// directive, while an online device applied both.
func TestOfflineDeviceCatchesUp(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys := startSystem(t, sandbox.Config{})
	apply := func(spec string) {
		applyYAML(t, ctx, sys, map[string]string{"pos.yaml": governed("pos-shop", "shop=1", "app: com.example.pos\n"+spec)})
	}
	apply("mode: default")
	pushReleases(t, ctx, sys, "pos-2.0.0.apk")
	labels := map[string]string{"shop": "1"}
	off := startDevice(t, ctx, sys, sandbox.DeviceSpec{ID: "till-offline", Labels: labels, Installed: []string{"pos-1.0.0.apk"}})
	on := startDevice(t, ctx, sys, sandbox.DeviceSpec{ID: "till-online", Labels: labels, Installed: []string{"pos-1.0.0.apk"}})
	seq := waitEnforcing(t, ctx, sys, []*sandbox.Device{off, on}, protocol.ActionInstall)
	if err := off.Stop(); err != nil {
		t.Fatal(err)
	}

	apply("mode: default\nmaintenanceWindow: {start: \"01:00\", end: \"02:00\"}")
	waitFor(t, ctx, scenarioTimeout, "till-online applying the maintenance window", func() (bool, error) {
		return on.Status().DirectiveSequence == seq[on.ID()]+1, nil
	})
	apply("mode: highPriority")
	waitVersion(t, ctx, on, posApp, "2.0.0")
	if got := installed(t, ctx, off)[posApp]; got != "1.0.0" {
		t.Fatalf("till-offline has POS %s while its agent is stopped", got)
	}
	ex, err := sys.Client().Explain(ctx, off.ID(), posApp)
	if err != nil {
		t.Fatal(err)
	}
	latest := ex.Directive.Sequence
	if latest != seq[off.ID()]+2 {
		t.Errorf("the controller issued till-offline sequence %d; want %d (two changes after %d)", latest, seq[off.ID()]+2, seq[off.ID()])
	}

	if err := off.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, ctx, off, posApp, "2.0.0")
	waitDecision(t, ctx, sys, off, posApp, "none [UP_TO_DATE]")

	// The offline device applied its first directive, then the latest
	// (and after its install, the up-to-date one); the online one every
	// directive in order.
	evs := waitEvents(t, ctx, sys, off.ID(), map[string]int{posApp + " InstallResult": 1})
	got := appliedSequences(t, evs)
	if len(got) < 2 || !slices.Equal(got[:2], []uint64{seq[off.ID()], latest}) || !slices.IsSorted(got) {
		t.Errorf("till-offline applied sequences %v; want %d, %d (nothing in between), then only later ones", got, seq[off.ID()], latest)
	}
	if n := countEvents(evs, protocol.EventDirectiveRejected); len(n) > 0 {
		t.Errorf("till-offline rejected directives: %v", n)
	}
	onSeqs := appliedSequences(t, waitEvents(t, ctx, sys, on.ID(), map[string]int{posApp + " InstallResult": 1}))
	s0 := seq[on.ID()]
	if len(onSeqs) < 3 || !slices.Equal(onSeqs[:3], []uint64{s0, s0 + 1, s0 + 2}) {
		t.Errorf("till-online applied sequences %v; want %d, %d, %d first", onSeqs, s0, s0+1, s0+2)
	}
	if diff := cmp.Diff(oneInstall(posApp), installEvents(evs, posApp)); diff != "" {
		t.Errorf("till-offline install events (-want +got):\n%s", diff)
	}
}

// TestControllerRestartMidRollout stops the controller while half of a
// fleet has updated and the other half is about to download from it;
// after the restart every device converges, and every install and report
// made meanwhile reaches the controller exactly once.
func TestControllerRestartMidRollout(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	clock := sandbox.NewClock(time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC))
	sys := startSystem(t, sandbox.Config{Clock: clock, SenseInterval: time.Second})
	applyYAML(t, ctx, sys, map[string]string{"pos.yaml": governed("pos-wave", "wave=1", "app: com.example.pos\nmode: default")})
	devs := startFleet(t, ctx, sys, "wave", 20, map[string]string{"wave": "1"})
	waitEnforcing(t, ctx, sys, devs, protocol.ActionNone)
	pushReleases(t, ctx, sys, "pos-2.0.0.apk")
	waitEnforcing(t, ctx, sys, devs, protocol.ActionInstall)
	first, second := devs[:10], devs[10:]
	ready := []string{"wifi=on", "charging=on", "idle=on"}
	for _, d := range first {
		if err := d.Set(ctx, ready...); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{}
	for _, d := range first {
		want[d.ID()] = "2.0.0"
	}
	waitFleet(t, ctx, first, 2*time.Minute, want)

	// The controller goes away; the second half is ready to update now.
	if err := sys.StopController(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range second {
		if err := d.Set(ctx, ready...); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, scenarioTimeout, "the second half trying to download from the stopped controller", func() (bool, error) {
		for _, d := range second {
			s, _ := appStatus(d, posApp)
			if s.State != agent.PhaseDownloading && s.Attempts == 0 {
				return false, fmt.Errorf("%s is %s", d.ID(), s.State)
			}
		}
		return true, nil
	})
	if err := sys.RestartController(ctx); err != nil {
		t.Fatal(err)
	}
	// Past any retry backoff of a failed attempt.
	clock.Advance(time.Hour)
	for _, d := range second {
		want[d.ID()] = "2.0.0"
	}
	waitFleet(t, ctx, devs, 2*time.Minute, want)

	for _, d := range devs {
		waitDecision(t, ctx, sys, d, posApp, "none [UP_TO_DATE]")
		evs := waitEvents(t, ctx, sys, d.ID(), map[string]int{posApp + " InstallResult": 1})
		var ok []protocol.Event
		for _, e := range eventsNamed(evs, posApp, protocol.EventInstallResult) {
			if e.Params[protocol.ParamSuccess] == "true" {
				ok = append(ok, e)
			}
		}
		if len(ok) != 1 {
			t.Errorf("%s has %d successful InstallResult events; want exactly 1", d.ID(), len(ok))
		}
		ids := map[string]bool{}
		for _, e := range evs {
			if ids[e.ID] {
				t.Errorf("%s: event %s stored twice", d.ID(), e.ID)
			}
			ids[e.ID] = true
		}
	}
	inv := inventory(t, ctx, sys)
	got := map[string]string{}
	for _, d := range devs {
		got[d.ID()] = inv[d.ID()].Device.Apps[posApp].VersionName
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("controller inventory after the restart (-want +got):\n%s", diff)
	}
}
