package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/internal/natstest"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// runServer starts a server on random ports and returns it with a stop
// function that cancels it and returns Run's error.
func runServer(t *testing.T, cfg Config) (*Server, func() error) {
	t.Helper()
	cfg.NATSListen, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("server did not stop within 30s")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	select {
	case <-s.Started():
	case err := <-done:
		stopped = true
		t.Fatalf("server stopped before it started: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not started within 30s")
	}
	return s, stop
}

var tokenLine = regexp.MustCompile(`(?m)^  (sluice_[A-Za-z0-9_-]{43})$`)

func httpGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServerRestartWithTheSameDataDirKeepsEverything(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	clock := newTestClock()
	var out bytes.Buffer
	s, stop := runServer(t, Config{DataDir: dir, Now: clock.Now, Stdout: &out})

	// First start: the banner names the public key and shows the token once.
	m := tokenLine.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no token in the first-start banner:\n%s", out.String())
	}
	token := m[1]
	pubPath, _ := filepath.Abs(filepath.Join(dir, PublicKeyFile))
	if !strings.Contains(out.String(), pubPath) {
		t.Errorf("banner does not name the public key %s:\n%s", pubPath, out.String())
	}
	if code, _ := httpGet(t, "http://"+s.Addr()+"/api/v1/policies", token); code != http.StatusOK {
		t.Errorf("GET /api/v1/policies with the bootstrap token: status %d, want 200", code)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _ := httpGet(t, "http://"+s.Addr()+path, ""); code != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", path, code)
		}
	}
	stored := storeAt(t, s.NATSURL(), clock)
	ctx := testCtx(t)
	seedServer(t, stored, clock)
	dev := natstest.Connect(t, s.NATSURL())
	sub := subscribeDirective(t, dev, "till-1")
	publishReport(t, dev, protocol.DeviceReport{Version: protocol.Version, DeviceID: "till-1", SentAt: clock.Now(), Platform: protocol.PlatformAndroid, SDK: 30,
		Labels: map[string]string{"store": "berlin"}, Apps: map[string]protocol.InstalledApp{appPOS: {VersionName: "1.0.0", VersionCode: 100}}})
	first := openPushed(t, sub, "till-1", 0, clock, s.PublicKey())
	pub := s.PublicKey()
	dev.Close()
	if err := stop(); err != nil {
		t.Fatalf("first run: %v", err)
	}
	if strings.Contains(readDir(t, dir), token) {
		t.Errorf("the token secret is written in clear under the data dir")
	}

	// Second start: no new token, same key, same state, sequence goes on.
	out.Reset()
	s2, stop2 := runServer(t, Config{DataDir: dir, Now: clock.Now, Stdout: &out})
	if out.Len() != 0 {
		t.Errorf("second start printed a banner:\n%s", out.String())
	}
	if !pub.Equal(s2.PublicKey()) {
		t.Errorf("second start uses another signing key")
	}
	if code, _ := httpGet(t, "http://"+s2.Addr()+"/api/v1/policies", token); code != http.StatusOK {
		t.Errorf("bootstrap token after restart: status %d, want 200", code)
	}
	stored = storeAt(t, s2.NATSURL(), clock)
	pol, err := stored.Policies().Get(ctx, "pos-stable")
	if err != nil {
		t.Fatalf("policy after restart: %v", err)
	}
	devRec, err := stored.Devices().Get(ctx, "till-1")
	if err != nil {
		t.Fatalf("device after restart: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"store": "berlin"}, devRec.Value.Device.Labels); diff != "" {
		t.Errorf("device labels after restart (-want +got):\n%s", diff)
	}
	dev = natstest.Connect(t, s2.NATSURL())
	sub = subscribeDirective(t, dev, "till-1")
	spec := pol.Value
	spec.Rollout = &policy.RolloutSpec{Percent: 0}
	if _, err := stored.Policies().Put(ctx, "pos-stable", spec, pol.Revision, "alice"); err != nil {
		t.Fatal(err)
	}
	next := openPushed(t, sub, "till-1", first.Sequence, clock, pub)
	if diff := cmp.Diff([]any{first.Sequence + 1, protocol.ActionNone}, []any{next.Sequence, next.Decisions[0].Action}); diff != "" {
		t.Errorf("directive after restart (sequence, action) (-want +got):\n%s", diff)
	}
	if err := stop2(); err != nil {
		t.Fatalf("second run: %v", err)
	}

	// A key file others may read is refused.
	if err := os.Chmod(filepath.Join(dir, KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	s3, err := NewServer(Config{DataDir: dir, NATSListen: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.Run(testCtx(t)); !errors.Is(err, ErrKeyPermissions) {
		t.Errorf("run with a world-readable key: error = %v, want ErrKeyPermissions", err)
	}
}

func TestNewServerRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"replicas", Config{Replicas: 7}, "controller: server: replicas 7 is not allowed; want 1 to 5 (0 means 1)"},
		{"ttl", Config{DirectiveTTL: -time.Hour}, "controller: server: directive TTL -1h0m0s is negative; want a positive duration (0 means 24h0m0s)"},
		{"http address", Config{HTTPAddr: "8080"}, `controller: server: HTTP address "8080" is not host:port: address 8080: missing port in address`},
		{"public url", Config{PublicURL: "ftp://x"}, `controller: server: public URL "ftp://x" is not allowed; want an absolute http:// or https:// URL such as https://sluice.example.com`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewServer(tt.cfg)
			if diff := cmp.Diff(tt.want, errorText(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func storeAt(t *testing.T, url string, clock *testClock) *Store {
	t.Helper()
	return openTestStore(t, natstest.Connect(t, url), clock)
}

func seedServer(t *testing.T, s *Store, clock *testClock) {
	t.Helper()
	ctx := testCtx(t)
	rel := policy.Release{App: appPOS, VersionName: "2.0.0", VersionCode: 200, Track: policy.DefaultTrack, PublishedAt: clock.Now().Add(-time.Hour),
		Artifact: protocol.Artifact{URLs: []string{"http://127.0.0.1:1/p.apk"}, SHA256: strings.Repeat("ab", 32), Size: 10, MinSDK: 21}}
	if _, err := s.Releases().Put(ctx, ReleaseName(appPOS, 200), rel, CreateOnly, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Policies().Put(ctx, "pos-stable", policy.UpdatePolicy{App: appPOS, Mode: protocol.ModeHighPriority}, CreateOnly, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Groups().Put(ctx, "berlin", fleet.DeviceGroup{Selector: "store=berlin"}, CreateOnly, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assignments().Put(ctx, "pos-berlin", fleet.Assignment{Policy: "pos-stable", Groups: []string{"berlin"}, Priority: 1}, CreateOnly, "t"); err != nil {
		t.Fatal(err)
	}
}

func subscribeDirective(t *testing.T, nc *nats.Conn, id string) *nats.Subscription {
	t.Helper()
	subject, _ := protocol.DirectiveSubject(id)
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return sub
}

func publishReport(t *testing.T, nc *nats.Conn, rep protocol.DeviceReport) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(rep)
	subject, _ := protocol.ReportSubject(rep.DeviceID)
	if _, err := js.Publish(testCtx(t), subject, data); err != nil {
		t.Fatal(err)
	}
}

func openPushed(t *testing.T, sub *nats.Subscription, id string, last uint64, clock *testClock, pub []byte) *protocol.Directive {
	t.Helper()
	m, err := sub.NextMsg(15 * time.Second)
	if err != nil {
		t.Fatalf("no directive for %s: %v", id, err)
	}
	var env protocol.Envelope
	if err := json.Unmarshal(m.Data, &env); err != nil {
		t.Fatal(err)
	}
	d, err := protocol.OpenDirective(&env, id, last, clock.Now(), pub)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// readDir concatenates every regular file under dir.
func readDir(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		b.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
