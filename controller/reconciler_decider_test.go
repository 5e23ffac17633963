package controller

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/sluice-mdm/sluice/internal/natstest"
	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

func natsConnect(t *testing.T, url string) *nats.Conn { return natstest.Connect(t, url) }

func TestExplainGathersDecisionGroupsStatusAndDirective(t *testing.T) {
	f := newRecFixture(t)
	pol := f.seed(appPOS, "pos-stable", "berlin", policy.UpdatePolicy{Mode: protocol.ModeHighPriority})
	r := f.start(ReconcilerConfig{})
	till1 := f.subscribe("till-1")
	rep := f.deviceReport("till-1", "berlin", appPOS)
	rep.Status = map[string]protocol.AppStatus{appPOS: {State: "waiting", WaitingFor: []string{protocol.WaitingForCharging}}}
	rep.DirectiveSequence = 1
	f.report(rep)
	d := f.nextDirective(till1, "till-1", 0)
	f.settle(r)

	// Later, the same outcome is the issued decision, with the id the
	// device reports back, not a fresh one made of a later input.
	f.clock.Advance(time.Minute)
	ex, err := r.Explain(testCtx(t), "till-1", appPOS)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Decisions) != 1 || ex.Decisions[0].DecisionID != d.Decisions[0].DecisionID {
		t.Errorf("explain shows decision %v, want the issued %s", ex.Decisions, d.Decisions[0].DecisionID)
	}
	type summary struct {
		Groups    []string
		Decisions []brief
		Status    map[string]protocol.AppStatus
		Directive *DirectiveInfo
	}
	want := summary{
		Groups:    []string{"berlin"},
		Decisions: []brief{{App: appPOS, Action: protocol.ActionInstall, Target: 200, Reason: protocol.ReasonUpdateAvailable, Policy: "pos-stable", Rev: pol.Revision}},
		Status:    rep.Status,
		Directive: &DirectiveInfo{Sequence: 1, IssuedAt: d.IssuedAt, ExpiresAt: d.ExpiresAt, Acknowledged: 1},
	}
	if diff := cmp.Diff(want, summary{ex.Groups, briefs(ex.Decisions), ex.Status, ex.Directive}); diff != "" {
		t.Errorf("explanation (-want +got):\n%s", diff)
	}

	errs := []struct {
		name, device, app string
		is                error
	}{
		{"unknown device", "till-9", "", ErrNotFound},
		{"bad app", "till-1", "pos", ErrInvalid},
		{"bad device id", "till.1", "", ErrInvalid},
	}
	for _, tt := range errs {
		if _, err := r.Explain(testCtx(t), tt.device, tt.app); !errors.Is(err, tt.is) {
			t.Errorf("%s: error = %v, want %v", tt.name, err, tt.is)
		}
	}
}

func TestDryRunCountsChangedDecisionsWithoutStoring(t *testing.T) {
	f := newRecFixture(t)
	pol := f.seed(appPOS, "pos-stable", "berlin", policy.UpdatePolicy{Mode: protocol.ModeHighPriority})
	r := f.start(ReconcilerConfig{})
	for i := range 3 {
		f.report(f.deviceReport(fmt.Sprintf("till-%d", i), "berlin", appPOS))
	}
	f.report(f.deviceReport("kiosk-1", "munich", appKiosk))
	eventually(t, "four devices issued", func() bool { return f.storedSeq("till-2") == 1 && f.storedSeq("kiosk-1") == 1 })
	f.settle(r)

	withRollout := func(p float64) *manifest.Set {
		spec := pol.Value
		spec.Rollout = &policy.RolloutSpec{Percent: p}
		return &manifest.Set{Policies: []manifest.Policy{{Meta: manifest.Meta{Name: "pos-stable"}, Spec: spec}}}
	}
	tests := []struct {
		name      string
		changes   *manifest.Set
		deletions []ObjectRef
		want      Impact
	}{
		{"unchanged policy", withRollout(100), nil, Impact{Devices: 4, Sample: []ImpactChange{}}},
		{"rollout to nobody", withRollout(0), nil, Impact{Devices: 4, Changed: 3, Sample: []ImpactChange{
			{Device: "till-0", App: appPOS, From: protocol.ActionInstall, To: protocol.ActionNone, Reason: protocol.ReasonNotInRollout},
			{Device: "till-1", App: appPOS, From: protocol.ActionInstall, To: protocol.ActionNone, Reason: protocol.ReasonNotInRollout},
			{Device: "till-2", App: appPOS, From: protocol.ActionInstall, To: protocol.ActionNone, Reason: protocol.ReasonNotInRollout},
		}}},
		{"assignment deleted", nil, []ObjectRef{{Kind: KindAssignment, Name: "pos-stable-berlin"}}, Impact{Devices: 4, Changed: 3, Sample: []ImpactChange{
			{Device: "till-0", App: appPOS, From: protocol.ActionInstall, To: protocol.ActionNone, Reason: protocol.ReasonNoPolicy},
			{Device: "till-1", App: appPOS, From: protocol.ActionInstall, To: protocol.ActionNone, Reason: protocol.ReasonNoPolicy},
			{Device: "till-2", App: appPOS, From: protocol.ActionInstall, To: protocol.ActionNone, Reason: protocol.ReasonNoPolicy},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.DryRun(testCtx(t), tt.changes, tt.deletions)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("impact (-want +got):\n%s", diff)
			}
		})
	}
	f.settle(r)
	if got := f.storedSeq("till-0"); got != 1 {
		t.Errorf("a dry run issued a directive: sequence %d, want 1", got)
	}

	if _, err := r.DryRun(testCtx(t), nil, []ObjectRef{{Kind: "token", Name: "x"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("dry run deleting a token: error = %v, want ErrInvalid", err)
	}
}

func TestDecideForDeviceOutsideTheInventory(t *testing.T) {
	f := newRecFixture(t)
	f.seed(appPOS, "pos-stable", "berlin", policy.UpdatePolicy{Mode: protocol.ModeHighPriority})
	r := f.start(ReconcilerConfig{})
	dev := policy.Device{ID: "app-install-1", Platform: protocol.PlatformAndroid, SDK: 30, Labels: map[string]string{"store": "berlin"},
		Apps: map[string]protocol.InstalledApp{appPOS: {VersionName: "1.0.0", VersionCode: 100}}}
	d, err := r.DecideFor(testCtx(t), dev, appPOS)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{protocol.ActionInstall, int64(200)}, []any{d.Action, d.Target.VersionCode}); diff != "" {
		t.Errorf("decision (-want +got):\n%s", diff)
	}
	dev.ID = ""
	if _, err := r.DecideFor(testCtx(t), dev, appPOS); !errors.Is(err, ErrInvalid) {
		t.Errorf("no device id: error = %v, want ErrInvalid", err)
	}
	if !r.Ready() {
		t.Errorf("Ready() = false on a synced reconciler")
	}
}
