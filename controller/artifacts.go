package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ArtifactPathPrefix is where ArtifactHandler serves APKs:
// GET /artifacts/<sha256>.
const ArtifactPathPrefix = "/artifacts/"

// ArtifactSource is what ArtifactHandler reads artifacts from; *Store is
// one.
type ArtifactSource interface {
	ArtifactInfo(ctx context.Context, sha string) (ArtifactInfo, error)
	OpenArtifact(ctx context.Context, sha string) (io.ReadCloser, ArtifactInfo, error)
}

// ArtifactHandlerConfig configures NewArtifactHandler.
type ArtifactHandlerConfig struct {
	// Source holds the artifacts. Required.
	Source ArtifactSource
	// CacheDir keeps verified local copies, one file per sha256, typically
	// <data dir>/artifact-cache. Required.
	CacheDir string
	// FillTimeout bounds copying one artifact from the object store into
	// the cache; 0 means 10 minutes.
	FillTimeout time.Duration
	// Logger receives cache and store errors; nil discards them.
	Logger *slog.Logger
}

// ArtifactHandler serves GET and HEAD /artifacts/<sha256> with Range
// requests (single and multiple ranges; 416 when unsatisfiable), ETag
// ("<sha256>"), Last-Modified, Content-Length, Accept-Ranges, If-Range and
// If-None-Match, so that agents resume interrupted downloads.
//
// The object store's reader cannot seek, so each artifact is copied once
// into a content-addressed disk cache, verified against its sha256 and
// renamed into place atomically, and served from there. Concurrent first
// requests for one artifact share a single copy. Every request still asks
// the store whether the artifact exists, so a deleted artifact stops being
// served (and leaves the cache) at once, on every controller replica.
type ArtifactHandler struct {
	src     ArtifactSource
	dir     string
	timeout time.Duration
	log     *slog.Logger

	mu       sync.Mutex
	inflight map[string]*cacheFill
	fills    atomic.Int64 // copies made from the object store
}

type cacheFill struct {
	done chan struct{}
	path string
	err  error
}

// NewArtifactHandler creates the cache directory and removes copies left
// half-written by an earlier process.
func NewArtifactHandler(cfg ArtifactHandlerConfig) (*ArtifactHandler, error) {
	if cfg.Source == nil {
		return nil, errors.New("controller: artifact handler: source is required")
	}
	if cfg.CacheDir == "" {
		return nil, errors.New("controller: artifact handler: cache dir is required")
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("controller: artifact handler: %w", err)
	}
	leftovers, err := filepath.Glob(filepath.Join(cfg.CacheDir, "*"+tmpMarker+"*"))
	if err != nil {
		return nil, fmt.Errorf("controller: artifact handler: %w", err)
	}
	for _, p := range leftovers {
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("controller: artifact handler: remove partial copy: %w", err)
		}
	}
	h := &ArtifactHandler{src: cfg.Source, dir: cfg.CacheDir, timeout: cfg.FillTimeout, log: cfg.Logger, inflight: map[string]*cacheFill{}}
	if h.timeout <= 0 {
		h.timeout = 10 * time.Minute
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// tmpMarker is in the name of every cache file being written.
const tmpMarker = ".partial-"

func (h *ArtifactHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeArtifactError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on artifacts; use GET or HEAD", r.Method), nil)
		return
	}
	sha, ok := strings.CutPrefix(r.URL.Path, ArtifactPathPrefix)
	if !ok {
		writeArtifactError(w, http.StatusNotFound, fmt.Sprintf("no artifact at %q; artifacts are at %s<sha256>", r.URL.Path, ArtifactPathPrefix), nil)
		return
	}
	if !isSHA256Hex(sha) {
		writeArtifactError(w, http.StatusBadRequest, fmt.Sprintf("artifact path: sha256 %q is not 64 lowercase hex digits", sha),
			map[string]string{"field": "sha256", "value": sha})
		return
	}
	ctx := r.Context()
	info, err := h.src.ArtifactInfo(ctx, sha)
	if errors.Is(err, ErrNotFound) {
		h.evict(sha)
		writeArtifactError(w, http.StatusNotFound, fmt.Sprintf("artifact %s not found", sha), nil)
		return
	}
	if err != nil {
		h.log.Error("artifact lookup failed", "sha256", sha, "err", err)
		writeArtifactError(w, http.StatusServiceUnavailable, "the artifact store is unavailable; retry later", nil)
		return
	}
	path, err := h.materialize(ctx, sha, info.Size)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Error("artifact cache fill failed", "sha256", sha, "err", err)
			writeArtifactError(w, http.StatusServiceUnavailable, "the artifact could not be read from the store; retry later", nil)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		h.log.Error("artifact cache open failed", "sha256", sha, "err", err)
		writeArtifactError(w, http.StatusInternalServerError, "the artifact cache is unreadable", nil)
		return
	}
	defer f.Close()
	hdr := w.Header()
	hdr.Set("ETag", `"`+sha+`"`)
	hdr.Set("Content-Type", "application/vnd.android.package-archive")
	hdr.Set("Content-Disposition", `attachment; filename="`+sha+`.apk"`)
	// Content-addressed: the bytes behind a sha256 never change.
	hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "", info.ModTime, f)
}

func writeArtifactError(w http.ResponseWriter, status int, msg string, extra map[string]string) {
	body := map[string]string{"error": msg}
	for k, v := range extra {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (h *ArtifactHandler) cachePath(sha string) string { return filepath.Join(h.dir, sha) }

// cached reports whether a complete copy is in the cache.
func (h *ArtifactHandler) cached(sha string, size int64) bool {
	fi, err := os.Stat(h.cachePath(sha))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == size
}

func (h *ArtifactHandler) evict(sha string) {
	if err := os.Remove(h.cachePath(sha)); err != nil && !errors.Is(err, os.ErrNotExist) {
		h.log.Warn("artifact cache evict failed", "sha256", sha, "err", err)
	}
}

// materialize returns the path of a verified cached copy, copying it from
// the store first if needed. One copy runs per artifact however many
// requests wait for it, and it is not cut short when the request that
// started it goes away.
func (h *ArtifactHandler) materialize(ctx context.Context, sha string, size int64) (string, error) {
	if h.cached(sha, size) {
		return h.cachePath(sha), nil
	}
	h.mu.Lock()
	if h.cached(sha, size) { // filled while we waited for the lock
		h.mu.Unlock()
		return h.cachePath(sha), nil
	}
	f, ok := h.inflight[sha]
	if !ok {
		f = &cacheFill{done: make(chan struct{})}
		h.inflight[sha] = f
		go func() {
			f.path, f.err = h.fill(sha)
			h.mu.Lock()
			delete(h.inflight, sha)
			h.mu.Unlock()
			close(f.done)
		}()
	}
	h.mu.Unlock()
	select {
	case <-f.done:
		return f.path, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// fill copies one artifact from the store into the cache: to a temporary
// file, verified against sha, synced, then renamed into place.
func (h *ArtifactHandler) fill(sha string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	defer cancel()
	rc, info, err := h.src.OpenArtifact(ctx, sha)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(h.dir, sha+tmpMarker+"*")
	if err != nil {
		return "", fmt.Errorf("controller: artifact cache: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, sum), rc)
	if err != nil {
		return "", fmt.Errorf("controller: artifact cache: copy %s: %w", sha, err)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != sha {
		return "", fmt.Errorf("controller: artifact cache: stored copy is corrupt: %w", &DigestError{Want: sha, Got: got, Size: n})
	}
	if n != info.Size {
		return "", fmt.Errorf("controller: artifact cache: %s: read %d bytes, the store says %d", sha, n, info.Size)
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("controller: artifact cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("controller: artifact cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), h.cachePath(sha)); err != nil {
		return "", fmt.Errorf("controller: artifact cache: %w", err)
	}
	keep = true
	if d, err := os.Open(h.dir); err == nil {
		_ = d.Sync() // make the rename durable
		_ = d.Close()
	}
	h.fills.Add(1)
	h.log.Info("artifact cached", "sha256", sha, "size", n)
	return h.cachePath(sha), nil
}
