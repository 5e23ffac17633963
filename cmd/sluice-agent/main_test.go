package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/agent"
	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/testapk"
	"github.com/sluice-mdm/sluice/protocol"
)

func writeKey(t *testing.T, dir string) string {
	t.Helper()
	priv, err := protocol.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := protocol.MarshalPublicKey(priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "controller.pub")
	if err := os.WriteFile(p, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// summary is what the tests compare of resolved settings.
type summary struct {
	NATS, DeviceID, Data, Platform, Channel, PromptAddr, LogFormat string
	Labels                                                         map[string]string
	Keys                                                           int
	Sense, Report                                                  time.Duration
}

func summarize(r *resolved) summary {
	return summary{NATS: r.NATS, DeviceID: r.DeviceID, Data: r.Data, Platform: r.Platform, Channel: r.Channel,
		PromptAddr: r.promptAddr, LogFormat: r.LogFormat, Labels: r.Labels, Keys: len(r.keys),
		Sense: r.senseInterval, Report: r.reportInterval}
}

func TestRunSettings(t *testing.T) {
	dir := t.TempDir()
	key := writeKey(t, dir)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", `
nats: nats://controller:4222
deviceId: pos-001
data: agentdata
controllerKey: [controller.pub]
platform: sim
labels: {store: berlin-01, model: P2}
channel: stable
promptAddr: unix:/run/sluice.sock
senseInterval: 10s
reportInterval: 5m
logFormat: json
`)
	unknown := write("unknown.yaml", "nats: nats://x:4222\nplatfrom: sim\n")
	broken := write("broken.yaml", "nats: [unclosed\n")
	flags := []string{"--nats", "nats://127.0.0.1:4222", "--device-id", "pos-002", "--data", dir, "--controller-key", key, "--platform", "android"}
	tests := []struct {
		name     string
		args     []string
		want     summary
		wantErr  string
		wantCode int
	}{
		{"flags only", append(flags, "--labels", "store=hh-02,model=V2"), summary{
			NATS: "nats://127.0.0.1:4222", DeviceID: "pos-002", Data: dir, Platform: "android", PromptAddr: DefaultPromptAddr,
			Labels: map[string]string{"store": "hh-02", "model": "V2"}, Keys: 1,
		}, "", 0},
		{"config file, paths relative to it", []string{"--config", good}, summary{
			NATS: "nats://controller:4222", DeviceID: "pos-001", Data: filepath.Join(dir, "agentdata"), Platform: "sim", Channel: "stable",
			PromptAddr: "unix:/run/sluice.sock", LogFormat: "json", Labels: map[string]string{"store": "berlin-01", "model": "P2"}, Keys: 1,
			Sense: 10 * time.Second, Report: 5 * time.Minute,
		}, "", 0},
		{"flags override the file", []string{"--config", good, "--device-id", "pos-009", "--prompt-addr", "", "--sense-interval", "1m"}, summary{
			NATS: "nats://controller:4222", DeviceID: "pos-009", Data: filepath.Join(dir, "agentdata"), Platform: "sim", Channel: "stable",
			PromptAddr: "", LogFormat: "json", Labels: map[string]string{"store": "berlin-01", "model": "P2"}, Keys: 1,
			Sense: time.Minute, Report: 5 * time.Minute,
		}, "", 0},
		{"unknown key", []string{"--config", unknown}, summary{}, `unknown field "platfrom"`, cli.ExitInvalid},
		{"malformed yaml", []string{"--config", broken}, summary{}, "config " + broken, cli.ExitInvalid},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, summary{}, "no such file", cli.ExitInvalid},
		{"missing nats", flags[2:], summary{}, "nats: missing", cli.ExitUsage},
		{"bad platform", append(flags, "--platform", "ios"), summary{}, `platform: "ios" is not one of android, sim`, cli.ExitUsage},
		{"bad device id", append(flags, "--device-id", "pos.1"), summary{}, `device-id: protocol: device id "pos.1"`, cli.ExitUsage},
		{"bad interval", append(flags, "--sense-interval", "soon"), summary{}, `sense-interval: "soon" is not a positive duration`, cli.ExitUsage},
		{"bad labels", append(flags, "--labels", "store"), summary{}, `--labels: "store" is not key=value`, cli.ExitUsage},
		{"bad log format", append(flags, "--log-format", "xml"), summary{}, `log-format: "xml" is not one of text, json`, cli.ExitUsage},
		{"key is not a key", slices.Concat(flags[:6], []string{"--controller-key", good, "--platform", "sim"}), summary{}, "controller-key " + good, cli.ExitInvalid},
		{"unknown flag", append(flags, "--colour"), summary{}, "unknown flag: --colour", cli.ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseRunArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || cli.Code(err) != tt.wantCode {
					t.Fatalf("error = %v (code %d), want one containing %q with code %d", err, cli.Code(err), tt.wantErr, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, summarize(r)); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSimSetShowAndVersion(t *testing.T) {
	data := t.TempDir()
	var out, errOut bytes.Buffer
	if err := run([]string{"sim", "set", "--data", data, "wifi=on", "charging=on", "foreground=com.example.pos", "sdk=33"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	d, err := openSim(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Seed("com.example.pos", testapk.Path(t, "pos-1.0.0.apk")); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run([]string{"sim", "show", "--data", data}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	want := "sdk=33 tz=UTC wifi=on charging=on idle=off foreground=com.example.pos storage=8.0 GiB\n" +
		"PACKAGE          VERSION      SIGNER\n" +
		"com.example.pos  1.0.0 (100)  " + testapk.SignerA()[:16] + "…\n"
	// Seeding uses storage: compare everything but the storage figure.
	got := out.String()
	if i, j := strings.Index(got, "storage="), strings.Index(got, "\n"); i > 0 && j > i {
		got = got[:i] + "storage=8.0 GiB" + got[j:]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sim show (-want +got):\n%s", diff)
	}
	err = run([]string{"sim", "set", "--data", data, "wifi=maybe"}, &out, &errOut)
	if err == nil || cli.Code(err) != cli.ExitInvalid || !strings.Contains(err.Error(), "want on or off") {
		t.Errorf("sim set wifi=maybe = %v (code %d), want an invalid-input error saying on or off", err, cli.Code(err))
	}
	out.Reset()
	if err := run([]string{"version"}, &out, &errOut); err != nil || out.String() != "sluice-agent 0.1.0-dev\n" {
		t.Errorf("version = %q, %v", out.String(), err)
	}
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"status", "--help"}, {"sim", "set", "--help"}, {"install", "--help"}} {
		out.Reset()
		if err := run(args, &out, &errOut); err != nil || !strings.Contains(out.String(), "Examples:") {
			t.Errorf("%v: no examples in help (err %v):\n%s", args, err, out.String())
		}
	}
}

func TestStatusCommand(t *testing.T) {
	st := agent.Status{
		DeviceID: "pos-001", Platform: "sim", Connected: true, Server: "nats://127.0.0.1:4222", DirectiveSequence: 7,
		SDK: 30, TimeZone: "Europe/Berlin", State: protocol.DeviceState{Unmetered: true},
		Apps: []agent.AppStatus{
			{App: "com.example.menu", Action: "postponed", InstalledVersion: "4.3.3", InstalledCode: 433, TargetVersion: "5.0.0", TargetCode: 500,
				State: agent.PhaseWaiting, Detail: "POSTPONED_UNTIL 2026-07-31T00:00:00Z"},
			{App: "com.example.pos", Action: "install", InstalledVersion: "1.0.0", InstalledCode: 100, TargetVersion: "2.0.0", TargetCode: 200,
				State: agent.PhaseDownloading, Detail: "downloading", Downloaded: 512 << 10, Total: 1 << 20, BytesPerSecond: 256 << 10, RemainingSeconds: 2},
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/status" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(st)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	var out, errOut bytes.Buffer
	if err := run([]string{"status", "--prompt-addr", addr}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	want := `device:     pos-001 (sim, sdk 30, Europe/Berlin)
connection: connected to nats://127.0.0.1:4222
directive:  sequence 7
state:      wifi=on charging=off idle=off foreground=-
outbox:     0 waiting, 0 dropped

APP               INSTALLED    TARGET       ACTION     STATE        WAITING FOR
com.example.menu  4.3.3 (433)  5.0.0 (500)  postponed  waiting      POSTPONED_UNTIL 2026-07-31T00:00:00Z
com.example.pos   1.0.0 (100)  2.0.0 (200)  install    downloading  downloading
com.example.pos [===============>              ]  50%  512.0 KiB/1.0 MiB  256.0 KiB/s  2s left
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	out.Reset()
	if err := run([]string{"status", "--prompt-addr", addr, "-o", "json"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var back agent.Status
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st, back); diff != "" {
		t.Errorf("status -o json (-want +got):\n%s", diff)
	}
	srv.Close()
	err := run([]string{"status", "--prompt-addr", addr}, &out, &errOut)
	if cli.Code(err) != cli.ExitUnavailable {
		t.Errorf("status with no agent = %v (code %d), want code %d", err, cli.Code(err), cli.ExitUnavailable)
	}
}

func TestSimInstall(t *testing.T) {
	data := t.TempDir()
	var out, errOut bytes.Buffer
	if err := run([]string{"sim", "set", "--data", data, "sdk=30"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	install := func(file string, extra ...string) error {
		out.Reset()
		return run(append([]string{"sim", "install", "--data", data, testapk.Path(t, file)}, extra...), &out, &errOut)
	}
	if err := install("pos-2.0.0.apk"); err != nil {
		t.Fatalf("first install: %v", err)
	}
	if !strings.Contains(out.String(), "com.example.pos  2.0.0 (200)") {
		t.Errorf("sim install does not show the installed app:\n%s", out.String())
	}
	tests := []struct {
		name, file, wantErr string
	}{
		{"downgrade", "pos-1.0.0.apk", "INSTALL_FAILED_VERSION_DOWNGRADE"},
		{"other signer", "pos-2.0.0-keyB.apk", "INSTALL_FAILED_UPDATE_INCOMPATIBLE"},
		{"minSdk above the device", "kiosk-2.0.0-minsdk34.apk", "INSTALL_FAILED_OLDER_SDK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := install(tt.file)
			if err == nil || cli.Code(err) != cli.ExitInvalid || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("sim install %s = %v (code %d), want %s", tt.file, err, cli.Code(err), tt.wantErr)
			}
		})
	}
	if err := install("pos-1.0.0.apk", "--allow-downgrade"); err != nil {
		t.Fatalf("downgrade with --allow-downgrade: %v", err)
	}
	d, err := openSim(data)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := d.Installed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := apps["com.example.pos"].VersionCode; got != 100 || len(apps) != 1 {
		t.Errorf("installed = %+v, want only com.example.pos at 100", apps)
	}
}
