package download

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-mdm/sluice/protocol"
)

// Config configures a [Downloader]. Zero values select the documented
// defaults.
type Config struct {
	// Dir holds partial files and their metadata; it survives restarts and
	// is created if missing. Required.
	Dir string
	// Client makes the requests. Nil: a client with dial, TLS handshake and
	// response-header timeouts and no overall timeout (IdleTimeout bounds
	// the body instead). Fetch always asks for an identity encoding, so a
	// client's transparent gzip never alters the bytes.
	Client *http.Client
	// Logger receives one record per failed attempt and per outcome. Nil:
	// logs are discarded.
	Logger *slog.Logger
	// Now is the clock for progress and metadata timestamps. Nil: time.Now.
	Now func() time.Time
	// Sleep waits between retries; it must return ctx's error when ctx ends
	// first. Nil: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// IdleTimeout aborts an attempt when no response header or body byte
	// arrives for this long. Zero: 30 s.
	IdleTimeout time.Duration
	// MaxAttempts is how many attempts in a row without progress one URL
	// gets before the next URL is tried. Zero: 4.
	MaxAttempts int
	// BaseBackoff is the wait after the first failed attempt; it doubles
	// with each further failure up to MaxBackoff, with jitter. Zero: 1 s
	// and 30 s.
	BaseBackoff, MaxBackoff time.Duration
	// ProgressEvery is the least time between two progress callbacks (one
	// more is made at the end). Zero: 1 s.
	ProgressEvery time.Duration
	// FreeSpace returns the bytes available in dir. Fetch refuses with
	// INSUFFICIENT_STORAGE when the bytes still to fetch, plus a margin,
	// exceed it. Nil: statfs on Linux and Android; no check elsewhere.
	FreeSpace func(dir string) (int64, error)
}

// Defaults of [Config].
const (
	DefaultIdleTimeout   = 30 * time.Second
	DefaultMaxAttempts   = 4
	DefaultBaseBackoff   = time.Second
	DefaultMaxBackoff    = 30 * time.Second
	DefaultProgressEvery = time.Second
)

const (
	// bufferSize and bufferCount size the copy buffers: large enough that
	// syscalls and hashing run in big blocks, several so that hashing one
	// overlaps with receiving the next.
	bufferSize  = 256 << 10
	bufferCount = 4
	// checkpointEvery bounds how much transfer time a crash can lose.
	checkpointEvery = 5 * time.Second
	// minStorageMargin, plus 1/storageMarginDiv of the bytes to fetch, is
	// kept free beyond the download itself.
	minStorageMargin = 4 << 20
	storageMarginDiv = 50
	userAgent        = "sluice-agent-download/1"
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

// Result describes a successful [Downloader.Fetch].
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

// New checks cfg, applies defaults and creates cfg.Dir.
func New(cfg Config) (*Downloader, error) {
	if cfg.Dir == "" {
		return nil, &ValidationError{Field: "Config.Dir", Value: `""`, Want: "a directory path"}
	}
	for _, c := range []struct {
		name string
		d    time.Duration
	}{{"IdleTimeout", cfg.IdleTimeout}, {"BaseBackoff", cfg.BaseBackoff}, {"MaxBackoff", cfg.MaxBackoff}, {"ProgressEvery", cfg.ProgressEvery}} {
		if c.d < 0 {
			return nil, &ValidationError{Field: "Config." + c.name, Value: c.d.String(), Want: "zero (default) or a positive duration"}
		}
	}
	if cfg.MaxAttempts < 0 {
		return nil, &ValidationError{Field: "Config.MaxAttempts", Value: strconv.Itoa(cfg.MaxAttempts), Want: "zero (default) or a positive count"}
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff = DefaultBaseBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.BaseBackoff {
		return nil, &ValidationError{Field: "Config.MaxBackoff", Value: cfg.MaxBackoff.String(), Want: "at least BaseBackoff (" + cfg.BaseBackoff.String() + ")"}
	}
	if cfg.ProgressEvery == 0 {
		cfg.ProgressEvery = DefaultProgressEvery
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.FreeSpace == nil {
		cfg.FreeSpace = defaultFreeSpace
	}
	d := &Downloader{cfg: cfg, client: cfg.Client, log: cfg.Logger, active: make(map[string]*job)}
	if d.client == nil {
		d.client = defaultClient()
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("download: create dir: %w", err)
	}
	return d, nil
}

func defaultClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          4,
		DisableCompression:    true,
		ForceAttemptHTTP2:     true,
	}}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
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
// holds it returns at once.
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

// finish moves the verified partial to dest. It is made durable first, so
// that if the move fails the next Fetch finds it complete.
func (f *fetch) finish(p *partial) (Result, error) {
	if err := f.checkpoint(p); err != nil {
		return f.res, err
	}
	if err := p.commit(f.dest); err != nil {
		return f.res, fmt.Errorf("download: %w", err)
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
