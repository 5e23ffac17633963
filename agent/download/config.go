package download

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
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
