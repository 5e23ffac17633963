package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/sluice-mdm/sluice/agent"
	"github.com/sluice-mdm/sluice/internal/client"
	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// eventsStream is the JetStream stream the controller captures device
// events in (controller.DefaultStoreNames().Events).
const eventsStream = "EVENTS"

// agentApp is the pseudo-package of events about the agent itself
// (agent.AgentApp).
const agentApp = "sluice.agent"

// repoRoot is the module's root directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate this test file")
	}
	return filepath.Dir(filepath.Dir(file))
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for processes that must be told their port up front.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("free port %s: %v", addr, err)
	}
	return addr
}

// eventually polls cond every 50 ms until it holds, fails or timeout
// passes; the failure names what was awaited and the last error seen.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				t.Fatalf("waited %s for %s; last error: %v", timeout, what, last)
			}
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// versions maps each package of apps to its versionName.
func versions(apps map[string]protocol.InstalledApp) map[string]string {
	out := map[string]string{}
	for pkg, a := range apps {
		out[pkg] = a.VersionName
	}
	return out
}

// reasonCodes lists the codes of reasons.
func reasonCodes(rs []protocol.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Code
	}
	return out
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fixedZone returns an Etc/GMT zone in which the local time at now falls
// in the hour starting at localHour (0 to 23). Etc zones span UTC-12 to
// UTC+14, so one always exists.
func fixedZone(now time.Time, localHour int) string {
	utc := now.UTC().Hour()
	for off := -12; off <= 14; off++ {
		if (utc+off+48)%24 == localHour {
			return etcZone(off)
		}
	}
	panic(fmt.Sprintf("no Etc zone has local hour %d at %s", localHour, now))
}

// etcZone names the Etc zone of a UTC offset in hours. Etc/GMT signs are
// inverted: Etc/GMT-5 is UTC+5.
func etcZone(off int) string {
	switch {
	case off == 0:
		return "Etc/GMT"
	case off > 0:
		return fmt.Sprintf("Etc/GMT-%d", off)
	}
	return fmt.Sprintf("Etc/GMT+%d", -off)
}

// joinLines is strings.Join with newlines, for messages.
func joinLines(s []string) string { return strings.Join(s, "\n") }

// scenarioTimeout bounds every wait of a scenario.
const scenarioTimeout = 60 * time.Second

// startSystem starts a sandbox system in a temporary directory; the
// test's cleanup closes it.
func startSystem(t *testing.T, cfg sandbox.Config) *sandbox.System {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Logger == nil {
		book := newLogBook(3000)
		book.dumpOnFailure(t)
		cfg.Logger = slog.New(book)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sandbox.StartTimeout)
	defer cancel()
	sys, err := sandbox.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start system: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := sys.Close(ctx); err != nil {
			t.Errorf("close system: %v", err)
		}
	})
	return sys
}

// applyYAML applies manifests given inline, each as one named file, in
// one request.
func applyYAML(t *testing.T, ctx context.Context, sys *sandbox.System, files map[string]string) client.ApplyResult {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	res, err := sys.Apply(ctx, fsys, sortedKeys(files)...)
	if err != nil {
		t.Fatalf("apply %v: %v", sortedKeys(files), err)
	}
	return res
}

// pushReleases uploads test APKs through the admin API.
func pushReleases(t *testing.T, ctx context.Context, sys *sandbox.System, files ...string) map[string]policy.Release {
	t.Helper()
	out := map[string]policy.Release{}
	for _, f := range files {
		rel, err := sys.PushRelease(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = rel
	}
	return out
}

// startDevice starts one simulated device.
func startDevice(t *testing.T, ctx context.Context, sys *sandbox.System, spec sandbox.DeviceSpec) *sandbox.Device {
	t.Helper()
	d, err := sys.StartDevice(ctx, spec)
	if err != nil {
		t.Fatalf("start device %s: %v", spec.ID, err)
	}
	return d
}

// waitFor is sandbox.WaitFor failing the test.
func waitFor(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	if err := sandbox.WaitFor(ctx, timeout, what, cond); err != nil {
		t.Fatal(err)
	}
}

// installed reads the versions installed on a sim device.
func installed(t *testing.T, ctx context.Context, d *sandbox.Device) map[string]string {
	t.Helper()
	apps, err := d.Installed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return versions(apps)
}

// waitVersion waits until the sim device has pkg at version.
func waitVersion(t *testing.T, ctx context.Context, d *sandbox.Device, pkg, version string) {
	t.Helper()
	waitFor(t, ctx, scenarioTimeout, fmt.Sprintf("%s to install %s %s", d.ID(), pkg, version), func() (bool, error) {
		apps, err := d.Installed(ctx)
		if err != nil {
			return false, err
		}
		got := apps[pkg].VersionName
		return got == version, fmt.Errorf("%s has %s %q", d.ID(), pkg, got)
	})
}

// appStatus is the agent's status of one app, and whether it has one.
func appStatus(d *sandbox.Device, pkg string) (agent.AppStatus, bool) {
	for _, a := range d.Status().Apps {
		if a.App == pkg {
			return a, true
		}
	}
	return agent.AppStatus{}, false
}

// waitAcknowledged waits until the controller's last directive for the
// device is the one the device last reported enforcing, and returns the
// explanation for app at that point.
func waitAcknowledged(t *testing.T, ctx context.Context, sys *sandbox.System, id, app string) client.Explanation {
	t.Helper()
	var ex client.Explanation
	waitFor(t, ctx, scenarioTimeout, id+" to acknowledge its directive", func() (bool, error) {
		var err error
		ex, err = sys.Client().Explain(ctx, id, app)
		if err != nil {
			return false, err
		}
		if ex.Directive == nil || ex.Directive.Sequence == 0 {
			return false, errors.New("no directive issued yet")
		}
		return ex.Directive.Acknowledged == ex.Directive.Sequence,
			fmt.Errorf("directive %d, acknowledged %d", ex.Directive.Sequence, ex.Directive.Acknowledged)
	})
	return ex
}

// decisionOf is the one decision of an explanation, as "action [codes]
// -> target".
func decisionOf(t *testing.T, ex client.Explanation) string {
	t.Helper()
	if len(ex.Decisions) != 1 {
		t.Fatalf("explain %s: %d decisions, want 1", ex.Device.ID, len(ex.Decisions))
	}
	return describe(ex.Decisions[0])
}

// describe summarises a decision as "action [codes] -> target".
func describe(d protocol.Decision) string {
	s := fmt.Sprintf("%s %v", d.Action, reasonCodes(d.Reasons))
	if d.Target != nil {
		s += " -> " + d.Target.VersionName
	}
	return s
}

// decisionTrail reads the decision log of (device, app) and returns the
// decisions in order, consecutive repeats collapsed.
func decisionTrail(t *testing.T, ctx context.Context, sys *sandbox.System, device, app string) []string {
	t.Helper()
	entries, err := sys.Client().Decisions(ctx, client.DecisionQuery{Device: device, App: app, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, e := range entries {
		d, err := e.Decision()
		if err != nil {
			t.Fatal(err)
		}
		s := describe(d)
		if len(trail) == 0 || trail[len(trail)-1] != s {
			trail = append(trail, s)
		}
	}
	return trail
}

// clientQuery selects the decision log of one device and app.
func clientQuery(device, app string) client.DecisionQuery {
	return client.DecisionQuery{Device: device, App: app, Limit: 1000}
}

// waitDecision waits until the controller decides want ("action [codes]
// -> target", see describe) for (device, app), its last directive is the
// one the agent enforces and has acknowledged, and the agent's decision
// for app has want's action and target. (Explain decides afresh, so its
// answer alone may run ahead of the directive the device holds.) It
// returns the explanation.
func waitDecision(t *testing.T, ctx context.Context, sys *sandbox.System, d *sandbox.Device, app, want string) client.Explanation {
	t.Helper()
	var ex client.Explanation
	waitFor(t, ctx, scenarioTimeout, fmt.Sprintf("%s %s decided %q and enforced", d.ID(), app, want), func() (bool, error) {
		var err error
		if ex, err = sys.Client().Explain(ctx, d.ID(), app); err != nil {
			return false, err
		}
		if len(ex.Decisions) != 1 {
			return false, fmt.Errorf("%d decisions", len(ex.Decisions))
		}
		got := describe(ex.Decisions[0])
		if got != want {
			return false, fmt.Errorf("decided %q", got)
		}
		if ex.Directive == nil || ex.Directive.Sequence == 0 || ex.Directive.Acknowledged != ex.Directive.Sequence {
			return false, fmt.Errorf("directive %+v not acknowledged", ex.Directive)
		}
		seq := d.Status().DirectiveSequence
		s, _ := appStatus(d, app)
		enforced := s.Action + " "
		if s.TargetVersion != "" {
			enforced += "-> " + s.TargetVersion
		}
		wantAction, _, _ := strings.Cut(want, " ")
		wantEnforced := wantAction + " "
		if _, target, ok := strings.Cut(want, "-> "); ok {
			wantEnforced += "-> " + target
		}
		if seq != ex.Directive.Sequence || enforced != wantEnforced && !(wantAction == "none" && s.Action == "none") {
			return false, fmt.Errorf("the agent enforces sequence %d (%q), the controller issued %d", seq, enforced, ex.Directive.Sequence)
		}
		return true, nil
	})
	return ex
}

// containsAll reports whether s contains every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
