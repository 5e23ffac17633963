package controller

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/internal/natstest"
	"github.com/sluice-mdm/sluice/policy"
)

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t)
	clock := newTestClock()

	srv, url := natstest.StartAt(t, dir)
	nc := natstest.Connect(t, url)
	s := openTestStore(t, nc, clock)
	pol, err := s.Policies().Put(ctx, "pos", testPolicy("com.example.pos"), CreateOnly, "alice")
	if err != nil {
		t.Fatal(err)
	}
	grp, err := s.Groups().Put(ctx, "berlin", fleet.DeviceGroup{Selector: "store=berlin-01"}, CreateOnly, "alice")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := s.Releases().Put(ctx, "com.example.pos.42", testRelease("com.example.pos", 42, "4.2.0", shaA), CreateOnly, "alice")
	if err != nil {
		t.Fatal(err)
	}
	dec, err := s.AppendDecision(ctx, testDecision("dec-1", "pos-1", "com.example.pos"))
	if err != nil {
		t.Fatal(err)
	}
	aud, err := s.AppendAudit(ctx, AuditEntry{Actor: "alice", Role: "admin", Action: "apply", Kind: "policy", Name: "pos", Revision: pol.Revision, Outcome: AuditOK})
	if err != nil {
		t.Fatal(err)
	}
	apk := bytes.Repeat([]byte("sluice-apk"), 50_000)
	art, err := s.PutArtifact(ctx, sha256Hex(apk), bytes.NewReader(apk))
	if err != nil {
		t.Fatal(err)
	}

	nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()

	_, url2 := natstest.StartAt(t, dir)
	s2 := openTestStore(t, natstest.Connect(t, url2), clock)

	gotPol, err := s2.Policies().Get(ctx, "pos")
	if err != nil {
		t.Fatalf("policy after restart: %v", err)
	}
	if diff := cmp.Diff(pol, gotPol); diff != "" {
		t.Errorf("policy after restart (-want +got):\n%s", diff)
	}
	gotGrp, err := s2.Groups().Get(ctx, "berlin")
	if err != nil {
		t.Fatalf("group after restart: %v", err)
	}
	if diff := cmp.Diff(grp, gotGrp); diff != "" {
		t.Errorf("group after restart (-want +got):\n%s", diff)
	}
	gotRel, err := s2.Releases().Get(ctx, "com.example.pos.42")
	if err != nil {
		t.Fatalf("release after restart: %v", err)
	}
	if diff := cmp.Diff(rel, gotRel); diff != "" {
		t.Errorf("release after restart (-want +got):\n%s", diff)
	}
	gotDec, err := s2.GetDecision(ctx, "dec-1")
	if err != nil {
		t.Fatalf("decision after restart: %v", err)
	}
	if diff := cmp.Diff(dec, gotDec, cmpRawJSON); diff != "" {
		t.Errorf("decision after restart (-want +got):\n%s", diff)
	}
	gotAud, err := s2.QueryAudit(ctx, AuditQuery{})
	if err != nil {
		t.Fatalf("audit after restart: %v", err)
	}
	if diff := cmp.Diff([]AuditEntry{aud}, gotAud); diff != "" {
		t.Errorf("audit after restart (-want +got):\n%s", diff)
	}
	rc, gotArt, err := s2.OpenArtifact(ctx, art.SHA256)
	if err != nil {
		t.Fatalf("artifact after restart: %v", err)
	}
	defer rc.Close()
	data := readAll(t, rc)
	if diff := cmp.Diff(art, gotArt); diff != "" {
		t.Errorf("artifact info after restart (-want +got):\n%s", diff)
	}
	if !bytes.Equal(apk, data) {
		t.Errorf("artifact content after restart: %d bytes differ from the %d stored", len(data), len(apk))
	}

	// Revisions keep increasing after the restart.
	next, err := s2.Policies().Put(ctx, "pos", testPolicy("com.example.pos"), gotPol.Revision, "bob")
	if err != nil {
		t.Fatalf("update after restart: %v", err)
	}
	if next.Revision <= gotPol.Revision {
		t.Errorf("revision after restart %d is not above %d", next.Revision, gotPol.Revision)
	}
}

func TestMalformedValuesAreReportedNotPanicked(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := testCtx(t)
	good, err := s.Policies().Put(ctx, "good", testPolicy("com.example.pos"), CreateOnly, "alice")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.JetStream().KeyValue(ctx, "policies")
	if err != nil {
		t.Fatal(err)
	}
	// Written by hand, bypassing the store.
	badRev, err := raw.Put(ctx, "broken", []byte(`{"updatedAt": "yesterday", "value": {`))
	if err != nil {
		t.Fatal(err)
	}
	emptyRev, err := raw.Put(ctx, "empty", []byte(`{"updatedAt":"2026-05-02T09:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	wrongRev, err := raw.Put(ctx, "wrongtype", []byte(`{"value":{"app":42}}`))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		key  string
		want string
	}{
		{"not JSON", "broken", `controller: bucket policies key "broken" revision ` + itoa(badRev) + ` holds a malformed value: unexpected end of JSON input`},
		{"no value", "empty", `controller: bucket policies key "empty" revision ` + itoa(emptyRev) + ` holds a malformed value: it has no "value"`},
		{"wrong type", "wrongtype", `controller: bucket policies key "wrongtype" revision ` + itoa(wrongRev) + ` holds a malformed value: json: cannot unmarshal number into Go struct field UpdatePolicy.app of type string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Policies().Get(ctx, tt.key)
			if diff := cmp.Diff(tt.want, errorText(err)); diff != "" {
				t.Errorf("get error (-want +got):\n%s", diff)
			}
			var me *MalformedError
			if !errors.As(err, &me) || !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v; want a *MalformedError", err)
			}
		})
	}

	// List still returns the good record and names every bad one.
	list, err := s.Policies().List(ctx)
	if diff := cmp.Diff([]Record[policy.UpdatePolicy]{good}, list); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	for _, key := range []string{"broken", "empty", "wrongtype"} {
		if !strings.Contains(errorText(err), `key "`+key+`"`) {
			t.Errorf("list error %q does not name key %q", errorText(err), key)
		}
	}

	// A watcher gets the error with the change instead of stopping.
	ch, err := s.Policies().Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]bool{}
	for c := nextChange(t, ch); c.Op != ChangeSynced; c = nextChange(t, ch) {
		if c.Err != nil {
			bad[c.Name] = errors.Is(c.Err, ErrMalformed)
		}
	}
	if diff := cmp.Diff(map[string]bool{"broken": true, "empty": true, "wrongtype": true}, bad); diff != "" {
		t.Errorf("watch errors (-want +got):\n%s", diff)
	}
}

// cmpRawJSON compares json.RawMessage by meaning, not by spacing.
var cmpRawJSON = cmp.Transformer("rawJSON", func(m json.RawMessage) any {
	var v any
	if err := json.Unmarshal(m, &v); err != nil {
		return string(m)
	}
	return v
})
