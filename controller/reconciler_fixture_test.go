package controller

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/internal/natstest"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// Apps of the reconciler tests.
const (
	appPOS   = "com.example.pos"
	appKiosk = "com.example.kiosk"
)

// recFixture is a store on a real embedded NATS server, with a signer and
// a device-side connection; reconcilers are started on it with start.
type recFixture struct {
	t      testing.TB
	url    string
	store  *Store
	clock  *testClock
	signer *Signer
	dev    *nats.Conn // what devices use
}

func newRecFixture(t *testing.T) *recFixture {
	t.Helper()
	store, clock, url := newTestStore(t)
	priv, err := protocol.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return &recFixture{t: t, url: url, store: store, clock: clock, signer: NewSigner(priv), dev: natstest.Connect(t, url)}
}

// start runs a reconciler on its own connection and store handle (as a
// separate replica would), waits until it is synced, and stops it in
// t.Cleanup.
func (f *recFixture) start(cfg ReconcilerConfig) *Reconciler {
	f.t.Helper()
	nc := natstest.Connect(f.t, f.url)
	if cfg.Store == nil {
		cfg.Store = openTestStore(f.t, nc, f.clock)
	}
	cfg.Conn, cfg.Signer = nc, f.signer
	if cfg.Now == nil {
		cfg.Now = f.clock.Now
	}
	r, err := NewReconciler(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("reconciler run: %v", err)
		}
	})
	select {
	case <-r.Synced():
	case err := <-done:
		f.t.Fatalf("reconciler stopped before it was synced: %v", err)
	case <-time.After(15 * time.Second):
		f.t.Fatal("reconciler not synced within 15s")
	}
	return r
}

// seedPOS stores a release, a policy, a group and an assignment for app
// under the given names: devices labelled store=<store> get the policy.
func (f *recFixture) seed(app, polName, store string, spec policy.UpdatePolicy) Record[policy.UpdatePolicy] {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rel := policy.Release{
		App: app, VersionName: "2.0.0", VersionCode: 200, Track: policy.DefaultTrack,
		PublishedAt: f.clock.Now().Add(-24 * time.Hour),
		Artifact: protocol.Artifact{
			URLs: []string{"http://127.0.0.1:1/" + app + ".apk"}, SHA256: strings.Repeat("ab", 32), Size: 1000,
			SignerSHA256: []string{strings.Repeat("cd", 32)}, MinSDK: 21,
		},
	}
	if _, err := f.store.Releases().Put(ctx, ReleaseName(app, 200), rel, CreateOnly, "test"); err != nil {
		f.t.Fatal(err)
	}
	spec.App = app
	p, err := f.store.Policies().Put(ctx, polName, spec, CreateOnly, "test")
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.store.Groups().Put(ctx, store, fleet.DeviceGroup{Selector: "store=" + store}, CreateOnly, "test"); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.store.Assignments().Put(ctx, polName+"-"+store, fleet.Assignment{Policy: polName, Groups: []string{store}, Priority: 10}, CreateOnly, "test"); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// deviceReport is a report of a device with one app at version 1.0.0.
func (f *recFixture) deviceReport(id, store, app string) protocol.DeviceReport {
	return protocol.DeviceReport{
		Version: protocol.Version, DeviceID: id, SentAt: f.clock.Now(), Platform: protocol.PlatformAndroid, SDK: 30,
		AgentVersion: "1.0.0", Labels: map[string]string{"store": store},
		Apps: map[string]protocol.InstalledApp{app: {VersionName: "1.0.0", VersionCode: 100}},
	}
}

// publish sends data on subject the way agents do: a request the stream
// acknowledges.
func (f *recFixture) publish(subject string, v any) {
	f.t.Helper()
	data, ok := v.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			f.t.Fatal(err)
		}
	}
	js, err := jetstream.New(f.dev)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := js.Publish(testCtx(f.t), subject, data); err != nil {
		f.t.Fatalf("publish on %s: %v", subject, err)
	}
}

func (f *recFixture) report(rep protocol.DeviceReport) {
	f.t.Helper()
	subject, err := protocol.ReportSubject(rep.DeviceID)
	if err != nil {
		f.t.Fatal(err)
	}
	f.publish(subject, rep)
}

// subscribe listens on a device's directive subject.
func (f *recFixture) subscribe(id string) *nats.Subscription {
	f.t.Helper()
	subject, err := protocol.DirectiveSubject(id)
	if err != nil {
		f.t.Fatal(err)
	}
	sub, err := f.dev.SubscribeSync(subject)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.dev.Flush(); err != nil {
		f.t.Fatal(err)
	}
	return sub
}

// nextDirective waits for the next directive pushed on sub and opens it
// as the agent would: signed by the fixture's key, for id, after lastSeq.
func (f *recFixture) nextDirective(sub *nats.Subscription, id string, lastSeq uint64) *protocol.Directive {
	f.t.Helper()
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		f.t.Fatalf("no directive for %s: %v", id, err)
	}
	var env protocol.Envelope
	if err := json.Unmarshal(m.Data, &env); err != nil {
		f.t.Fatal(err)
	}
	d, err := protocol.OpenDirective(&env, id, lastSeq, f.clock.Now(), f.signer.PublicKey())
	if err != nil {
		f.t.Fatalf("open directive for %s: %v", id, err)
	}
	return d
}

// settle waits until every reconciler is idle and what they published
// has reached the device connection, so that a test can assert that
// nothing more arrived.
func (f *recFixture) settle(rs ...*Reconciler) {
	f.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, r := range rs {
		for !r.Idle() {
			if time.Now().After(deadline) {
				f.t.Fatal("reconciler not idle within 15s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := r.nc.Flush(); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := f.dev.Flush(); err != nil {
		f.t.Fatal(err)
	}
}

// pending is how many messages wait on sub.
func pending(t *testing.T, sub *nats.Subscription) int {
	t.Helper()
	n, _, err := sub.Pending()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// storedDevice returns the device record, or fails.
func (f *recFixture) storedDevice(id string) Record[DeviceRecord] {
	f.t.Helper()
	rec, err := f.store.Devices().Get(testCtx(f.t), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return rec
}

// storedSeq is the sequence of the device's stored directive, 0 if none.
func (f *recFixture) storedSeq(id string) uint64 {
	f.t.Helper()
	rec, err := f.store.Directives().Get(testCtx(f.t), id)
	if errors.Is(err, ErrNotFound) {
		return 0
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return rec.Value.Sequence
}

// brief is the part of a decision the tests compare.
type brief struct {
	App    string
	Action protocol.Action
	Target int64
	Reason string
	Policy string
	Rev    uint64
}

func briefs(decs []policy.Decision) []brief {
	out := make([]brief, len(decs))
	for i, d := range decs {
		b := brief{App: d.App, Action: d.Action, Reason: d.Reasons[0].Code}
		if d.Target != nil {
			b.Target = d.Target.VersionCode
		}
		if d.Policy != nil {
			b.Policy, b.Rev = d.Policy.Name, d.Policy.Revision
		}
		out[i] = b
	}
	return out
}

// counterValue reads one counter of a vector.
func counterValue(t *testing.T, v *prometheus.CounterVec, label string) float64 {
	t.Helper()
	var m dto.Metric
	if err := v.WithLabelValues(label).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
