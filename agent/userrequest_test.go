package agent

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/agent/promptapi"
	"github.com/sluice-mdm/sluice/protocol"
)

// TestUpdateNowOnlyAnswersAPrompt: "update" from the prompt API answers a
// prompt. It cannot cut short a postponement or lift the constraints of a
// silent install: for those decisions it is refused and nothing starts.
func TestUpdateNowOnlyAnswersAPrompt(t *testing.T) {
	srv := apkServer(t)
	art := artifact(t, srv, "pos-2.0.0.apk")
	clk := newClock()
	later := clk.Now().Add(90 * 24 * time.Hour)
	tests := []struct {
		name     string
		dec      protocol.Decision
		wantErr  bool
		wantStep bool // an install starts on the next step
	}{
		{name: "postponed", dec: installDecision("d1", art, func(d *protocol.Decision) {
			d.Action, d.Mode, d.NotBefore = protocol.ActionPostponed, protocol.ModePostponed, &later
		}), wantErr: true},
		{name: "default mode install waiting for constraints", dec: installDecision("d1", art), wantErr: true},
		{name: "prompt", dec: installDecision("d1", art, func(d *protocol.Decision) {
			d.Action, d.Prompt = protocol.ActionPrompt, &protocol.Prompt{Closable: true, DailyFrequency: 1}
		}), wantStep: true},
		{name: "force", dec: installDecision("d1", art, func(d *protocol.Decision) {
			d.Action, d.Prompt = protocol.ActionForce, &protocol.Prompt{}
		}), wantStep: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			dev := device(t, t.TempDir(), "foreground="+posApp)
			priv, err := protocol.GenerateKey()
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(baseConfig(t, "nats://127.0.0.1:1", t.TempDir(), []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}, dev, clk))
			if err != nil {
				t.Fatal(err)
			}
			env, err := protocol.SignDirective(priv, &protocol.Directive{
				Version: protocol.Version, DeviceID: deviceID, Sequence: 1,
				IssuedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour), Decisions: []protocol.Decision{tt.dec},
			})
			if err != nil {
				t.Fatal(err)
			}
			j := newJobs()
			t.Cleanup(func() { j.stop(5*time.Second, a.log) })
			a.refreshInfo(ctx)
			a.sense(ctx)
			a.acceptEnvelope(env, "push")
			a.step(ctx, j)
			err = backend{a}.UpdateNow(posApp)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("UpdateNow error = %v, want error %t", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, promptapi.ErrNoUpdate) {
				t.Errorf("UpdateNow error %v does not wrap promptapi.ErrNoUpdate", err)
			}
			a.step(ctx, j)
			a.mu.Lock()
			started := a.busy == posApp
			a.mu.Unlock()
			if started {
				select {
				case <-j.done():
				case <-time.After(30 * time.Second):
					t.Fatal("the install did not finish")
				}
			}
			if diff := cmp.Diff(tt.wantStep, started); diff != "" {
				t.Errorf("install started (-want +got):\n%s", diff)
			}
		})
	}
}
