package download

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/sluice-mdm/sluice/protocol"
)

// Downloader fetches artifacts into files. It is safe for concurrent use;
// fetches of the same artifact are serialized.
type Downloader struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger

	mu     sync.Mutex
	active map[string]*job // by sha256
}

// job is a running Fetch or Discard of one artifact.
type job struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// Result describes a [Downloader.Fetch]. After a failure only Transferred
// and Attempts are set.
type Result struct {
	// Path is the destination file, holding the verified artifact.
	Path string
	// URL is the artifact URL the last bytes came from; empty when the
	// destination was already complete.
	URL string
	// Transferred counts the body bytes this call received, including any
	// that had to be thrown away.
	Transferred int64
	// Resumed is set when bytes fetched earlier (by an earlier call or an
	// earlier attempt of this one) were kept and continued.
	Resumed bool
	// Attempts counts the HTTP requests this call made.
	Attempts int
}

// acquire makes the caller the only job on key. With preempt, a running
// job is cancelled first (Discard); otherwise it is waited for (Fetch).
func (d *Downloader) acquire(ctx context.Context, key string, preempt bool) (context.Context, func(), error) {
	for {
		d.mu.Lock()
		j := d.active[key]
		if j == nil {
			jctx, cancel := context.WithCancelCause(ctx)
			j = &job{cancel: cancel, done: make(chan struct{})}
			d.active[key] = j
			d.mu.Unlock()
			release := func() {
				d.mu.Lock()
				delete(d.active, key)
				d.mu.Unlock()
				cancel(nil)
				close(j.done)
			}
			return jctx, release, nil
		}
		d.mu.Unlock()
		if preempt {
			j.cancel(ErrDiscarded)
		}
		select {
		case <-j.done:
		case <-ctx.Done():
			return nil, nil, context.Cause(ctx)
		}
	}
}

// Discard cancels any running Fetch of a and removes its partial file and
// metadata. The destination file of an earlier successful Fetch is left
// alone.
func (d *Downloader) Discard(a protocol.Artifact) error {
	key, err := checksumKey(a.SHA256)
	if err != nil {
		return err
	}
	_, release, err := d.acquire(context.Background(), key, true)
	if err != nil {
		return fmt.Errorf("download: discard %s: %w", key, err)
	}
	defer release()
	if err := removeFiles(d.cfg.Dir, key); err != nil {
		return fmt.Errorf("download: discard %s: %w", key, err)
	}
	d.log.Info("download discarded", "sha256", key)
	return nil
}

// Fetch downloads a to dest, resuming a partial left by an earlier call,
// and returns once dest holds the verified artifact. A dest that already
// holds it returns at once. progress, if not nil, is called on Fetch's
// goroutine at most once per Config.ProgressEvery and once at the end; it
// should return quickly.
//
// Failures are *Error values (see the package documentation for the
// codes), except invalid arguments (*ValidationError) and local file
// system failures (wrapped errors); the Result then still counts
// Transferred and Attempts. Cancelling ctx pauses: Fetch returns promptly
// with CANCELLED and keeps the partial for the next call. A partial with
// no bytes is never kept.
func (d *Downloader) Fetch(ctx context.Context, a protocol.Artifact, dest string, progress func(Progress)) (Result, error) {
	key, err := validateArtifact(a)
	if err != nil {
		return Result{}, err
	}
	if dest == "" {
		return Result{}, &ValidationError{Field: "dest", Value: `""`, Want: "a file path"}
	}
	ctx, release, err := d.acquire(ctx, key, false)
	if err != nil {
		return Result{}, &Error{Code: CodeCancelled, Err: err}
	}
	defer release()
	f := &fetch{
		d: d, a: a, key: key, dest: dest,
		bufs:  makeBuffers(),
		meter: newMeter(progress, d.cfg.Now, d.cfg.ProgressEvery),
		log:   d.log.With("sha256", key),
	}
	return f.run(ctx)
}
