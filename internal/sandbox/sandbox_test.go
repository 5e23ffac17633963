package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/agent"
	"github.com/sluice-mdm/sluice/internal/client"
	"github.com/sluice-mdm/sluice/protocol"
)

const (
	pos   = "com.example.pos"
	kiosk = "com.example.kiosk"
)

// manifests: the POS app installs at once on every device of store t1;
// the kiosk app waits 90 days after it becomes out of date.
var manifests = fstest.MapFS{
	"fleet/policies.yaml": {Data: []byte(`apiVersion: sluice.dev/v1
kind: UpdatePolicy
metadata: {name: pos-now}
spec: {app: com.example.pos, platforms: [android], mode: highPriority}
---
apiVersion: sluice.dev/v1
kind: UpdatePolicy
metadata: {name: kiosk-later}
spec: {app: com.example.kiosk, platforms: [android], mode: postponed, postponeDays: 90}
`)},
	"fleet/groups.yaml": {Data: []byte(`apiVersion: sluice.dev/v1
kind: DeviceGroup
metadata: {name: t1}
spec: {selector: store=t1}
---
apiVersion: sluice.dev/v1
kind: Assignment
metadata: {name: pos-t1}
spec: {policy: pos-now, groups: [t1], priority: 10}
---
apiVersion: sluice.dev/v1
kind: Assignment
metadata: {name: kiosk-t1}
spec: {policy: kiosk-later, groups: [t1], priority: 10}
`)},
	"fleet/notes.txt": {Data: []byte("not a manifest")},
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func installedCode(ctx context.Context, d *Device, app string) func() (bool, int64, error) {
	return func() (bool, int64, error) {
		apps, err := d.Installed(ctx)
		if err != nil {
			return false, 0, err
		}
		a, ok := apps[app]
		return ok, a.VersionCode, nil
	}
}

func waitInstalled(t *testing.T, ctx context.Context, d *Device, app string, code int64) {
	t.Helper()
	get := installedCode(ctx, d, app)
	err := WaitFor(ctx, 20*time.Second, fmt.Sprintf("%s %s at %d", d.ID(), app, code), func() (bool, error) {
		ok, got, err := get()
		return ok && got == code, err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func appStatus(st agent.Status, app string) agent.AppStatus {
	for _, a := range st.Apps {
		if a.App == app {
			return a
		}
	}
	return agent.AppStatus{}
}

// TestSystem drives the whole harness: releases pushed at the clock's
// time, manifests applied, a device updating, a clock jump ending a
// postponement, controller and agent restarts, and a clean close.
func TestSystem(t *testing.T) {
	baseline, _ := Goroutines()
	ctx := testContext(t, 50*time.Second)
	clock := NewClock(mustTime(t, "2026-05-02T09:00:00Z"))
	sys, err := Start(ctx, Config{Dir: t.TempDir(), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = sys.Close(context.Background())
		}
	})
	if !strings.HasPrefix(sys.Token(), "sluice_") || !strings.HasPrefix(sys.HTTPURL(), "http://127.0.0.1:") || !strings.HasPrefix(sys.NATSURL(), "nats://127.0.0.1:") {
		t.Fatalf("token %q, http %q, nats %q: want a sluice_ token and loopback URLs", sys.Token(), sys.HTTPURL(), sys.NATSURL())
	}

	type rel struct {
		Version   string
		Code      int64
		Published time.Time
	}
	var got []rel
	for _, p := range []struct{ at, file string }{
		{"2026-05-02T09:00:00Z", "pos-1.0.0.apk"},
		{"2026-05-03T09:00:00Z", "pos-2.0.0.apk"},
		{"2026-05-03T09:00:00Z", "kiosk-1.0.0.apk"},
		{"2026-05-04T09:00:00Z", "kiosk-2.0.0.apk"},
	} {
		clock.Set(mustTime(t, p.at))
		r, err := sys.PushRelease(ctx, p.file)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rel{r.VersionName, r.VersionCode, r.PublishedAt.Truncate(time.Minute)})
	}
	want := []rel{
		{"1.0.0", 100, mustTime(t, "2026-05-02T09:00:00Z")},
		{"2.0.0", 200, mustTime(t, "2026-05-03T09:00:00Z")},
		{"1.0.0", 10, mustTime(t, "2026-05-03T09:00:00Z")},
		{"2.0.0", 20, mustTime(t, "2026-05-04T09:00:00Z")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pushed releases (-want +got):\n%s", diff)
	}

	res, err := sys.Apply(ctx, manifests, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	var objects []string
	for _, o := range res.Objects {
		objects = append(objects, o.Kind+"/"+o.Name+" "+o.Action)
	}
	wantObjects := []string{"UpdatePolicy/pos-now created", "UpdatePolicy/kiosk-later created", "DeviceGroup/t1 created", "Assignment/pos-t1 created", "Assignment/kiosk-t1 created"}
	if diff := cmp.Diff(wantObjects, objects); diff != "" {
		t.Errorf("applied objects (-want +got):\n%s", diff)
	}

	// The device enrols on May 10 with old versions of both apps, on Wi-Fi,
	// charging and idle: nothing holds the kiosk update but its postponement.
	clock.Set(mustTime(t, "2026-05-10T09:00:00Z"))
	dev, err := sys.StartDevice(ctx, DeviceSpec{
		ID: "till-1", Labels: map[string]string{"store": "t1"}, TimeZone: "Europe/Berlin",
		Installed: []string{"pos-1.0.0.apk", "kiosk-1.0.0.apk"}, State: []string{"wifi=on", "charging=on", "idle=on"},
		PromptAPI: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	waitInstalled(t, ctx, dev, pos, 200)
	err = WaitFor(ctx, 10*time.Second, "the kiosk app to wait for its postponement", func() (bool, error) {
		return slicesEqual(appStatus(dev.Status(), kiosk).WaitingFor, []string{protocol.WaitingPostponed}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok, code, _ := installedCode(ctx, dev, kiosk)(); !ok || code != 10 {
		t.Fatalf("kiosk during the postponement: installed %v at %d, want 10", ok, code)
	}

	// The prompt API answers on the URL the device gives.
	resp, err := http.Get(dev.PromptURL() + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s/v1/status: %s, want 200", dev.PromptURL(), resp.Status)
	}

	// 90 days after enrolment (the device was out of date when it
	// enrolled) the postponement ends and the kiosk app updates.
	clock.Advance(91 * 24 * time.Hour)
	waitInstalled(t, ctx, dev, kiosk, 20)

	// The controller restarts on the same ports and data: the agent
	// reconnects, and a new release pushed afterwards reaches it.
	httpURL := sys.HTTPURL()
	if err := sys.RestartController(ctx); err != nil {
		t.Fatal(err)
	}
	if sys.HTTPURL() != httpURL {
		t.Errorf("HTTP URL after restart %s, want %s", sys.HTTPURL(), httpURL)
	}
	if _, err := sys.PushRelease(ctx, "pos-2.1.0.apk"); err != nil {
		t.Fatal(err)
	}
	waitInstalled(t, ctx, dev, pos, 210)

	// The agent restarts on the same data and prompt port.
	promptURL := dev.PromptURL()
	if err := dev.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	err = WaitFor(ctx, 10*time.Second, "the restarted agent to connect", func() (bool, error) {
		return dev.Status().Connected, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if dev.PromptURL() != promptURL {
		t.Errorf("prompt URL after restart %s, want %s", dev.PromptURL(), promptURL)
	}
	if diff := cmp.Diff([]string{"till-1"}, deviceIDs(sys)); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}

	if err := sys.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed = true
	if dev.Running() {
		t.Error("the agent still runs after Close")
	}
	// Nothing the system started outlives Close.
	err = WaitFor(ctx, 10*time.Second, "the goroutines to end", func() (bool, error) {
		n, _ := Goroutines()
		return n <= baseline, nil
	})
	if err != nil {
		n, stacks := Goroutines()
		t.Fatalf("%v: %d goroutines, %d before Start:\n%s", err, n, baseline, stacks)
	}
}

func slicesEqual(a, b []string) bool { return cmp.Equal(a, b) }

func deviceIDs(s *System) []string {
	var ids []string
	for _, d := range s.Devices() {
		ids = append(ids, d.ID())
	}
	return ids
}

func TestStartRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no dir", Config{}, `sandbox: Dir: "" is not allowed; want a directory`},
		{"negative interval", Config{Dir: dir, SenseInterval: -time.Second}, `sandbox: SenseInterval: "-1s" is not allowed; want zero (the default) or a positive duration`},
		{"bad address", Config{Dir: dir, HTTPAddr: "8080"}, `sandbox: HTTPAddr: "8080" is not allowed; want host:port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start(testContext(t, 5*time.Second), tc.cfg)
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v, want ErrConfig", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q, want it to start with %q", err, tc.want)
			}
		})
	}
}

func TestStartDeviceRefusesBadSpecs(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	sys, err := Start(ctx, Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Close(context.Background()) })
	if _, err := sys.StartDevice(ctx, DeviceSpec{ID: "ok-1", Installed: []string{"pos-1.0.0.apk"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		spec DeviceSpec
		want string
	}{
		{"bad id", DeviceSpec{ID: "till 1"}, `sandbox: DeviceSpec.ID: "till 1" is not allowed`},
		{"taken id", DeviceSpec{ID: "ok-1"}, `sandbox: DeviceSpec.ID: "ok-1" is not allowed; want an id no other device`},
		{"unknown apk", DeviceSpec{ID: "ok-2", Installed: []string{"pos-9.apk"}}, `sandbox: device ok-2: installed: sandbox: file: "pos-9.apk" is not allowed; want a test APK: one of pos-1.0.0.apk`},
		{"bad state", DeviceSpec{ID: "ok-3", State: []string{"wifi=maybe"}}, `sandbox: device ok-3: state: sim: set wifi="maybe": want on or off`},
		{"negative rate", DeviceSpec{ID: "ok-4", DownloadRate: -1}, `sandbox: DeviceSpec.DownloadRate: "-1" is not allowed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sys.StartDevice(ctx, tc.spec)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v, want it to start with %q", err, tc.want)
			}
		})
	}
	if diff := cmp.Diff([]string{"ok-1"}, deviceIDs(sys)); diff != "" {
		t.Errorf("devices after the refusals (-want +got):\n%s", diff)
	}
	// A refused device leaves nothing behind: the same id starts once fixed.
	if _, err := sys.StartDevice(ctx, DeviceSpec{ID: "ok-3", State: []string{"wifi=on"}}); err != nil {
		t.Errorf("start ok-3 after its refusal: %v", err)
	}
	if _, err := sys.Apply(ctx, manifests, "fleet/missing.yaml"); err == nil || !strings.Contains(err.Error(), "fleet/missing.yaml") {
		t.Errorf("apply of a missing file: %v, want an error naming it", err)
	}
	if _, err := sys.PushRelease(ctx, "menu-9.apk"); !errors.Is(err, ErrConfig) {
		t.Errorf("push of an unknown APK: %v, want ErrConfig", err)
	}
	_, err = sys.Apply(ctx, fstest.MapFS{"bad.yaml": {Data: []byte("apiVersion: sluice.dev/v1\nkind: UpdatePolicy\nmetadata: {name: p}\nspec: {app: com.example.pos, mode: fast}\n")}}, "bad.yaml")
	if !errors.Is(err, client.ErrInvalid) || !strings.Contains(err.Error(), "fast") {
		t.Errorf("apply of a bad policy: %v, want client.ErrInvalid naming the value", err)
	}
}

func TestClock(t *testing.T) {
	start := mustTime(t, "2026-09-21T12:00:00Z")
	c := NewClock(start)
	jumps := 0
	remove := c.onJump(func(time.Time) { jumps++ })
	near := func(want time.Time) bool {
		d := c.Now().Sub(want)
		return d >= 0 && d < time.Second
	}
	if !near(start) {
		t.Errorf("Now %s, want about %s", c.Now(), start)
	}
	c.Advance(48 * time.Hour)
	if !near(start.Add(48 * time.Hour)) {
		t.Errorf("after Advance, Now %s, want about %s", c.Now(), start.Add(48*time.Hour))
	}
	later := mustTime(t, "2026-12-20T13:00:00Z")
	c.Set(later)
	if !near(later) {
		t.Errorf("after Set, Now %s, want about %s", c.Now(), later)
	}
	remove()
	c.Advance(time.Hour)
	if jumps != 2 {
		t.Errorf("hook ran %d times, want 2 (removed before the third jump)", jumps)
	}
	// Between jumps it flows with real time.
	a := c.Now()
	err := WaitFor(context.Background(), 2*time.Second, "the clock to move", func() (bool, error) {
		return c.Now().Sub(a) >= 20*time.Millisecond, nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestWaitForTimeout(t *testing.T) {
	boom := errors.New("not yet")
	err := WaitFor(context.Background(), 120*time.Millisecond, "the moon", func() (bool, error) { return false, boom })
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("error %v, want a *TimeoutError", err)
	}
	if diff := cmp.Diff([]any{"the moon", boom}, []any{te.What, te.Last}, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("timeout error (-want +got):\n%s", diff)
	}
	if te.After < 120*time.Millisecond {
		t.Errorf("gave up after %s, want at least 120ms", te.After)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WaitFor(ctx, time.Minute, "x", func() (bool, error) { return false, nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v after cancel, want context.Canceled", err)
	}
}

// TestThrottle downloads from a real loopback server through the
// throttled client: the bytes arrive unchanged, at about the rate.
func TestThrottle(t *testing.T) {
	body := bytes.Repeat([]byte("sluice"), 50_000) // 300 kB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	c := newHTTPClient(1 << 20) // 1 MiB/s: about 0.29 s
	start := time.Now()
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	_, err = got.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if !bytes.Equal(body, got.Bytes()) {
		t.Errorf("got %d bytes, not the %d served", got.Len(), len(body))
	}
	if took < 250*time.Millisecond {
		t.Errorf("300 kB at 1 MiB/s took %s, want at least 250ms", took)
	}
}

func TestGoroutinesLeavesOutKnownLibraryLeaks(t *testing.T) {
	before, _ := Goroutines()
	// A goroutine of ours parked on a channel counts.
	block := make(chan struct{})
	done := make(chan struct{})
	go func() { <-block; close(done) }()
	if n, stacks := Goroutines(); n != before+1 || !strings.Contains(stacks, "TestGoroutinesLeavesOutKnownLibraryLeaks") {
		t.Errorf("Goroutines() = %d, want %d with this test's goroutine in the stacks", n, before+1)
	}
	close(block)
	<-done
	// The goroutine nats.go leaves parked (as a real dump shows it) is
	// left out; ours are not.
	dump := `goroutine 1 [chan receive]:
testing.(*T).Run(0xc000175b08, {0x24dd954, 0xa}, 0x2d1ac90)
	/usr/local/go/src/testing/testing.go:2109 +0xb3e

goroutine 275 [chan receive (nil chan)]:
github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect(0xc0006ebdd0)
	/root/go/pkg/mod/github.com/nats-io/nats.go@v1.55.0/jetstream/publish.go:570 +0xdd
created by github.com/nats-io/nats.go/jetstream.(*jetStream).newAsyncReply in goroutine 271
	/root/go/pkg/mod/github.com/nats-io/nats.go@v1.55.0/jetstream/publish.go:451 +0x3b3

goroutine 276 [select]:
github.com/sluice-mdm/sluice/agent.(*Agent).Run(0xc000a0e000)
	/src/agent/agent.go:140 +0x1a5
`
	if got := countLive(dump); got != 2 {
		t.Errorf("countLive = %d, want 2 (the nats.go goroutine left out)", got)
	}
}
