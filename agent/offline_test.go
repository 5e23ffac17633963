package agent

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/sluice-mdm/sluice/agent/promptapi"
	"github.com/sluice-mdm/sluice/internal/natstest"
	"github.com/sluice-mdm/sluice/protocol"
)

// startNATSAt runs a JetStream server on a fixed loopback port, so that a
// test can stop it and start another where clients reconnect.
func startNATSAt(t *testing.T, port int, storeDir string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: storeDir, NoLog: true, NoSigs: true,
		JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 256 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestOfflineSpoolSurvivesRestartAndDeliversInOrder(t *testing.T) {
	port := freePort(t)
	store := t.TempDir()
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	s1 := startNATSAt(t, port, store)
	ctl := newController(t, url)
	srv := apkServer(t)
	clk := newClock()
	dev := device(t, t.TempDir())
	dataDir := t.TempDir()
	ctl.serve(ctl.sign(ctl.directive(clk.Now(), installDecision("d1", artifact(t, srv, "pos-2.0.0.apk"))), nil))
	cfg := baseConfig(t, url, dataDir, []ed25519.PublicKey{ctl.pub}, dev, clk)
	r := startAgent(t, cfg)
	eventually(t, "directive and first report delivered", func() bool {
		st := r.a.Status()
		return st.DirectiveSequence == 1 && st.Spooled == 0
	})

	s1.Shutdown()
	s1.WaitForShutdown()
	eventually(t, "agent offline", func() bool { return !r.a.Status().Connected })
	if err := dev.Set(t.Context(), "wifi=on", "charging=on", "idle=on"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "installed while offline", func() bool { return appStatus(r.a, posApp).State == PhaseInstalled })
	spooled := r.a.Status().Spooled
	if spooled < 5 { // four events and at least one report
		t.Fatalf("spooled %d messages offline, want at least 5", spooled)
	}
	r.stop()

	// A restarted agent, still offline, keeps the spool and adds to it.
	r2 := startAgent(t, cfg)
	eventually(t, "restart report spooled", func() bool { return r2.a.Status().Spooled > spooled })

	startNATSAt(t, port, store)
	ctl2 := &controller{t: t, nc: natstest.Connect(t, url), priv: ctl.priv, pub: ctl.pub, current: ctl.current, seq: ctl.seq}
	ctl2.setup(t)
	eventually(t, "spool drained after reconnect", func() bool { return r2.a.Status().Spooled == 0 && r2.a.Status().Connected })
	evs, reps := ctl2.captured()
	want := []string{"DownloadStart", "DownloadComplete", "InstallStart", "InstallResult"}
	if diff := cmp.Diff(want, eventNames(evs, posApp)); diff != "" {
		t.Errorf("events after reconnect (-want +got):\n%s", diff)
	}
	// Reports arrive in the order they were made: sent times never go back.
	for i := 1; i < len(reps); i++ {
		if reps[i].SentAt.Before(reps[i-1].SentAt) {
			t.Errorf("report %d sent at %s comes after one sent at %s", i, reps[i].SentAt, reps[i-1].SentAt)
		}
	}
	if got := reps[len(reps)-1].Apps[posApp].VersionCode; got != 200 {
		t.Errorf("last report shows versionCode %d, want 200", got)
	}
}

func TestPromptAPIUpdateNowIgnoresConstraints(t *testing.T) {
	_, url := natstest.Start(t)
	ctl := newController(t, url)
	srv := apkServer(t)
	clk := newClock()
	dev := device(t, t.TempDir(), "foreground="+posApp) // nothing else holds either
	dec := installDecision("p1", artifact(t, srv, "pos-2.0.0.apk"), func(d *protocol.Decision) {
		d.Action = protocol.ActionPrompt
		d.Prompt = &protocol.Prompt{Closable: true, DailyFrequency: 1, Text: "Update now?"}
	})
	ctl.serve(ctl.sign(ctl.directive(clk.Now(), dec), nil))
	cfg := baseConfig(t, url, t.TempDir(), []ed25519.PublicKey{ctl.pub}, dev, clk)
	cfg.PromptAddr = "127.0.0.1:0"
	r := startAgent(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	addr, err := r.a.PromptAddr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr
	eventually(t, "prompting", func() bool { return appStatus(r.a, posApp).State == PhasePrompting })

	resp, err := http.Get(base + "/v1/apps/" + posApp + "/prompt")
	if err != nil {
		t.Fatal(err)
	}
	var ans struct {
		Show   bool   `json:"show"`
		Text   string `json:"text"`
		Reason string `json:"reason"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if diff := cmp.Diff(struct {
		Show   bool   `json:"show"`
		Text   string `json:"text"`
		Reason string `json:"reason"`
	}{true, "Update now?", ""}, ans); diff != "" {
		t.Errorf("prompt (-want +got):\n%s", diff)
	}
	resp, err = http.Post(base+"/v1/apps/"+posApp+"/prompt", "application/json", strings.NewReader(`{"action":"update"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST update: %s", resp.Status)
	}
	eventually(t, "installed at the user's request", func() bool { return appStatus(r.a, posApp).State == PhaseInstalled })
	resp, err = http.Get(base + "/v1/apps/" + posApp + "/progress")
	if err != nil {
		t.Fatal(err)
	}
	var p promptapi.Progress
	_ = json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if diff := cmp.Diff(promptapi.Progress{State: PhaseInstalled}, p); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	resp, err = http.Get(base + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	var st Status
	_ = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if len(st.Apps) != 1 || st.Apps[0].InstalledCode != 200 || st.DeviceID != deviceID {
		t.Errorf("status over the API = %+v, want %s with %s at 200", st, deviceID, posApp)
	}
	eventually(t, "events in the stream", func() bool {
		evs, _ := ctl.captured()
		n := eventNames(evs, posApp)
		return len(n) > 0 && n[len(n)-1] == "InstallResult"
	})
	evs, _ := ctl.captured()
	want := []string{"UpdateCheck", "UpdateDialogShow", "UpdateButtonClick", "DownloadStart", "DownloadComplete", "InstallStart", "InstallResult"}
	if diff := cmp.Diff(want, eventNames(evs, posApp)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
