package controller

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/protocol"
)

func TestExplainRoute(t *testing.T) {
	h := newAPIHarness(t)
	h.seedPOS()
	h.putDevice("till-1", map[string]string{"store": "berlin-01"}, map[string]protocol.InstalledApp{"com.example.pos": {VersionName: "1.0.0", VersionCode: 100}})
	var ex Explanation
	h.decode(h.as(RoleOperator, "GET", "/api/v1/devices/till-1/explain?app=com.example.pos", "", nil), 200, &ex)
	type short struct {
		Groups []string
		Action protocol.Action
		Reason string
	}
	got := short{Groups: ex.Groups}
	if len(ex.Decisions) == 1 {
		got.Action, got.Reason = ex.Decisions[0].Action, ex.Decisions[0].Reasons[0].Code
	}
	if diff := cmp.Diff(short{[]string{"berlin"}, protocol.ActionInstall, protocol.ReasonUpdateAvailable}, got); diff != "" {
		t.Errorf("explain (-want +got):\n%s", diff)
	}
	type answer struct {
		Status int
		Error  string
	}
	for _, tc := range []struct {
		name, path string
		want       answer
	}{
		{"unknown device", "/api/v1/devices/till-9/explain", answer{404, `device "till-9" not found`}},
		{"bad app", "/api/v1/devices/till-1/explain?app=pos", answer{400, `parameter app: "pos" is not allowed; want a package name such as com.example.pos`}},
		{"bad device", "/api/v1/devices/till%2E1/explain", answer{400, `device id "till.1" is not allowed; want 1 to 128 letters, digits, '-', '_' and ':'`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.as(RoleOperator, "GET", tc.path, "", nil)
			if diff := cmp.Diff(tc.want, answer{a.Status, a.errorText()}); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRolloutRoute(t *testing.T) {
	h := newAPIHarness(t)
	h.seedPOS()
	key, err := protocol.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pol, err := h.store.Policies().Get(testCtx(t), "pos-stable")
	if err != nil {
		t.Fatal(err)
	}
	ref := &protocol.PolicyRef{Name: "pos-stable", Revision: pol.Revision}
	target := &protocol.Target{VersionName: "2.0.0", VersionCode: 200}
	decisions := map[string]protocol.Decision{
		"till-1": {App: "com.example.pos", Action: protocol.ActionInstall, Target: target, Policy: ref},
		"till-2": {App: "com.example.pos", Action: protocol.ActionInstall, Target: target, Policy: ref},
		"till-3": {App: "com.example.pos", Action: protocol.ActionNone, Policy: ref},
		"till-4": {App: "com.example.menu", Action: protocol.ActionNone},
	}
	now := h.clock.Now()
	for id, d := range decisions {
		h.putDevice(id, map[string]string{"store": "berlin-01"}, nil)
		d.Device = id
		env, err := protocol.SignDirective(key, &protocol.Directive{Version: 1, DeviceID: id, Sequence: 1, IssuedAt: now, ExpiresAt: now.Add(time.Hour), Decisions: []protocol.Decision{d}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.store.Directives().Put(testCtx(t), id, DirectiveRecord{Sequence: 1, IssuedAt: now, ExpiresAt: now.Add(time.Hour), Envelope: env}, AnyRevision, "test"); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := h.store.Devices().Get(testCtx(t), "till-1")
	if err != nil {
		t.Fatal(err)
	}
	rec.Value.LastReport = &ReportSummary{Status: map[string]protocol.AppStatus{"com.example.pos": {State: "waiting"}}}
	if _, err := h.store.Devices().Put(testCtx(t), "till-1", rec.Value, rec.Revision, "test"); err != nil {
		t.Fatal(err)
	}

	var got struct{ Items []RolloutItem }
	h.decode(h.as(RoleOperator, "GET", "/api/v1/rollout?policy=pos-stable", "", nil), 200, &got)
	want := []RolloutItem{{Policy: "pos-stable", App: "com.example.pos", Revision: pol.Revision, Target: &RolloutTarget{VersionName: "2.0.0", VersionCode: 200},
		Devices: 3, ByAction: map[protocol.Action]int{protocol.ActionInstall: 2, protocol.ActionNone: 1}, ByState: map[string]int{"waiting": 1, "unknown": 2}}}
	if diff := cmp.Diff(want, got.Items); diff != "" {
		t.Errorf("rollout (-want +got):\n%s", diff)
	}
	if a := h.as(RoleOperator, "GET", "/api/v1/rollout?policy=nope", "", nil); a.Status != 404 {
		t.Errorf("unknown policy: %d, want 404", a.Status)
	}
}
