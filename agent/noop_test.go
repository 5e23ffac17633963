package agent

import (
	"context"
	"crypto/ed25519"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/agent/platform"
	"github.com/sluice-mdm/sluice/agent/platform/sim"
	"github.com/sluice-mdm/sluice/protocol"
)

// silentPlatform is a sim device whose installer reports success and
// changes nothing, like a package manager that accepts an install it then
// does not apply.
type silentPlatform struct {
	*sim.Device
	installs atomic.Int32
}

func (p *silentPlatform) Install(context.Context, string, platform.InstallOptions) error {
	p.installs.Add(1)
	return nil
}

// TestInstallThatChangesNothingUsesTheRetryBudget: an install that reports
// success while the installed version stays below the target is a failed
// attempt: it is counted, so the agent does not download and install the
// same update forever.
func TestInstallThatChangesNothingUsesTheRetryBudget(t *testing.T) {
	ctx := t.Context()
	srv := apkServer(t)
	clk := newClock()
	dev := &silentPlatform{Device: device(t, t.TempDir())}
	priv, err := protocol.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(t, "nats://127.0.0.1:1", t.TempDir(), []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}, nil, clk)
	cfg.Platform = dev
	cfg.RetryBudget = 2
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	env, err := protocol.SignDirective(priv, &protocol.Directive{
		Version: protocol.Version, DeviceID: deviceID, Sequence: 1, IssuedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour),
		Decisions: []protocol.Decision{installDecision("d1", artifact(t, srv, "pos-2.0.0.apk"), func(d *protocol.Decision) {
			d.Mode = protocol.ModeHighPriority
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	j := newJobs()
	t.Cleanup(func() { j.stop(5*time.Second, a.log) })
	a.refreshInfo(ctx)
	a.sense(ctx)
	a.acceptEnvelope(env, "push")
	for range 5 {
		a.sense(ctx)
		a.step(ctx, j)
		a.mu.Lock()
		started := a.busy != ""
		a.mu.Unlock()
		if started {
			select {
			case <-j.done():
			case <-time.After(30 * time.Second):
				t.Fatal("the attempt did not end")
			}
		}
		clk.Add(time.Hour) // past any backoff
	}
	a.step(ctx, j)
	s := appStatus(a, posApp)
	got := []any{int(dev.installs.Load()), s.State, s.Attempts}
	if diff := cmp.Diff([]any{2, PhaseFailed, 2}, got); diff != "" {
		t.Errorf("installs, state, attempts (-want +got):\n%s", diff)
	}
	if s.LastError == "" {
		t.Error("no failure reason for an install that changed nothing")
	}
}
