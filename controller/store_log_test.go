package controller

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sluice-mdm/sluice/protocol"
)

func testDecision(id, device, app string) DecisionLogEntry {
	input, _ := json.Marshal(map[string]any{"device": map[string]any{"id": device}, "app": app})
	result, _ := json.Marshal(protocol.Decision{DecisionID: id, Device: device, App: app, Action: protocol.ActionNone,
		Reasons: []protocol.Reason{{Code: protocol.ReasonUpToDate, Message: "up to date"}}})
	return DecisionLogEntry{
		DecisionID: id, Path: "sluice/decision", Input: input, Result: result,
		Labels: map[string]string{"controller": "test"}, Device: device, App: app,
		Policy: &protocol.PolicyRef{Name: "pos", Revision: 3},
	}
}

func decisionIDs(entries []DecisionLogEntry) []string {
	ids := []string{}
	for _, e := range entries {
		ids = append(ids, e.DecisionID)
	}
	return ids
}

func TestDecisionLogQueries(t *testing.T) {
	s, clock, _ := newTestStore(t)
	ctx := testCtx(t)
	start := clock.Now()
	var logged []DecisionLogEntry
	for i, d := range []struct{ device, app string }{
		{"pos-1", "com.example.pos"},   // 09:00
		{"pos-2", "com.example.pos"},   // 09:10
		{"pos-1", "com.example.kiosk"}, // 09:20
		{"pos:3", "com.example.pos"},   // 09:30
		{"pos-1", "com.example.pos"},   // 09:40
	} {
		e, err := s.AppendDecision(ctx, testDecision("dec-"+itoa(uint64(i+1)), d.device, d.app))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		logged = append(logged, e)
		clock.Advance(10 * time.Minute)
	}
	if diff := cmp.Diff(start, logged[0].Timestamp); diff != "" {
		t.Errorf("timestamp from the injected clock (-want +got):\n%s", diff)
	}

	tests := []struct {
		name string
		q    DecisionQuery
		want []string
	}{
		{"all", DecisionQuery{}, []string{"dec-1", "dec-2", "dec-3", "dec-4", "dec-5"}},
		{"by device", DecisionQuery{Device: "pos-1"}, []string{"dec-1", "dec-3", "dec-5"}},
		{"device with colon", DecisionQuery{Device: "pos:3"}, []string{"dec-4"}},
		{"by app", DecisionQuery{App: "com.example.pos"}, []string{"dec-1", "dec-2", "dec-4", "dec-5"}},
		{"by device and app", DecisionQuery{Device: "pos-1", App: "com.example.pos"}, []string{"dec-1", "dec-5"}},
		{"since", DecisionQuery{Since: start.Add(25 * time.Minute)}, []string{"dec-4", "dec-5"}},
		{"since and device", DecisionQuery{Device: "pos-1", Since: start.Add(15 * time.Minute)}, []string{"dec-3", "dec-5"}},
		{"limit keeps the first", DecisionQuery{Limit: 2}, []string{"dec-1", "dec-2"}},
		{"tail keeps the last", DecisionQuery{Limit: 2, Tail: true}, []string{"dec-4", "dec-5"}},
		{"tail of one device", DecisionQuery{Device: "pos-1", Limit: 2, Tail: true}, []string{"dec-3", "dec-5"}},
		{"after pages on", DecisionQuery{After: logged[1].Seq, Limit: 2}, []string{"dec-3", "dec-4"}},
		{"unknown device", DecisionQuery{Device: "nobody"}, []string{}},
		{"future", DecisionQuery{Since: start.Add(24 * time.Hour)}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.QueryDecisions(ctx, tt.q)
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			if diff := cmp.Diff(tt.want, decisionIDs(got)); diff != "" {
				t.Errorf("decision ids (-want +got):\n%s", diff)
			}
		})
	}

	got, err := s.QueryDecisions(ctx, DecisionQuery{Device: "pos-2"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]DecisionLogEntry{logged[1]}, got, cmpRawJSON); diff != "" {
		t.Errorf("full entry (-want +got):\n%s", diff)
	}
}

func TestDecisionLogEntryIsShapedLikeOPAEvents(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := testCtx(t)
	e, err := s.AppendDecision(ctx, testDecision("dec-shape", "pos-1", "com.example.pos"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.decisions.GetMsg(ctx, e.Seq)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(m.Data, &fields); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range fields {
		keys = append(keys, k)
	}
	want := []string{"app", "decision_id", "device", "input", "labels", "path", "policy", "result", "timestamp"}
	if diff := cmp.Diff(want, keys, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("stored fields (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("sluice.v1.log.decision.pos-1", m.Subject); diff != "" {
		t.Errorf("subject (-want +got):\n%s", diff)
	}
}

func TestGetDecisionByID(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := testCtx(t)
	var want DecisionLogEntry
	for i := range 3 {
		e, err := s.AppendDecision(ctx, testDecision("018f2c4e-"+itoa(uint64(i)), "pos-1", "com.example.pos"))
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			want = e
		}
	}
	got, err := s.GetDecision(ctx, "018f2c4e-1")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if diff := cmp.Diff(want, got, cmpRawJSON); diff != "" {
		t.Errorf("entry (-want +got):\n%s", diff)
	}

	// The same decision appended again (a retry) is not logged twice.
	dup, err := s.AppendDecision(ctx, testDecision("018f2c4e-1", "pos-1", "com.example.pos"))
	if err != nil {
		t.Fatalf("append duplicate: %v", err)
	}
	if diff := cmp.Diff(want.Seq, dup.Seq); diff != "" {
		t.Errorf("duplicate's sequence (-want +got):\n%s", diff)
	}
	all, err := s.QueryDecisions(ctx, DecisionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(3, len(all)); diff != "" {
		t.Errorf("entries after a duplicate append (-want +got):\n%s", diff)
	}

	_, err = s.GetDecision(ctx, "never-logged")
	if diff := cmp.Diff(`controller: decision "never-logged" not found`, errorText(err)); diff != "" || !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v (-want +got):\n%s", err, diff)
	}
}

func TestDecisionLogRefusesBadEntriesAndQueries(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := testCtx(t)
	withInput := func(in string) DecisionLogEntry {
		e := testDecision("d1", "pos-1", "com.example.pos")
		e.Input = json.RawMessage(in)
		return e
	}
	tests := []struct {
		name string
		err  func() error
		want string
	}{
		{"id with wildcard", func() error {
			_, err := s.AppendDecision(ctx, testDecision("d>", "pos-1", "com.example.pos"))
			return err
		}, `controller: decision log entry "d>": decision_id "d>" is not allowed; want 1 to 253 letters, digits, '.', '-' and '_', starting with a letter or digit`},
		{"device with dot", func() error {
			_, err := s.AppendDecision(ctx, testDecision("d1", "pos.1", "com.example.pos"))
			return err
		}, `controller: decision log entry "d1": device "pos.1" is not allowed; want protocol: device id "pos.1": has '.' at byte 3; allowed: 1 to 128 bytes of letters, digits, '-', '_' and ':'`},
		{"input not JSON", func() error {
			_, err := s.AppendDecision(ctx, withInput(`{"device":`))
			return err
		}, `controller: decision log entry "d1": input "{\"device\":" is not allowed; want a JSON document`},
		{"limit too large", func() error {
			_, err := s.QueryDecisions(ctx, DecisionQuery{Limit: MaxLogLimit + 1})
			return err
		}, `controller: decision log query: limit 10001 is not allowed; want 1 to 10000 (0 for 100)`},
		{"query device with wildcard", func() error {
			_, err := s.QueryDecisions(ctx, DecisionQuery{Device: "*"})
			return err
		}, `controller: decision log query: device "*" is not allowed; want protocol: device id "*": has '*' at byte 0; allowed: 1 to 128 bytes of letters, digits, '-', '_' and ':'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if diff := cmp.Diff(tt.want, errorText(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
		})
	}
	all, err := s.QueryDecisions(ctx, DecisionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(0, len(all)); diff != "" {
		t.Errorf("entries after refused appends (-want +got):\n%s", diff)
	}
}

func TestDecisionLogSkipsAndNamesMalformedEntries(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := testCtx(t)
	if _, err := s.AppendDecision(ctx, testDecision("ok-1", "pos-1", "com.example.pos")); err != nil {
		t.Fatal(err)
	}
	ack, err := s.JetStream().Publish(ctx, "sluice.v1.log.decision.pos-1", []byte("not json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendDecision(ctx, testDecision("ok-2", "pos-1", "com.example.pos")); err != nil {
		t.Fatal(err)
	}
	got, err := s.QueryDecisions(ctx, DecisionQuery{Device: "pos-1"})
	if diff := cmp.Diff([]string{"ok-1", "ok-2"}, decisionIDs(got)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	want := `controller: stream DECISIONS message ` + itoa(ack.Sequence) + ` on sluice.v1.log.decision.pos-1 is malformed: invalid character 'o' in literal null (expecting 'u')`
	if diff := cmp.Diff(want, errorText(err)); diff != "" || !errors.Is(err, ErrMalformed) {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

func TestAuditLog(t *testing.T) {
	s, clock, _ := newTestStore(t)
	ctx := testCtx(t)
	start := clock.Now()
	entries := []AuditEntry{
		{Actor: "alice", Role: "admin", Action: "apply", Kind: "policy", Name: "pos", Revision: 4, Outcome: AuditOK},
		{Actor: "bob", Role: "operator", Action: "apply", Kind: "policy", Name: "pos", Outcome: AuditDenied, Detail: "force needs the admin role"},
		{Actor: "alice", Role: "admin", Action: "create", Kind: "token", Name: "ci", Outcome: AuditOK},
		{Actor: "carol", Role: "auditor", Action: "read-metrics", Outcome: AuditDenied, Detail: "needs operator"},
	}
	var logged []AuditEntry
	for _, e := range entries {
		got, err := s.AppendAudit(ctx, e)
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		logged = append(logged, got)
		clock.Advance(time.Minute)
	}
	want0 := entries[0]
	want0.Time, want0.Seq = start, logged[0].Seq
	if diff := cmp.Diff(want0, logged[0]); diff != "" {
		t.Errorf("appended entry (-want +got):\n%s", diff)
	}

	actors := func(es []AuditEntry) []string {
		out := []string{}
		for _, e := range es {
			out = append(out, e.Actor+":"+e.Action)
		}
		return out
	}
	tests := []struct {
		name string
		q    AuditQuery
		want []string
	}{
		{"all", AuditQuery{}, []string{"alice:apply", "bob:apply", "alice:create", "carol:read-metrics"}},
		{"by kind", AuditQuery{Kind: "policy"}, []string{"alice:apply", "bob:apply"}},
		{"no kind", AuditQuery{Kind: "none"}, []string{"carol:read-metrics"}},
		{"by actor", AuditQuery{Actor: "alice"}, []string{"alice:apply", "alice:create"}},
		{"denied", AuditQuery{Outcome: AuditDenied}, []string{"bob:apply", "carol:read-metrics"}},
		{"since", AuditQuery{Since: start.Add(90 * time.Second)}, []string{"alice:create", "carol:read-metrics"}},
		{"tail", AuditQuery{Limit: 1, Tail: true}, []string{"carol:read-metrics"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.QueryAudit(ctx, tt.q)
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			if diff := cmp.Diff(tt.want, actors(got)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
	got, err := s.QueryAudit(ctx, AuditQuery{Actor: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]AuditEntry{logged[1]}, got); diff != "" {
		t.Errorf("full entry (-want +got):\n%s", diff)
	}

	bad := []struct {
		name string
		e    AuditEntry
		want string
	}{
		{"no actor", AuditEntry{Action: "apply", Outcome: AuditOK}, `controller: audit entry: actor "" is not allowed; want the acting token's name`},
		{"bad outcome", AuditEntry{Actor: "a", Action: "apply", Outcome: "maybe"}, `controller: audit entry: outcome "maybe" is not allowed; want ok, denied or error`},
		{"kind with dot", AuditEntry{Actor: "a", Action: "apply", Kind: "update.policy", Outcome: AuditOK},
			`controller: audit entry: kind "update.policy" is not allowed; want lowercase letters, digits, '-' and '_' (protocol: audit kind "update.policy": has '.' at byte 6; want lowercase letters, digits, '-' and '_')`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.AppendAudit(ctx, tt.e)
			if diff := cmp.Diff(tt.want, errorText(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
	all, err := s.QueryAudit(ctx, AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(entries) || !strings.HasPrefix(all[0].Actor, "alice") {
		t.Errorf("audit log changed by refused appends: %v", actors(all))
	}
}
