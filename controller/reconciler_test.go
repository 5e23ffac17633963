package controller

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

func TestReportCreatesDeviceAndPublishesSignedDirectiveToItOnly(t *testing.T) {
	f := newRecFixture(t)
	pol := f.seed(appPOS, "pos-stable", "berlin", policy.UpdatePolicy{Mode: protocol.ModeHighPriority})
	r := f.start(ReconcilerConfig{})
	till1, till2 := f.subscribe("till-1"), f.subscribe("till-2")

	rep := f.deviceReport("till-1", "berlin", appPOS)
	rep.Status = map[string]protocol.AppStatus{appPOS: {State: "idle"}}
	rep.DirectiveSequence = 0
	f.report(rep)

	d := f.nextDirective(till1, "till-1", 0)
	want := []brief{{App: appPOS, Action: protocol.ActionInstall, Target: 200, Reason: protocol.ReasonUpdateAvailable, Policy: "pos-stable", Rev: pol.Revision}}
	if diff := cmp.Diff(want, briefs(d.Decisions)); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{uint64(1), f.clock.Now().Add(DefaultDirectiveTTL)}, []any{d.Sequence, d.ExpiresAt}); diff != "" {
		t.Errorf("sequence and expiry (-want +got):\n%s", diff)
	}
	f.settle(r)
	if n := pending(t, till2); n != 0 {
		t.Errorf("another device's subject received %d directives, want 0", n)
	}
	if n := pending(t, till1); n != 0 {
		t.Errorf("till-1 received %d more directives, want 0", n)
	}

	got := f.storedDevice("till-1")
	type inventory struct {
		Labels     map[string]string
		EnrolledAt time.Time
		LastSeen   time.Time
		Apps       int
		Status     map[string]protocol.AppStatus
		By         string
	}
	wantInv := inventory{Labels: map[string]string{"store": "berlin"}, EnrolledAt: f.clock.Now(), LastSeen: f.clock.Now(), Apps: 1,
		Status: map[string]protocol.AppStatus{appPOS: {State: "idle"}}, By: actorReports}
	gotInv := inventory{got.Value.Device.Labels, got.Value.Device.EnrolledAt, got.Value.Device.LastSeen, len(got.Value.Device.Apps), got.Value.LastReport.Status, got.UpdatedBy}
	if diff := cmp.Diff(wantInv, gotInv); diff != "" {
		t.Errorf("inventory record (-want +got):\n%s", diff)
	}
}

func TestPolicyChangePublishesOnlyToDevicesWhoseDecisionsChanged(t *testing.T) {
	f := newRecFixture(t)
	pos := f.seed(appPOS, "pos-stable", "berlin", policy.UpdatePolicy{Mode: protocol.ModeHighPriority})
	f.seed(appKiosk, "kiosk-stable", "munich", policy.UpdatePolicy{Mode: protocol.ModeHighPriority})
	r := f.start(ReconcilerConfig{})
	till1, kiosk1 := f.subscribe("till-1"), f.subscribe("kiosk-1")
	f.report(f.deviceReport("till-1", "berlin", appPOS))
	f.report(f.deviceReport("kiosk-1", "munich", appKiosk))
	first := f.nextDirective(till1, "till-1", 0)
	f.nextDirective(kiosk1, "kiosk-1", 0)
	f.settle(r)

	// Rolling pos-stable out to nobody changes till-1's decision only.
	spec := pos.Value
	spec.Rollout = &policy.RolloutSpec{Percent: 0}
	updated, err := f.store.Policies().Put(testCtx(t), "pos-stable", spec, pos.Revision, "alice")
	if err != nil {
		t.Fatal(err)
	}
	d := f.nextDirective(till1, "till-1", first.Sequence)
	want := []brief{{App: appPOS, Action: protocol.ActionNone, Reason: protocol.ReasonNotInRollout, Policy: "pos-stable", Rev: updated.Revision}}
	if diff := cmp.Diff(want, briefs(d.Decisions)); diff != "" {
		t.Errorf("till-1 decisions after the change (-want +got):\n%s", diff)
	}
	if d.Sequence != 2 {
		t.Errorf("sequence = %d, want 2", d.Sequence)
	}
	f.settle(r)
	if n := pending(t, kiosk1); n != 0 {
		t.Errorf("kiosk-1, untouched by the change, received %d directives, want 0", n)
	}
	if got := f.storedSeq("kiosk-1"); got != 1 {
		t.Errorf("kiosk-1 stored sequence = %d, want 1", got)
	}

	// Putting the same spec again gives a new revision but the same
	// outcome apart from it: the revision is part of the decision, so the
	// device is told (the directive records which revision governs it).
	if _, err := f.store.Policies().Put(testCtx(t), "pos-stable", spec, updated.Revision, "alice"); err != nil {
		t.Fatal(err)
	}
	if d := f.nextDirective(till1, "till-1", 2); d.Sequence != 3 {
		t.Errorf("sequence after a new revision = %d, want 3", d.Sequence)
	}
}

func TestReleaseAndGroupChangesReachTheirDevices(t *testing.T) {
	f := newRecFixture(t)
	f.seed(appPOS, "pos-stable", "berlin", policy.UpdatePolicy{Mode: protocol.ModeHighPriority})
	r := f.start(ReconcilerConfig{})
	till1, till2 := f.subscribe("till-1"), f.subscribe("till-2")
	f.report(f.deviceReport("till-1", "berlin", appPOS))
	f.report(f.deviceReport("till-2", "hamburg", appPOS))
	f.nextDirective(till1, "till-1", 0)
	d2 := f.nextDirective(till2, "till-2", 0)
	if diff := cmp.Diff([]brief{{App: appPOS, Action: protocol.ActionNone, Reason: protocol.ReasonNoPolicy}}, briefs(d2.Decisions)); diff != "" {
		t.Errorf("till-2 outside the group (-want +got):\n%s", diff)
	}
	f.settle(r)

	// A newer release moves till-1's target; till-2 decides the app too
	// (NO_POLICY) but its outcome does not change, so it gets nothing.
	rel := policy.Release{App: appPOS, VersionName: "2.1.0", VersionCode: 210, Track: policy.DefaultTrack, PublishedAt: f.clock.Now(),
		Artifact: protocol.Artifact{URLs: []string{"http://127.0.0.1:1/p.apk"}, SHA256: "ef" + fmt.Sprintf("%062d", 0), Size: 10, MinSDK: 21}}
	if _, err := f.store.Releases().Put(testCtx(t), ReleaseName(appPOS, 210), rel, CreateOnly, "alice"); err != nil {
		t.Fatal(err)
	}
	if d := f.nextDirective(till1, "till-1", 1); d.Decisions[0].Target == nil || d.Decisions[0].Target.VersionCode != 210 {
		t.Errorf("till-1 target after the release = %+v, want versionCode 210", d.Decisions[0].Target)
	}
	f.settle(r)
	if n := pending(t, till2); n != 0 {
		t.Errorf("till-2 received %d directives after the release, want 0", n)
	}

	// Adding hamburg's devices to the group by id brings till-2 in.
	grp, err := f.store.Groups().Get(testCtx(t), "berlin")
	if err != nil {
		t.Fatal(err)
	}
	grp.Value.Members = []string{"till-2"}
	if _, err := f.store.Groups().Put(testCtx(t), "berlin", grp.Value, grp.Revision, "alice"); err != nil {
		t.Fatal(err)
	}
	d := f.nextDirective(till2, "till-2", 1)
	if diff := cmp.Diff(protocol.ActionInstall, d.Decisions[0].Action); diff != "" {
		t.Errorf("till-2 action after joining the group (-want +got):\n%s", diff)
	}
	f.settle(r)
	if n := pending(t, till1); n != 0 {
		t.Errorf("till-1 received %d directives after the group change, want 0", n)
	}
}

func TestDirectiveReissuedBeforeExpiry(t *testing.T) {
	f := newRecFixture(t)
	f.seed(appPOS, "pos-stable", "berlin", policy.UpdatePolicy{Mode: protocol.ModeHighPriority})
	r := f.start(ReconcilerConfig{DirectiveTTL: 24 * time.Hour})
	till1 := f.subscribe("till-1")
	f.report(f.deviceReport("till-1", "berlin", appPOS))
	first := f.nextDirective(till1, "till-1", 0)
	f.settle(r)

	tests := []struct {
		name    string
		advance time.Duration
		want    uint64 // stored sequence after a resync
	}{
		{"9h left: more than a third of the TTL", 15 * time.Hour, 1},
		{"7h left: less than a third", 2 * time.Hour, 2},
		{"just renewed", time.Hour, 2},
	}
	for _, tt := range tests {
		f.clock.Advance(tt.advance)
		r.Resync()
		f.settle(r)
		if got := f.storedSeq("till-1"); got != tt.want {
			t.Errorf("%s: stored sequence = %d, want %d", tt.name, got, tt.want)
		}
	}
	d := f.nextDirective(till1, "till-1", 1)
	type ids struct {
		Seq       uint64
		Decisions []string
		Expires   time.Time
	}
	want := ids{2, []string{first.Decisions[0].DecisionID}, first.IssuedAt.Add(17 * time.Hour).Add(24 * time.Hour)}
	got := ids{d.Sequence, []string{d.Decisions[0].DecisionID}, d.ExpiresAt}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("renewed directive keeps the unchanged decision (-want +got):\n%s", diff)
	}
}

func TestSyncRequests(t *testing.T) {
	f := newRecFixture(t)
	f.seed(appPOS, "pos-stable", "berlin", policy.UpdatePolicy{Mode: protocol.ModeHighPriority})
	r := f.start(ReconcilerConfig{})
	till1 := f.subscribe("till-1")
	f.report(f.deviceReport("till-1", "berlin", appPOS))
	pushed := f.nextDirective(till1, "till-1", 0)
	f.settle(r)

	request := func(t *testing.T, device string, body []byte) protocol.SyncReply {
		t.Helper()
		subject, err := protocol.SyncSubject(device)
		if err != nil {
			t.Fatal(err)
		}
		m, err := f.dev.Request(subject, body, 10*time.Second)
		if err != nil {
			t.Fatalf("sync request: %v", err)
		}
		var rep protocol.SyncReply
		if err := json.Unmarshal(m.Data, &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	req := func(id string, last uint64) []byte {
		b, _ := json.Marshal(protocol.SyncRequest{Version: protocol.Version, DeviceID: id, LastSequence: last})
		return b
	}
	tests := []struct {
		name    string
		device  string
		body    []byte
		wantSeq uint64
		wantErr string
	}{
		{"current directive", "till-1", req("till-1", 0), pushed.Sequence, ""},
		{"agent already has it: the same directive, not a new one", "till-1", req("till-1", pushed.Sequence), pushed.Sequence, ""},
		{"unknown device", "till-9", req("till-9", 0), 0, "unknown device: send a report first"},
		{"device id of another device", "till-1", req("till-2", 0), 0, `sync request: deviceId "till-2" is not the device of subject sluice.v1.device.till-1.sync`},
		{"not JSON", "till-1", []byte("{"), 0, "sync request is not a JSON SyncRequest: unexpected end of JSON input"},
		{"agent holds a newer sequence than the store", "till-1", req("till-1", 7), 8, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := request(t, tt.device, tt.body)
			var gotSeq uint64
			if rep.Directive != nil {
				d, err := protocol.OpenDirective(rep.Directive, tt.device, 0, f.clock.Now(), f.signer.PublicKey())
				if err != nil {
					t.Fatalf("open synced directive: %v", err)
				}
				gotSeq = d.Sequence
			}
			if diff := cmp.Diff([]any{tt.wantSeq, tt.wantErr}, []any{gotSeq, rep.Error}); diff != "" {
				t.Errorf("sync reply (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMalformedDeviceMessagesAreDroppedAndServingGoesOn(t *testing.T) {
	f := newRecFixture(t)
	f.seed(appPOS, "pos-stable", "berlin", policy.UpdatePolicy{Mode: protocol.ModeHighPriority})
	r := f.start(ReconcilerConfig{})
	reportSubject := func(id string) string { s, _ := protocol.ReportSubject(id); return s }
	eventSubject := func(id string) string { s, _ := protocol.EventSubject(id); return s }

	bad := f.deviceReport("till-2", "berlin", appPOS)
	bad.Platform = "windows"
	other := f.deviceReport("till-3", "berlin", appPOS)
	f.publish(reportSubject("till-1"), []byte("not json"))
	f.publish(reportSubject("till-2"), bad)
	f.publish(reportSubject("till-4"), other) // device id of another device
	good := protocol.Event{ID: "e1", DeviceID: "till-1", App: appPOS, Name: protocol.EventDownloadStart, Time: f.clock.Now()}
	wrongDevice := good
	wrongDevice.ID = "e2"
	wrongDevice.DeviceID = "till-2"
	badEvent := good
	badEvent.ID, badEvent.Name = "e3", "Exploded"
	f.publish(eventSubject("till-1"), []byte("{]"))
	f.publish(eventSubject("till-1"), badEvent)
	f.publish(eventSubject("till-1"), wrongDevice)
	f.publish(eventSubject("till-1"), good)
	f.publish(eventSubject("till-1"), good) // sent again after a reconnect

	// Still serving: a good report is stored and answered.
	till1 := f.subscribe("till-1")
	f.report(f.deviceReport("till-1", "berlin", appPOS))
	f.nextDirective(till1, "till-1", 0)
	eventually(t, "download event counted", func() bool { return counterValue(t, r.metrics.Events, "DownloadStart") == 1 })
	f.settle(r)

	ids, err := f.store.Devices().List(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rec := range ids {
		names = append(names, rec.Name)
	}
	if diff := cmp.Diff([]string{"till-1"}, names); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}
	counts := map[string]float64{}
	for _, n := range protocol.EventNames() {
		if v := counterValue(t, r.metrics.Events, string(n)); v != 0 {
			counts[string(n)] = v
		}
	}
	if diff := cmp.Diff(map[string]float64{"DownloadStart": 1}, counts); diff != "" {
		t.Errorf("events counted (-want +got):\n%s", diff)
	}
}

func TestDecisionLogHasInputAndRevisionAndReplaysIdentically(t *testing.T) {
	f := newRecFixture(t)
	pol := f.seed(appPOS, "pos-stable", "berlin", policy.UpdatePolicy{Mode: protocol.ModeDefault,
		MaintenanceWindow: &protocol.MaintenanceWindow{Start: "22:00", End: "04:00"}})
	r := f.start(ReconcilerConfig{})
	till1 := f.subscribe("till-1")
	f.report(f.deviceReport("till-1", "berlin", appPOS))
	d := f.nextDirective(till1, "till-1", 0)
	f.settle(r)

	entries, err := f.store.QueryDecisions(testCtx(t), DecisionQuery{Device: "till-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("decision log has %d entries for till-1, want 1", len(entries))
	}
	e := entries[0]
	type logged struct {
		ID, Path, App string
		Policy        *protocol.PolicyRef
		InputPolicy   uint64
	}
	var in policy.Input
	if err := json.Unmarshal(e.Input, &in); err != nil {
		t.Fatalf("logged input: %v", err)
	}
	var inputRev uint64
	if in.Policy != nil {
		inputRev = in.Policy.Revision
	}
	want := logged{d.Decisions[0].DecisionID, decisionPath, appPOS, &protocol.PolicyRef{Name: "pos-stable", Revision: pol.Revision}, pol.Revision}
	if diff := cmp.Diff(want, logged{e.DecisionID, e.Path, e.App, e.Policy, inputRev}); diff != "" {
		t.Errorf("decision log entry (-want +got):\n%s", diff)
	}

	var result policy.Decision
	if err := json.Unmarshal(e.Result, &result); err != nil {
		t.Fatal(err)
	}
	replayed, err := r.Replay(testCtx(t), in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := policy.SameOutcome(result, replayed); diff != "" {
		t.Errorf("replay differs from the logged result (-logged +replayed):\n%s", diff)
	}
	if replayed.DecisionID != e.DecisionID {
		t.Errorf("replayed decision id = %s, want %s", replayed.DecisionID, e.DecisionID)
	}
}

func TestTwoReplicasNeverIssueTheSameSequence(t *testing.T) {
	f := newRecFixture(t)
	pol := f.seed(appPOS, "pos-stable", "berlin", policy.UpdatePolicy{Mode: protocol.ModeHighPriority})
	a := f.start(ReconcilerConfig{ReplicaID: "a"})
	b := f.start(ReconcilerConfig{ReplicaID: "b"})

	type pub struct {
		device string
		seq    uint64
	}
	got := make(chan pub, 1024)
	sub, err := f.dev.Subscribe("sluice.v1.device.*.directive", func(m *nats.Msg) {
		var env protocol.Envelope
		_ = json.Unmarshal(m.Data, &env)
		id, _, _ := protocol.ParseDeviceSubject(m.Subject)
		d, err := protocol.OpenDirective(&env, id, 0, f.clock.Now(), f.signer.PublicKey())
		if err != nil {
			t.Errorf("directive on %s: %v", m.Subject, err)
			return
		}
		got <- pub{id, d.Sequence}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.dev.Flush(); err != nil {
		t.Fatal(err)
	}

	const devices = 12
	for i := range devices {
		f.report(f.deviceReport(fmt.Sprintf("till-%02d", i), "berlin", appPOS))
	}
	eventually(t, "every device has a directive", func() bool {
		for i := range devices {
			if f.storedSeq(fmt.Sprintf("till-%02d", i)) == 0 {
				return false
			}
		}
		return true
	})
	// Both replicas see each policy change and race to issue.
	rev := pol.Revision
	for i := range 3 {
		spec := pol.Value
		spec.Prompt = &policy.PromptSpec{Closable: true, Text: fmt.Sprintf("update %d", i)}
		rec, err := f.store.Policies().Put(testCtx(t), "pos-stable", spec, rev, "alice")
		if err != nil {
			t.Fatal(err)
		}
		rev = rec.Revision
		// Wait for this change to reach every device before the next, so
		// that each change is one directive (changes that arrive together
		// are folded into one).
		eventually(t, fmt.Sprintf("revision %d issued to every device", rev), func() bool {
			for i := range devices {
				if directiveRevision(t, f, fmt.Sprintf("till-%02d", i)) != rev {
					return false
				}
			}
			return true
		})
	}
	f.settle(a, b)

	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	seen := map[pub]int{}
	for len(got) > 0 {
		seen[<-got]++
	}
	var dup []pub
	for p, n := range seen {
		if n > 1 {
			dup = append(dup, p)
		}
	}
	if len(dup) > 0 {
		t.Errorf("sequences published more than once: %v", dup)
	}
	// Every device ends on the last revision, with one sequence per change.
	for i := range devices {
		id := fmt.Sprintf("till-%02d", i)
		rec, err := f.store.Directives().Get(testCtx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		d, err := protocol.OpenDirective(rec.Value.Envelope, id, 0, f.clock.Now(), f.signer.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]any{uint64(4), rev}, []any{d.Sequence, d.Decisions[0].Policy.Revision}); diff != "" {
			t.Errorf("%s final directive (sequence, policy revision) (-want +got):\n%s", id, diff)
		}
	}
}

// directiveRevision is the policy revision of the first decision in the
// device's stored directive.
func directiveRevision(t *testing.T, f *recFixture, id string) uint64 {
	t.Helper()
	rec, err := f.store.Directives().Get(testCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	var d protocol.Directive
	if err := json.Unmarshal(rec.Value.Envelope.Payload, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Decisions) == 0 || d.Decisions[0].Policy == nil {
		return 0
	}
	return d.Decisions[0].Policy.Revision
}

// A device evaluated at once by a worker and by a sync request (an agent
// that reports and asks for its directive on connect) must not have its
// changed decision logged twice: the decision log holds each decision the
// device was given, once, and nothing it was not given.
func TestConcurrentEvaluationsOfOneDeviceLogEachChangedDecisionOnce(t *testing.T) {
	f := newRecFixture(t)
	start := f.clock.Now().Add(time.Hour)
	f.seed(appPOS, "pos-stable", "berlin", policy.UpdatePolicy{Mode: protocol.ModeHighPriority, Effective: &policy.Effective{Start: &start}})
	// A clock that moves on with every reading, as a real one does, so that
	// two evaluations never share an instant (and a decision id).
	var tick atomic.Int64
	now := func() time.Time { return f.clock.Now().Add(time.Duration(tick.Add(1))) }
	r := f.start(ReconcilerConfig{Now: now})
	till1 := f.subscribe("till-1")
	f.report(f.deviceReport("till-1", "berlin", appPOS))
	first := f.nextDirective(till1, "till-1", 0)
	if diff := cmp.Diff(protocol.ReasonOutsideEffectiveWindow, first.Decisions[0].Reasons[0].Code); diff != "" {
		t.Fatalf("first decision (-want +got):\n%s", diff)
	}
	f.settle(r)

	// The policy takes effect; several evaluations of the device race.
	f.clock.Advance(2 * time.Hour)
	const racers = 8
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for range racers {
		wg.Go(func() {
			<-gate
			if _, err := r.reconcile(testCtx(t), "till-1", 0); err != nil {
				t.Errorf("reconcile: %v", err)
			}
		})
	}
	close(gate)
	wg.Wait()
	f.settle(r)

	entries, err := f.store.QueryDecisions(testCtx(t), DecisionQuery{Device: "till-1"})
	if err != nil {
		t.Fatal(err)
	}
	var logged []string
	for _, e := range entries {
		logged = append(logged, e.DecisionID)
	}
	rec, err := f.store.Directives().Get(testCtx(t), "till-1")
	if err != nil {
		t.Fatal(err)
	}
	var d protocol.Directive
	if err := json.Unmarshal(rec.Value.Envelope.Payload, &d); err != nil {
		t.Fatal(err)
	}
	want := []string{first.Decisions[0].DecisionID, d.Decisions[0].DecisionID}
	if diff := cmp.Diff(want, logged); diff != "" {
		t.Errorf("decision log of till-1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{uint64(2), protocol.ActionInstall}, []any{d.Sequence, d.Decisions[0].Action}); diff != "" {
		t.Errorf("stored directive (sequence, action) (-want +got):\n%s", diff)
	}
}

// An assignment that ties with another (written by a second replica
// before either saw the other) takes both out of the index until one is
// removed; the devices they governed are re-evaluated both times, although
// the tied assignment itself never enters the index.
func TestTiedAssignmentReachesTheDevicesOfTheOneItTiesWith(t *testing.T) {
	f := newRecFixture(t)
	pol := f.seed(appPOS, "pos-stable", "berlin", policy.UpdatePolicy{Mode: protocol.ModeHighPriority})
	r := f.start(ReconcilerConfig{})
	till1 := f.subscribe("till-1")
	f.report(f.deviceReport("till-1", "berlin", appPOS))
	f.nextDirective(till1, "till-1", 0)
	f.settle(r)

	tie, err := f.store.Assignments().Put(testCtx(t), "pos-tie", fleet.Assignment{Policy: "pos-stable", Groups: []string{"berlin"}, Priority: 10}, CreateOnly, "bob")
	if err != nil {
		t.Fatal(err)
	}
	d := f.nextDirective(till1, "till-1", 1)
	if diff := cmp.Diff([]brief{{App: appPOS, Action: protocol.ActionNone, Reason: protocol.ReasonNoPolicy}}, briefs(d.Decisions)); diff != "" {
		t.Errorf("till-1 while the assignments tie (-want +got):\n%s", diff)
	}
	f.settle(r)

	if err := f.store.Assignments().Delete(testCtx(t), "pos-tie", tie.Revision); err != nil {
		t.Fatal(err)
	}
	d = f.nextDirective(till1, "till-1", 2)
	want := []brief{{App: appPOS, Action: protocol.ActionInstall, Target: 200, Reason: protocol.ReasonUpdateAvailable, Policy: "pos-stable", Rev: pol.Revision}}
	if diff := cmp.Diff(want, briefs(d.Decisions)); diff != "" {
		t.Errorf("till-1 once the tie is removed (-want +got):\n%s", diff)
	}
}
