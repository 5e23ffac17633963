package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluice-mdm/sluice/agent/download"
	"github.com/sluice-mdm/sluice/agent/platform/sim"
	"github.com/sluice-mdm/sluice/internal/natstest"
	"github.com/sluice-mdm/sluice/internal/testapk"
	"github.com/sluice-mdm/sluice/protocol"
)

const (
	deviceID = "pos-001"
	posApp   = "com.example.pos"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 5, 2, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// apkServer serves the test APKs over real HTTP at /<file>, with Range
// support.
func apkServer(t *testing.T) *httptest.Server {
	t.Helper()
	files, err := fs.Sub(testapk.Files, "files")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServerFS(files))
	t.Cleanup(srv.Close)
	return srv
}

// artifact describes file as served by srv; mutate adjusts it.
func artifact(t *testing.T, srv *httptest.Server, file string) *protocol.Artifact {
	t.Helper()
	b, err := os.ReadFile(testapk.Path(t, file))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	e, _ := testapk.Lookup(file)
	return &protocol.Artifact{
		URLs: []string{srv.URL + "/" + file}, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b)),
		SignerSHA256: []string{testapk.Signer(e.Key)}, MinSDK: e.MinSDK,
	}
}

// controller is the test's stand-in for the controller's NATS side: it
// answers sync requests with the current envelope, pushes directives, and
// reads the JetStream stream capturing reports and events.
type controller struct {
	t    *testing.T
	nc   *nats.Conn
	js   jetstream.JetStream
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey

	mu      sync.Mutex
	current *protocol.Envelope
	seq     uint64
}

func newController(t *testing.T, url string) *controller {
	t.Helper()
	priv, err := protocol.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c := &controller{t: t, nc: natstest.Connect(t, url), priv: priv, pub: priv.Public().(ed25519.PublicKey)}
	c.setup(t)
	return c
}

func (c *controller) setup(t *testing.T) {
	t.Helper()
	js, err := jetstream.New(c.nc)
	if err != nil {
		t.Fatal(err)
	}
	c.js = js
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: "DEVICES", Subjects: []string{protocol.AllReportSubjects, protocol.AllEventSubjects},
		Duplicates: time.Minute, Storage: jetstream.FileStorage,
	}); err != nil {
		t.Fatal(err)
	}
	sub, _ := protocol.SyncSubject(deviceID)
	if _, err := c.nc.Subscribe(sub, func(m *nats.Msg) {
		c.mu.Lock()
		rep := protocol.SyncReply{Directive: c.current}
		c.mu.Unlock()
		if rep.Directive == nil {
			rep.Error = "device not evaluated yet"
		}
		b, _ := json.Marshal(rep)
		_ = m.Respond(b)
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// directive builds a directive for deviceID with the next sequence.
func (c *controller) directive(now time.Time, decs ...protocol.Decision) *protocol.Directive {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return &protocol.Directive{
		Version: protocol.Version, DeviceID: deviceID, Sequence: c.seq,
		IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour), Decisions: decs,
	}
}

// sign signs d with priv (the controller's key when nil).
func (c *controller) sign(d *protocol.Directive, priv ed25519.PrivateKey) *protocol.Envelope {
	c.t.Helper()
	if priv == nil {
		priv = c.priv
	}
	env, err := protocol.SignDirective(priv, d)
	if err != nil {
		c.t.Fatal(err)
	}
	return env
}

// serve makes env the sync answer.
func (c *controller) serve(env *protocol.Envelope) {
	c.mu.Lock()
	c.current = env
	c.mu.Unlock()
}

// push sends raw bytes on the device's directive subject.
func (c *controller) push(b []byte) {
	c.t.Helper()
	sub, _ := protocol.DirectiveSubject(deviceID)
	if err := c.nc.Publish(sub, b); err != nil {
		c.t.Fatal(err)
	}
	if err := c.nc.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

func (c *controller) pushEnv(env *protocol.Envelope) {
	c.t.Helper()
	b, err := json.Marshal(env)
	if err != nil {
		c.t.Fatal(err)
	}
	c.push(b)
}

// captured returns every event and report in the stream, in order.
func (c *controller) captured() ([]protocol.Event, []protocol.DeviceReport) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.js.Stream(ctx, "DEVICES")
	if err != nil {
		c.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	evSubj, _ := protocol.EventSubject(deviceID)
	var evs []protocol.Event
	var reps []protocol.DeviceReport
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			c.t.Fatal(err)
		}
		if m.Subject == evSubj {
			var e protocol.Event
			if err := json.Unmarshal(m.Data, &e); err != nil {
				c.t.Fatal(err)
			}
			evs = append(evs, e)
			continue
		}
		var r protocol.DeviceReport
		if err := json.Unmarshal(m.Data, &r); err != nil {
			c.t.Fatal(err)
		}
		reps = append(reps, r)
	}
	return evs, reps
}

// eventNames lists the names of app's events, leaving out DownloadProgress
// (how many there are depends on timing).
func eventNames(evs []protocol.Event, app string) []string {
	var out []string
	for _, e := range evs {
		if e.App == app && e.Name != protocol.EventDownloadProgress {
			out = append(out, string(e.Name))
		}
	}
	return out
}

// eventually polls cond every 20 ms until it holds or 20 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// device opens a sim device with pos 1.0.0 installed and the given state.
func device(t *testing.T, dir string, set ...string) *sim.Device {
	t.Helper()
	d, err := sim.Open(dir, sim.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Seed(posApp, testapk.Path(t, "pos-1.0.0.apk")); err != nil {
		t.Fatal(err)
	}
	if len(set) > 0 {
		if err := d.Set(context.Background(), set...); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

type running struct {
	a    *Agent
	stop func()
}

// startAgent runs an agent until the test ends (or stop is called).
func startAgent(t *testing.T, cfg Config) *running {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("Run did not return within 15 s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return &running{a: a, stop: stop}
}

func baseConfig(t *testing.T, url, dataDir string, keys []ed25519.PublicKey, p *sim.Device, clk *clock) Config {
	return Config{
		NATSURL: url, DeviceID: deviceID, DataDir: dataDir, ControllerKeys: keys, Platform: p,
		AgentVersion: "1.0.0", Channel: "stable", Labels: map[string]string{"store": "berlin-01"},
		SenseInterval: 30 * time.Millisecond, ReportInterval: time.Hour, AckTimeout: 2 * time.Second,
		MaxReconnectDelay: 200 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
		Download: download.Config{BaseBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, MaxAttempts: 1},
		Now:      clk.Now,
	}
}

func appStatus(a *Agent, app string) AppStatus {
	for _, s := range a.Status().Apps {
		if s.App == app {
			return s
		}
	}
	return AppStatus{}
}

// cmpIgnoreTime compares times by instant and ignores AppStatus.UpdatedState.
var cmpIgnoreTime = cmp.FilterPath(func(p cmp.Path) bool {
	return p.Last().String() == ".UpdatedState"
}, cmp.Ignore())

// steppedAgent is an agent that is never Run: a test drives its steps
// itself (sense, accept a directive, step), so it controls what happens
// between them. Its directives are signed with a key of the test's own.
type steppedAgent struct {
	*Agent
	jobs *jobs
	priv ed25519.PrivateKey
	clk  *clock
	t    *testing.T
}

func newSteppedAgent(t *testing.T, ctx context.Context, dev *sim.Device, clk *clock) *steppedAgent {
	t.Helper()
	priv, err := protocol.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(baseConfig(t, "nats://127.0.0.1:1", t.TempDir(), []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}, dev, clk))
	if err != nil {
		t.Fatal(err)
	}
	s := &steppedAgent{Agent: a, jobs: newJobs(), priv: priv, clk: clk, t: t}
	t.Cleanup(func() { s.jobs.stop(5*time.Second, a.log) })
	a.refreshInfo(ctx)
	a.sense(ctx)
	return s
}

// sign signs a directive of one decision with the test's key.
func (s *steppedAgent) sign(seq uint64, dec protocol.Decision) *protocol.Envelope {
	s.t.Helper()
	env, err := protocol.SignDirective(s.priv, &protocol.Directive{
		Version: protocol.Version, DeviceID: deviceID, Sequence: seq,
		IssuedAt: s.clk.Now(), ExpiresAt: s.clk.Now().Add(time.Hour), Decisions: []protocol.Decision{dec},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return env
}
