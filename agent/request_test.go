package agent

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/protocol"
)

// TestUpdateRequestAndRedecision: the user's "update" on a prompt is kept
// when a new directive re-decides the same target (a closable prompt
// turning forced after forceAfter, say) before the agent acts on it, and
// dropped when the new directive targets another version.
func TestUpdateRequestAndRedecision(t *testing.T) {
	srv := apkServer(t)
	art200 := artifact(t, srv, "pos-2.0.0.apk")
	art300 := artifact(t, srv, "pos-3.0.0.apk")
	prompt := func(d *protocol.Decision) {
		d.Action = protocol.ActionPrompt
		d.Prompt = &protocol.Prompt{Closable: true, DailyFrequency: 1}
	}
	tests := []struct {
		name        string
		next        protocol.Decision
		wantInstall bool
		wantVersion int64
	}{
		{
			name: "same target, now forced",
			next: installDecision("d2", art200, func(d *protocol.Decision) {
				d.Action, d.Prompt = protocol.ActionForce, &protocol.Prompt{}
			}),
			wantInstall: true, wantVersion: 200,
		},
		{
			name: "another target",
			next: installDecision("d2", art300, prompt, func(d *protocol.Decision) {
				d.Target.VersionName, d.Target.VersionCode = "3.0.0", 300
			}),
			wantInstall: false, wantVersion: 100,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			clk := newClock()
			dev := device(t, t.TempDir(), "foreground="+posApp)
			stepped := newSteppedAgent(t, ctx, dev, clk)
			a, j, sign := stepped.Agent, stepped.jobs, stepped.sign
			a.acceptEnvelope(sign(1, installDecision("d1", art200, prompt)), "push")
			a.step(ctx, j)
			if got := appStatus(a, posApp).State; got != PhasePrompting {
				t.Fatalf("before the click: state %q, want %q", got, PhasePrompting)
			}
			if err := (backend{a}).UpdateNow(posApp); err != nil {
				t.Fatal(err)
			}
			a.acceptEnvelope(sign(2, tt.next), "push")
			a.step(ctx, j)
			a.mu.Lock()
			started := a.busy == posApp // set by step, cleared when the job ends
			a.mu.Unlock()
			select {
			case <-j.done():
				started = true
			default:
				if started {
					select {
					case <-j.done():
					case <-time.After(30 * time.Second):
						t.Fatal("the requested install did not finish")
					}
				}
			}
			if !started {
				if got := appStatus(a, posApp).State; got != PhasePrompting {
					t.Errorf("no install started, state %q; want %q", got, PhasePrompting)
				}
			}
			if diff := cmp.Diff(tt.wantInstall, started); diff != "" {
				t.Errorf("install started after the new directive (-want +got):\n%s", diff)
			}
			apps, err := dev.Installed(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantVersion, apps[posApp].VersionCode); diff != "" {
				t.Errorf("installed versionCode (-want +got):\n%s", diff)
			}
		})
	}
}
