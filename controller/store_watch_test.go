package controller

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/internal/natstest"
)

// nextChange waits for the watch's next change, failing after a deadline.
func nextChange[T any](t *testing.T, ch <-chan Change[T]) Change[T] {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change within 10s")
	}
	return Change[T]{}
}

func TestWatchSeesStateThenChangesFromOtherReplicas(t *testing.T) {
	s, _, url := newTestStore(t)
	ctx := testCtx(t)
	other := openTestStore(t, natstest.Connect(t, url), newTestClock())

	existing, err := s.Assignments().Put(ctx, "a1", fleet.Assignment{Policy: "p1", Groups: []string{"g1"}, Priority: 10}, CreateOnly, "alice")
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := s.Assignments().Put(ctx, "old", fleet.Assignment{Policy: "p0", Groups: []string{"g0"}}, CreateOnly, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Assignments().Delete(ctx, "old", deleted.Revision); err != nil {
		t.Fatal(err)
	}

	wctx, stop := context.WithCancel(ctx)
	ch, err := s.Assignments().Watch(wctx)
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	type change struct {
		Op       ChangeOp
		Name     string
		Revision uint64
		Record   Record[fleet.Assignment]
	}
	strip := func(c Change[fleet.Assignment]) change {
		if c.Err != nil {
			t.Fatalf("change error: %v", c.Err)
		}
		return change{c.Op, c.Name, c.Revision, c.Record}
	}

	// Current state first (the deleted "old" is not replayed), then synced.
	if diff := cmp.Diff(change{ChangePut, "a1", existing.Revision, existing}, strip(nextChange(t, ch))); diff != "" {
		t.Errorf("initial change (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(change{Op: ChangeSynced}, strip(nextChange(t, ch))); diff != "" {
		t.Errorf("synced marker (-want +got):\n%s", diff)
	}

	// Live changes made through another replica.
	updated, err := other.Assignments().Put(ctx, "a1", fleet.Assignment{Policy: "p2", Groups: []string{"g1"}, Priority: 20}, existing.Revision, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(change{ChangePut, "a1", updated.Revision, updated}, strip(nextChange(t, ch))); diff != "" {
		t.Errorf("update change (-want +got):\n%s", diff)
	}
	if err := other.Assignments().Delete(ctx, "a1", updated.Revision); err != nil {
		t.Fatal(err)
	}
	del := strip(nextChange(t, ch))
	if diff := cmp.Diff(change{Op: ChangeDelete, Name: "a1", Revision: del.Revision}, del); diff != "" || del.Revision <= updated.Revision {
		t.Errorf("delete change at revision %d (-want +got):\n%s", del.Revision, diff)
	}

	stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed after its context ended")
		}
	}
}

func TestWatchEmptyBucketIsSyncedAtOnce(t *testing.T) {
	s, _, _ := newTestStore(t)
	ch, err := s.Rules().Watch(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ChangeSynced, nextChange(t, ch).Op); diff != "" {
		t.Errorf("first change (-want +got):\n%s", diff)
	}
}
