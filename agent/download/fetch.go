package download

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"syscall"
	"time"

	"github.com/sluice-mdm/sluice/protocol"
)

// makeBuffers allocates the copy buffers of one Fetch call in one block.
func makeBuffers() [][]byte {
	block := make([]byte, bufferSize*bufferCount)
	bufs := make([][]byte, bufferCount)
	for i := range bufs {
		bufs[i] = block[i*bufferSize : (i+1)*bufferSize : (i+1)*bufferSize]
	}
	return bufs
}

// fetch is the state of one Fetch call.
type fetch struct {
	d     *Downloader
	a     protocol.Artifact
	key   string
	dest  string
	bufs  [][]byte // bufferCount copy buffers
	meter *meter
	log   *slog.Logger
	res   Result
	// lastCheckpoint is when the partial was last made durable.
	lastCheckpoint time.Time
}

func (f *fetch) run(ctx context.Context) (Result, error) {
	ok, err := verifyFile(f.dest, f.a.Size, f.key, f.bufs[0])
	if err != nil {
		return Result{}, fmt.Errorf("download: %w", err)
	}
	if ok {
		if err := removeFiles(f.d.cfg.Dir, f.key); err != nil {
			return Result{}, fmt.Errorf("download: %w", err)
		}
		f.log.Info("download already complete", "dest", f.dest)
		f.meter.done(f.a.Size, 0, "")
		return Result{Path: f.dest}, nil
	}
	p, why, err := openPartial(f.d.cfg.Dir, f.key, f.a.Size, f.bufs[0])
	if err != nil {
		return Result{}, fmt.Errorf("download: %w", err)
	}
	defer p.close()
	if why != "" {
		f.log.Warn("download partial restarted", "reason", why)
	}
	res, err := f.resume(ctx, p)
	if err != nil && p.offset == 0 {
		// Nothing worth keeping: leave no empty partial behind.
		if rerr := p.remove(); rerr != nil {
			f.log.Warn("download cleanup failed", "err", rerr)
		}
	}
	return res, err
}

// resume completes the partial p: at once when it is already complete,
// otherwise by fetching the rest.
func (f *fetch) resume(ctx context.Context, p *partial) (Result, error) {
	f.lastCheckpoint = f.d.cfg.Now()
	if p.offset == p.size {
		if p.sum() == f.key {
			f.res.Resumed, f.res.URL = true, p.url
			return f.finish(p)
		}
		f.log.Warn("download partial complete but corrupt, restarting", "url", p.url)
		if err := p.reset(); err != nil {
			return f.res, fmt.Errorf("download: %w", err)
		}
	}
	if err := f.checkSpace(p); err != nil {
		return f.res, err
	}
	if p.offset > 0 {
		f.log.Info("download resuming", "offset", p.offset, "size", p.size)
	}
	return f.loop(ctx, p)
}

// checkSpace refuses before any byte is fetched when the rest of the
// artifact, plus a margin, does not fit.
func (f *fetch) checkSpace(p *partial) error {
	if f.d.cfg.FreeSpace == nil {
		return nil
	}
	free, err := f.d.cfg.FreeSpace(f.d.cfg.Dir)
	if err != nil {
		return fmt.Errorf("download: check free space: %w", err)
	}
	need := p.size - p.offset
	margin := int64(minStorageMargin) + need/storageMarginDiv
	if need+margin > free {
		return &Error{Code: CodeInsufficientStorage, Err: fmt.Errorf("%w: %d bytes to fetch plus a %d-byte margin, %d bytes free in %s",
			ErrInsufficientStorage, need, margin, free, f.d.cfg.Dir)}
	}
	return nil
}

// loop runs attempts over the URLs until the artifact is verified or every
// URL has failed.
func (f *fetch) loop(ctx context.Context, p *partial) (Result, error) {
	var last *Error
urls:
	for _, u := range f.a.URLs {
		failures, high := 0, p.offset
		for {
			f.res.Attempts++
			r := f.attempt(ctx, p, u)
			kind, aerr := r.kind, r.err
			progressed := p.offset > high
			if progressed {
				failures, high = 0, p.offset
			}
			if aerr != nil {
				last = aerr
				if kind != outcomeCancelled {
					f.log.Warn("download attempt failed", "url", u, "attempt", f.res.Attempts, "code", aerr.Code, "offset", p.offset, "err", aerr.Err)
				}
			}
			switch kind {
			case outcomeComplete:
				if got := p.sum(); got != f.key {
					last = &Error{Code: CodeHashMismatch, URL: u, Err: fmt.Errorf("%w: got %s, want %s", ErrHashMismatch, got, f.key)}
					f.log.Warn("download attempt failed", "url", u, "attempt", f.res.Attempts, "code", last.Code, "err", last.Err)
					mixed := p.mixed
					if err := f.discard(p); err != nil {
						return f.res, err
					}
					if mixed {
						// Bytes from elsewhere may be the culprit: give
						// this URL one clean run from zero.
						continue
					}
					continue urls
				}
				f.res.URL = u
				return f.finish(p)
			case outcomeCancelled:
				if err := f.checkpoint(p); err != nil {
					f.log.Warn("download checkpoint failed", "err", err)
				}
				f.log.Info("download paused", "offset", p.offset, "size", p.size)
				return f.res, aerr
			case outcomeLocal:
				return f.res, r.local
			case outcomeRange:
				// The server answered a smaller range than asked: go on.
				continue
			case outcomeRestart:
				continue
			case outcomeDiscardNext:
				if err := f.discard(p); err != nil {
					return f.res, err
				}
				continue urls
			case outcomeNext:
				if err := f.checkpoint(p); err != nil {
					return f.res, err
				}
				continue urls
			case outcomeRetry:
				if err := f.checkpoint(p); err != nil {
					return f.res, err
				}
				if progressed {
					continue
				}
				failures++
				if failures >= f.d.cfg.MaxAttempts {
					continue urls
				}
				wait := max(f.backoff(failures), min(r.retryAfter, f.d.cfg.MaxBackoff))
				if err := f.d.cfg.Sleep(ctx, wait); err != nil {
					return f.res, &Error{Code: CodeCancelled, URL: u, Err: err}
				}
			}
		}
	}
	if last == nil {
		return f.res, &Error{Code: CodeNetworkError, Err: errors.New("no URL could be tried")}
	}
	return f.res, last
}

// backoff is the wait after the n-th failure in a row: BaseBackoff doubled
// n-1 times, capped at MaxBackoff, of which the upper half is random.
func (f *fetch) backoff(n int) time.Duration {
	d := f.d.cfg.BaseBackoff
	for i := 1; i < n && d < f.d.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, f.d.cfg.MaxBackoff)
	half := d / 2
	return half + rand.N(d-half+1)
}

// checkpoint makes the partial durable.
func (f *fetch) checkpoint(p *partial) error {
	now := f.d.cfg.Now()
	if err := p.checkpoint(now); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	f.lastCheckpoint = now
	return nil
}

// discard throws away the partial (on disk too) so the next attempt starts
// from zero.
func (f *fetch) discard(p *partial) error {
	if err := p.reset(); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	return f.checkpoint(p)
}

// finish moves the verified partial to dest. If the move fails, the
// partial is checkpointed complete, so the next Fetch only retries the
// move.
func (f *fetch) finish(p *partial) (Result, error) {
	if err := p.move(f.dest); err != nil {
		if cerr := f.checkpoint(p); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return f.res, fmt.Errorf("download: %w", err)
	}
	if err := p.cleanup(f.dest); err != nil {
		// dest holds the verified artifact; a stale metadata file is
		// removed by the next Fetch or Discard.
		f.log.Warn("download cleanup failed", "err", err)
	}
	f.res.Path = f.dest
	f.log.Info("download complete", "url", f.res.URL, "dest", f.dest, "size", p.size,
		"transferred", f.res.Transferred, "resumed", f.res.Resumed, "attempts", f.res.Attempts)
	f.meter.done(p.size, f.res.Transferred, f.res.URL)
	return f.res, nil
}

// localError classifies a local file system failure: a full disk is
// INSUFFICIENT_STORAGE, anything else a plain error.
func localError(url string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return &Error{Code: CodeInsufficientStorage, URL: url, Err: fmt.Errorf("%w: %w", ErrInsufficientStorage, err)}
	}
	return fmt.Errorf("download: %w", err)
}
