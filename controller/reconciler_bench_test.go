package controller

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-mdm/sluice/internal/natstest"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// benchDevices is the inventory size of BenchmarkReconcile.
const benchDevices = 10000

// BenchmarkReconcile measures one policy change that touches every device
// of a 10,000-device inventory: each iteration changes the policy and waits
// until all 10,000 devices were re-evaluated, their changed decisions
// logged, and a new signed directive stored and published to each. It
// reports decisions/s and publishes/s, and, as a same-run baseline, the
// rate of bare engine evaluations of the same inputs on as many
// goroutines as workers, and the ratio of the two.
//
//	go test -run '^$' -bench BenchmarkReconcile -benchtime 3x ./controller/
func BenchmarkReconcile(b *testing.B) {
	for _, workers := range []int{runtime.GOMAXPROCS(0), 4 * runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) { benchReconcile(b, workers) })
	}
}

func benchReconcile(b *testing.B, workers int) {
	ctx := context.Background()
	_, url := natstest.Start(b)
	clock := newTestClock()
	big := StreamLimits{MaxAge: 24 * time.Hour, MaxBytes: 512 << 20}
	store, err := OpenStore(ctx, natstest.Connect(b, url), StoreConfig{Reports: big, Events: big, Decisions: big, Audit: big, Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	priv, err := protocol.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	f := &recFixture{t: b, url: url, store: store, clock: clock, signer: NewSigner(priv)}
	pol := f.seed(appPOS, "pos-stable", "berlin", policy.UpdatePolicy{Mode: protocol.ModeHighPriority})
	for i := range benchDevices {
		id := fmt.Sprintf("till-%05d", i)
		dev := policy.Device{ID: id, Platform: protocol.PlatformAndroid, SDK: 30, Labels: map[string]string{"store": "berlin"},
			Apps: map[string]protocol.InstalledApp{appPOS: {VersionName: "1.0.0", VersionCode: 100}}, EnrolledAt: clock.Now()}
		if _, err := store.Devices().Put(ctx, id, DeviceRecord{Device: dev}, CreateOnly, "bench"); err != nil {
			b.Fatal(err)
		}
	}

	metrics := NewMetrics()
	nc := natstest.Connect(b, url)
	r, err := NewReconciler(ReconcilerConfig{Store: store, Conn: nc, Signer: f.signer, Metrics: metrics, Now: clock.Now, Workers: workers})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	<-r.Synced()
	waitPublished(b, metrics, benchDevices) // the initial directives

	// Baseline: the engine alone on the same inputs, as many goroutines.
	snap, _ := r.current()
	devs := r.inv.devices()
	inputs := make([]policy.Input, len(devs))
	for i, dev := range devs {
		d, err := snap.cat.Decide(ctx, snap.eng, dev, appPOS, clock.Now())
		if err != nil {
			b.Fatal(err)
		}
		inputs[i] = *d.Input
	}
	start := time.Now()
	if err := parallel(ctx, workers, len(inputs), func(i int) error {
		_, err := snap.eng.Evaluate(ctx, inputs[i])
		return err
	}); err != nil {
		b.Fatal(err)
	}
	baseline := float64(len(inputs)) / time.Since(start).Seconds()

	var decisions, published float64
	var elapsed time.Duration
	rev := pol.Revision
	b.ResetTimer()
	for i := range b.N {
		spec := pol.Value
		spec.Prompt = &policy.PromptSpec{Closable: true, Text: fmt.Sprintf("Update %d is ready", i)}
		before := counter(metrics.DirectivesPublished.Write)
		decBefore := decisionsTotal(b, metrics)
		start := time.Now()
		rec, err := store.Policies().Put(ctx, "pos-stable", spec, rev, "bench")
		if err != nil {
			b.Fatal(err)
		}
		rev = rec.Revision
		waitPublished(b, metrics, before+benchDevices)
		elapsed += time.Since(start)
		published += counter(metrics.DirectivesPublished.Write) - before
		decisions += decisionsTotal(b, metrics) - decBefore
	}
	b.StopTimer()
	s := elapsed.Seconds()
	b.ReportMetric(decisions/s, "decisions/s")
	b.ReportMetric(published/s, "publishes/s")
	b.ReportMetric(baseline, "engine-evals/s")
	b.ReportMetric(decisions/s/baseline, "ratio")
}

func counter(write func(*dto.Metric) error) float64 {
	var m dto.Metric
	_ = write(&m)
	return m.GetCounter().GetValue()
}

func decisionsTotal(b *testing.B, m *Metrics) float64 {
	b.Helper()
	var total float64
	for _, a := range []protocol.Action{protocol.ActionNone, protocol.ActionInstall, protocol.ActionPostponed, protocol.ActionPrompt,
		protocol.ActionForce, protocol.ActionStoreRedirect, protocol.ActionUnsupported} {
		total += counter(m.Decisions.WithLabelValues(string(a)).Write)
	}
	return total
}

// waitPublished polls until at least n directives were published.
func waitPublished(b *testing.B, m *Metrics, n float64) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for counter(m.DirectivesPublished.Write) < n {
		if time.Now().After(deadline) {
			b.Fatalf("published %v directives, want %v within 5 minutes", counter(m.DirectivesPublished.Write), n)
		}
		time.Sleep(time.Millisecond)
	}
}
