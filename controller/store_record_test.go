package controller

import (
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/internal/natstest"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

func testPolicy(app string) policy.UpdatePolicy {
	return policy.UpdatePolicy{App: app, Mode: protocol.ModeDefault, Track: "production"}
}

func TestCollectionCRUD(t *testing.T) {
	s, clock, _ := newTestStore(t)
	ctx := testCtx(t)
	pols := s.Policies()

	created, err := pols.Put(ctx, "pos-default", testPolicy("com.example.pos"), CreateOnly, "alice")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	want := Record[policy.UpdatePolicy]{Name: "pos-default", Revision: created.Revision, UpdatedAt: clock.Now(), UpdatedBy: "alice", Value: testPolicy("com.example.pos")}
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("created record (-want +got):\n%s", diff)
	}
	got, err := pols.Get(ctx, "pos-default")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("get after create (-want +got):\n%s", diff)
	}

	clock.Advance(time.Hour)
	changed := testPolicy("com.example.pos")
	changed.Mode = protocol.ModeHighPriority
	updated, err := pols.Put(ctx, "pos-default", changed, created.Revision, "bob")
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if updated.Revision <= created.Revision {
		t.Errorf("update revision %d is not above %d", updated.Revision, created.Revision)
	}
	want = Record[policy.UpdatePolicy]{Name: "pos-default", Revision: updated.Revision, UpdatedAt: clock.Now(), UpdatedBy: "bob", Value: changed}
	got, err = pols.Get(ctx, "pos-default")
	if err != nil {
		t.Fatalf("get after update: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("get after update (-want +got):\n%s", diff)
	}
	old, err := pols.GetRevision(ctx, "pos-default", created.Revision)
	if err != nil {
		t.Fatalf("get old revision: %v", err)
	}
	if diff := cmp.Diff(created, old); diff != "" {
		t.Errorf("old revision (-want +got):\n%s", diff)
	}

	second, err := pols.Put(ctx, "kiosk", testPolicy("com.example.kiosk"), CreateOnly, "alice")
	if err != nil {
		t.Fatalf("create second: %v", err)
	}
	list, err := pols.List(ctx)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if diff := cmp.Diff([]Record[policy.UpdatePolicy]{second, want}, list); diff != "" {
		t.Errorf("list, sorted by name (-want +got):\n%s", diff)
	}

	if err := pols.Delete(ctx, "pos-default", updated.Revision); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = pols.Get(ctx, "pos-default")
	if diff := cmp.Diff(`controller: policy "pos-default" not found`, errorText(err)); diff != "" || !errors.Is(err, ErrNotFound) {
		t.Errorf("get after delete: %v (-want +got):\n%s", err, diff)
	}
	list, err = pols.List(ctx)
	if err != nil {
		t.Fatalf("list after delete: %v", err)
	}
	if diff := cmp.Diff([]Record[policy.UpdatePolicy]{second}, list); diff != "" {
		t.Errorf("list after delete (-want +got):\n%s", diff)
	}
	// A deleted name can be created again.
	again, err := pols.Put(ctx, "pos-default", testPolicy("com.example.pos"), CreateOnly, "carol")
	if err != nil {
		t.Fatalf("re-create after delete: %v", err)
	}
	if again.Revision <= updated.Revision {
		t.Errorf("re-created revision %d is not above %d", again.Revision, updated.Revision)
	}
}

func TestCollectionEmptyList(t *testing.T) {
	s, _, _ := newTestStore(t)
	got, err := s.Groups().List(testCtx(t))
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if diff := cmp.Diff(0, len(got)); diff != "" {
		t.Errorf("records in an empty bucket (-want +got):\n%s", diff)
	}
}

func TestRevisionsIncreaseAcrossTheBucket(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := testCtx(t)
	var last uint64
	for i, name := range []string{"g1", "g2", "g1", "g3", "g2"} {
		rec, err := s.Groups().Put(ctx, name, fleet.DeviceGroup{Selector: "store=berlin-01"}, AnyRevision, "alice")
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		if rec.Revision <= last {
			t.Fatalf("put %d (%s): revision %d is not above the previous %d", i, name, rec.Revision, last)
		}
		last = rec.Revision
	}
}

func TestConcurrentWritersExactlyOneWins(t *testing.T) {
	s, _, url := newTestStore(t)
	ctx := testCtx(t)
	// The second writer is another controller replica on its own connection.
	other := openTestStore(t, natstest.Connect(t, url), newTestClock())
	base, err := s.Policies().Put(ctx, "p", testPolicy("com.example.pos"), CreateOnly, "setup")
	if err != nil {
		t.Fatal(err)
	}

	const rounds = 5
	for round := range rounds {
		cur, err := s.Policies().Get(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make([]error, 2)
		revs := make([]uint64, 2)
		for i, st := range []*Store{s, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := testPolicy("com.example.pos")
				p.PostponeDays = 10*round + i + 1
				rec, err := st.Policies().Put(ctx, "p", p, cur.Revision, []string{"alice", "bob"}[i])
				results[i], revs[i] = err, rec.Revision
			}()
		}
		wg.Wait()
		var wins, conflicts int
		var conflict *ConflictError
		var winner uint64
		for i, err := range results {
			switch {
			case err == nil:
				wins++
				winner = revs[i]
			case errors.As(err, &conflict) && errors.Is(err, ErrConflict):
				conflicts++
			default:
				t.Fatalf("round %d writer %d: unexpected error %v", round, i, err)
			}
		}
		if wins != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d wins and %d conflicts; want exactly one of each", round, wins, conflicts)
		}
		want := ConflictError{Kind: KindPolicy, Name: "p", Expected: cur.Revision, Current: winner}
		got := *conflict
		got.Err = nil
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("round %d conflict (-want +got):\n%s", round, diff)
		}
		if !errors.Is(conflict, jetstream.ErrKeyRevisionMismatch) && !errors.Is(conflict, jetstream.ErrKeyExists) {
			t.Errorf("round %d: conflict does not wrap the JetStream error: %v", round, conflict.Err)
		}
	}
	if base.Revision == 0 {
		t.Errorf("base revision is 0")
	}
}

func TestWriteConflictsAreExplained(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := testCtx(t)
	first, err := s.Groups().Put(ctx, "berlin", fleet.DeviceGroup{Selector: "store=berlin-01"}, CreateOnly, "alice")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Groups().Put(ctx, "berlin", fleet.DeviceGroup{Selector: "store in (berlin-01,berlin-02)"}, first.Revision, "alice")
	if err != nil {
		t.Fatal(err)
	}
	stale := first.Revision
	gone, err := s.Groups().Put(ctx, "gone", fleet.DeviceGroup{Members: []string{"d1"}}, CreateOnly, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Groups().Delete(ctx, "gone", gone.Revision); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		op   func() error
		want string
	}{
		{"create existing", func() error {
			_, err := s.Groups().Put(ctx, "berlin", fleet.DeviceGroup{}, CreateOnly, "bob")
			return err
		}, `controller: group "berlin" already exists at revision ` + itoa(rec.Revision) + `; it was to be created, so nothing was changed`},
		{"update stale", func() error {
			_, err := s.Groups().Put(ctx, "berlin", fleet.DeviceGroup{}, stale, "bob")
			return err
		}, `controller: group "berlin": expected revision ` + itoa(stale) + `, current revision is ` + itoa(rec.Revision) + `; someone else changed it, nothing was changed`},
		{"update deleted", func() error {
			_, err := s.Groups().Put(ctx, "gone", fleet.DeviceGroup{}, gone.Revision, "bob")
			return err
		}, `controller: group "gone": expected revision ` + itoa(gone.Revision) + `, but it no longer exists; nothing was changed`},
		{"delete stale", func() error { return s.Groups().Delete(ctx, "berlin", stale) },
			`controller: group "berlin": expected revision ` + itoa(stale) + `, current revision is ` + itoa(rec.Revision) + `; someone else changed it, nothing was changed`},
		{"delete missing", func() error { return s.Groups().Delete(ctx, "nobody", AnyRevision) }, `controller: group "nobody" not found`},
		{"delete create-only", func() error { return s.Groups().Delete(ctx, "berlin", CreateOnly) },
			`controller: group "berlin": expected revision 0 is not allowed; want the revision being deleted, or AnyRevision`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, errorText(tt.op())); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
	// Nothing above changed the group.
	got, err := s.Groups().Get(ctx, "berlin")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rec, got); diff != "" {
		t.Errorf("group after refused writes (-want +got):\n%s", diff)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func TestPutValidatesNamesAndValues(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := testCtx(t)
	tests := []struct {
		name string
		op   func() error
		want string
	}{
		{"empty name", func() error {
			_, err := s.Policies().Put(ctx, "", testPolicy("a.b"), CreateOnly, "t")
			return err
		}, `controller: policy: name "" is not allowed; want 1 to 253 letters, digits, '.', '-' and '_', starting with a letter or digit, without ".." or a trailing '.' (it is 0 bytes long)`},
		{"subject wildcard in name", func() error {
			_, err := s.Policies().Put(ctx, "pos.*", testPolicy("a.b"), CreateOnly, "t")
			return err
		}, `controller: policy: name "pos.*" is not allowed; want 1 to 253 letters, digits, '.', '-' and '_', starting with a letter or digit, without ".." or a trailing '.' ('*' at byte 4)`},
		{"group name differs", func() error {
			_, err := s.Groups().Put(ctx, "berlin", fleet.DeviceGroup{Name: "paris"}, CreateOnly, "t")
			return err
		}, `controller: group "berlin": name "paris" is not allowed; want the record's name "berlin"`},
		{"device id with dot", func() error {
			_, err := s.Devices().Put(ctx, "pos.1", DeviceRecord{}, AnyRevision, "t")
			return err
		}, `controller: device: device id "pos.1" is not allowed; want protocol: device id "pos.1": has '.' at byte 3; allowed: 1 to 128 bytes of letters, digits, '-', '_' and ':'`},
		{"token not a hash", func() error {
			_, err := s.Tokens().Put(ctx, "secret", Token{Name: "ci", Role: "admin"}, CreateOnly, "t")
			return err
		}, `controller: token: name "secret" is not allowed; want the token's hash: 64 lowercase hex digits (TokenHash of the secret)`},
		{"token without role", func() error {
			_, err := s.Tokens().Put(ctx, TokenHash("s"), Token{Name: "ci"}, CreateOnly, "t")
			return err
		}, `controller: token "` + TokenHash("s") + `": role "" is not allowed; want a role (operator, admin, superadmin or auditor)`},
		{"unsigned directive", func() error {
			_, err := s.Directives().Put(ctx, "d1", DirectiveRecord{Sequence: 1}, AnyRevision, "t")
			return err
		}, `controller: directive "d1": envelope "unsigned" is not allowed; want a signed directive envelope`},
		{"meta not JSON", func() error {
			_, err := s.Meta().Put(ctx, "settings", json.RawMessage(`{`), AnyRevision, "t")
			return err
		}, `controller: meta "settings": value "{" is not allowed; want a JSON value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			if diff := cmp.Diff(tt.want, errorText(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
		})
	}
}

func TestDeviceIDsWithColonsRoundTrip(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := testCtx(t)
	dev := DeviceRecord{Device: policy.Device{Platform: protocol.PlatformAndroid, Labels: map[string]string{"store": "berlin-01"}}}
	rec, err := s.Devices().Put(ctx, "pos:berlin:0001", dev, AnyRevision, "reconciler")
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	dev.Device.ID = "pos:berlin:0001" // completed from the name
	if diff := cmp.Diff(dev, rec.Value); diff != "" {
		t.Errorf("stored device (-want +got):\n%s", diff)
	}
	list, err := s.Devices().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Record[DeviceRecord]{rec}, list); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
}

func TestTokensAreStoredByHash(t *testing.T) {
	s, clock, _ := newTestStore(t)
	ctx := testCtx(t)
	secret := "sk_9f2c4e"
	tok := Token{Name: "ci", Role: "admin", CreatedAt: clock.Now(), CreatedBy: "bootstrap"}
	if _, err := s.Tokens().Put(ctx, TokenHash(secret), tok, CreateOnly, "bootstrap"); err != nil {
		t.Fatalf("put: %v", err)
	}
	got, err := s.Tokens().Get(ctx, TokenHash(secret))
	if err != nil {
		t.Fatalf("look up by secret: %v", err)
	}
	tok.Hash = TokenHash(secret)
	if diff := cmp.Diff(tok, got.Value); diff != "" {
		t.Errorf("token (-want +got):\n%s", diff)
	}
	raw, err := s.JetStream().KeyValue(ctx, "tokens")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := raw.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{TokenHash(secret)}, keys); diff != "" {
		t.Errorf("token keys hold the secret's hash only (-want +got):\n%s", diff)
	}
}
