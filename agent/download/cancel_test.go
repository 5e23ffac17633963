package download

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFetchCancelKeepsPartialAndDiscardRemovesIt(t *testing.T) {
	data := testData(1<<20, 30)
	const at = 384 << 10
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			stall(w, r, data, at, `"c"`)
			return
		}
		serve(w, r, data, `"c"`)
	})
	a := artifactFor(data, srv.url("a.apk"))
	e := newEnv(t, func(c *Config) { c.ProgressEvery = time.Nanosecond })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var cancelledAt time.Time
	_, err := e.d.Fetch(ctx, a, e.dest, func(p Progress) {
		if p.Downloaded >= at && cancelledAt.IsZero() {
			cancelledAt = time.Now()
			cancel()
		}
	})
	returned := time.Since(cancelledAt)
	var derr *Error
	if !errors.As(err, &derr) || derr.Code != CodeCancelled {
		t.Fatalf("Fetch: got %v, want a CANCELLED *Error", err)
	}
	if returned > 2*time.Second {
		t.Errorf("Fetch returned %s after cancel, want promptly", returned)
	}
	key := sum(data)
	if diff := cmp.Diff([]string{key + ".json", key + ".part"}, e.files(t)); diff != "" {
		t.Errorf("partial dir after pause (-want +got):\n%s", diff)
	}
	if m := e.readMeta(t, data); m.Durable != at {
		t.Errorf("durable = %d after pause, want %d", m.Durable, at)
	}
	checkNoFile(t, e.dest)

	if err := e.d.Discard(a); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	if diff := cmp.Diff([]string(nil), e.files(t)); diff != "" {
		t.Errorf("partial dir after Discard (-want +got):\n%s", diff)
	}
	got, err := e.d.Fetch(t.Context(), a, e.dest, nil)
	if err != nil {
		t.Fatalf("Fetch after Discard: %v", err)
	}
	want := Result{Path: e.dest, URL: srv.url("a.apk"), Transferred: int64(len(data)), Attempts: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result after Discard (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]seen{{}, {}}, srv.requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	checkDest(t, e.dest, data)
}

func TestDiscardCancelsRunningFetch(t *testing.T) {
	data := testData(1<<20, 31)
	const at = 100 << 10
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { stall(w, r, data, at, "") })
	a := artifactFor(data, srv.url("a.apk"))
	e := newEnv(t, func(c *Config) { c.ProgressEvery = time.Nanosecond })
	started := make(chan struct{})
	type outcome struct {
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		var once bool
		_, err := e.d.Fetch(t.Context(), a, e.dest, func(p Progress) {
			if p.Downloaded >= at && !once {
				once = true
				close(started)
			}
		})
		done <- outcome{err}
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("download did not start")
	}
	if err := e.d.Discard(a); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	var out outcome
	select {
	case out = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Fetch did not return after Discard")
	}
	var derr *Error
	if !errors.As(out.err, &derr) || derr.Code != CodeCancelled || !errors.Is(out.err, ErrDiscarded) {
		t.Fatalf("Fetch: got %v, want a CANCELLED *Error wrapping ErrDiscarded", out.err)
	}
	if diff := cmp.Diff([]string(nil), e.files(t)); diff != "" {
		t.Errorf("partial dir after Discard (-want +got):\n%s", diff)
	}
	checkNoFile(t, e.dest)
}

func TestFetchCancelDuringBackoff(t *testing.T) {
	data := testData(1000, 32)
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The injected Sleep is where the pause happens: cancel, then wait as
	// the real one would.
	e := newEnv(t, func(c *Config) {
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}
	})
	res, err := e.d.Fetch(ctx, artifactFor(data, srv.url("a.apk")), e.dest, nil)
	var derr *Error
	if !errors.As(err, &derr) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch: got %v, want *Error wrapping context.Canceled", err)
	}
	if diff := cmp.Diff([]any{CodeCancelled, 1}, []any{derr.Code, res.Attempts}); diff != "" {
		t.Errorf("code and attempts (-want +got):\n%s", diff)
	}
}

func TestFetchSameArtifactConcurrently(t *testing.T) {
	data := testData(512<<10, 33)
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r, data, "") })
	a := artifactFor(data, srv.url("a.apk"))
	e := newEnv(t, nil)
	results := make(chan Result, 2)
	for range 2 {
		go func() {
			res, err := e.d.Fetch(t.Context(), a, e.dest, nil)
			if err != nil {
				t.Errorf("Fetch: %v", err)
			}
			results <- res
		}()
	}
	r1, r2 := <-results, <-results
	// One call downloads; the other waits for it and finds dest complete.
	if diff := cmp.Diff(int64(len(data)), r1.Transferred+r2.Transferred); diff != "" {
		t.Errorf("bytes transferred by both calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(1, len(srv.requests())); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	checkDest(t, e.dest, data)
}
