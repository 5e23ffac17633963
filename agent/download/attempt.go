package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// outcome says what the fetch loop does after an attempt.
type outcome int

const (
	outcomeComplete    outcome = iota // all bytes received: verify
	outcomeRange                      // a smaller range than asked arrived in full: ask for the rest
	outcomeRetry                      // transient failure: retry this URL after a backoff
	outcomeRestart                    // the partial was reset: retry this URL from zero at once
	outcomeNext                       // this URL cannot serve the artifact: try the next one
	outcomeDiscardNext                // as outcomeNext, and the partial's bytes are suspect
	outcomeCancelled                  // the caller cancelled
	outcomeLocal                      // a local failure ends the fetch
)

// attemptResult is the outcome of one HTTP request.
type attemptResult struct {
	kind       outcome
	err        *Error
	local      error // with outcomeLocal
	retryAfter time.Duration
}

func result(kind outcome, code, url string, err error) attemptResult {
	return attemptResult{kind: kind, err: &Error{Code: code, URL: url, Err: err}}
}

// attempt makes one request for the rest of the artifact and copies the
// body into the partial.
func (f *fetch) attempt(ctx context.Context, p *partial, u string) attemptResult {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return result(outcomeNext, CodeNetworkError, u, fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", userAgent)
	ranged := p.offset > 0
	if ranged {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(p.offset, 10)+"-")
		if p.url == u {
			if v := ifRange(p.etag, p.lastMod); v != "" {
				req.Header.Set("If-Range", v)
			}
		}
	}
	idle := f.d.cfg.IdleTimeout
	timer := time.AfterFunc(idle, func() { cancel(ErrIdleTimeout) })
	defer timer.Stop()

	resp, err := f.d.client.Do(req)
	if err != nil {
		return f.networkError(ctx, actx, u, err)
	}
	defer resp.Body.Close()

	limit := p.size
	etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		if resp.ContentLength >= 0 && resp.ContentLength != p.size {
			return result(outcomeNext, CodeSizeMismatch, u, fmt.Errorf("%w: Content-Length is %d, want %d", ErrSizeMismatch, resp.ContentLength, p.size))
		}
		if ranged {
			f.log.Info("download restarting from zero: server sent the whole file", "url", u, "offset", p.offset)
			if err := p.reset(); err != nil {
				return attemptResult{kind: outcomeLocal, local: localError(u, err)}
			}
		}
	case code == http.StatusPartialContent:
		if !ranged {
			return result(outcomeNext, CodeNetworkError, u, fmt.Errorf("%w: 206 answer to a request without Range", ErrBadContentRange))
		}
		start, end, total, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return result(outcomeNext, CodeNetworkError, u, err)
		}
		if total >= 0 && total != p.size {
			return result(outcomeNext, CodeSizeMismatch, u, fmt.Errorf("%w: Content-Range total is %d, want %d", ErrSizeMismatch, total, p.size))
		}
		if start != p.offset || end >= p.size {
			return result(outcomeNext, CodeNetworkError, u, fmt.Errorf("%w: got bytes %d-%d, asked for %d-%d", ErrBadContentRange, start, end, p.offset, p.size-1))
		}
		if p.url == u && validatorChanged(p.etag, p.lastMod, etag, lastMod) {
			f.log.Info("download restarting from zero: file changed on the server", "url", u, "etag", etag, "last_modified", lastMod)
			if err := p.reset(); err != nil {
				return attemptResult{kind: outcomeLocal, local: localError(u, err)}
			}
			return attemptResult{kind: outcomeRestart}
		}
		if p.url != u {
			p.mixed = true
		}
		f.res.Resumed = true
		limit = end + 1
	case code == http.StatusRequestedRangeNotSatisfiable && ranged:
		f.log.Info("download restarting from zero: range refused", "url", u, "offset", p.offset)
		if err := p.reset(); err != nil {
			return attemptResult{kind: outcomeLocal, local: localError(u, err)}
		}
		return attemptResult{kind: outcomeRestart}
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		r := result(outcomeRetry, HTTPCode(code), u, fmt.Errorf("server answered %s", resp.Status))
		r.retryAfter = retryAfter(resp.Header)
		return r
	default:
		return result(outcomeNext, HTTPCode(code), u, fmt.Errorf("server answered %s", resp.Status))
	}
	p.url, p.etag, p.lastMod = u, etag, lastMod
	return f.copyBody(ctx, actx, p, u, resp.Body, limit, timer)
}

// copyBody copies body into the partial until limit. Bytes are gathered
// into large buffers; each full buffer is written to the file and then
// hashed on the hasher's goroutine while the next one is read. Whatever
// arrived before a failure is kept. On return the hash and p.offset agree
// with the file.
func (f *fetch) copyBody(ctx, actx context.Context, p *partial, u string, body io.Reader, limit int64, timer *time.Timer) attemptResult {
	hs := startHasher(p.h, f.bufs)
	written := p.offset // bytes in the file; hashed once hs drains
	stop := func() {
		hs.stop()
		p.offset = written
	}
	// emit writes buf[:n] and queues it for hashing.
	emit := func(b []byte) error {
		if _, err := p.f.WriteAt(b, written); err != nil {
			hs.put(b)
			return fmt.Errorf("write partial file: %w", err)
		}
		written += int64(len(b))
		hs.hash(b)
		return nil
	}
	buf, n := hs.get(), 0
	for {
		k, rerr := body.Read(buf[n:])
		if k > 0 {
			timer.Reset(f.d.cfg.IdleTimeout)
			f.res.Transferred += int64(k)
			if written+int64(n+k) > limit {
				hs.put(buf)
				stop()
				if limit == p.size {
					return result(outcomeDiscardNext, CodeSizeMismatch, u, fmt.Errorf("%w: server sent more than %d bytes", ErrSizeMismatch, p.size))
				}
				return result(outcomeNext, CodeNetworkError, u, fmt.Errorf("%w: server sent more than the %d bytes of its range", ErrBadContentRange, limit-p.offset))
			}
			n += k
			if n == len(buf) {
				if err := emit(buf); err != nil {
					stop()
					return attemptResult{kind: outcomeLocal, local: localError(u, err)}
				}
				if f.d.cfg.Now().Sub(f.lastCheckpoint) >= checkpointEvery {
					hs.drain()
					p.offset = written
					if err := f.checkpoint(p); err != nil {
						stop()
						return attemptResult{kind: outcomeLocal, local: err}
					}
				}
				buf, n = hs.get(), 0
			}
			f.meter.update(written+int64(n), p.size, f.res.Transferred, u)
		}
		if rerr == nil {
			continue
		}
		var werr error
		if n > 0 {
			werr = emit(buf[:n])
		} else {
			hs.put(buf)
		}
		stop()
		if werr != nil {
			return attemptResult{kind: outcomeLocal, local: localError(u, werr)}
		}
		if rerr == io.EOF {
			switch {
			case p.offset == p.size:
				return attemptResult{kind: outcomeComplete}
			case p.offset == limit:
				return attemptResult{kind: outcomeRange}
			}
			return result(outcomeRetry, CodeNetworkError, u, fmt.Errorf("%w: after %d of %d bytes", ErrShortBody, p.offset, p.size))
		}
		return f.networkError(ctx, actx, u, rerr)
	}
}

// networkError classifies a failed request or body read: the caller's
// cancellation, the idle timeout, or another network failure.
func (f *fetch) networkError(ctx, actx context.Context, u string, err error) attemptResult {
	if ctx.Err() != nil {
		return result(outcomeCancelled, CodeCancelled, u, context.Cause(ctx))
	}
	if cause := context.Cause(actx); errors.Is(cause, ErrIdleTimeout) {
		return result(outcomeRetry, CodeNetworkError, u, fmt.Errorf("%w (%s)", ErrIdleTimeout, f.d.cfg.IdleTimeout))
	}
	return result(outcomeRetry, CodeNetworkError, u, err)
}

// ifRange picks the If-Range validator: a strong ETag, else Last-Modified.
// Weak ETags cannot be used with ranges.
func ifRange(etag, lastMod string) string {
	if etag != "" && !strings.HasPrefix(etag, "W/") {
		return etag
	}
	return lastMod
}

// validatorChanged reports whether a 206 answer carries a validator that
// differs from the one stored with the partial, which means the server
// ignored If-Range and the bytes belong to another version of the file.
func validatorChanged(oldETag, oldLastMod, etag, lastMod string) bool {
	if oldETag != "" && etag != "" {
		return oldETag != etag
	}
	return oldLastMod != "" && lastMod != "" && oldLastMod != lastMod
}

// parseContentRange parses "bytes START-END/TOTAL"; total is -1 for "*".
func parseContentRange(v string) (start, end, total int64, err error) {
	bad := func() (int64, int64, int64, error) {
		return 0, 0, 0, fmt.Errorf("%w: %q is not \"bytes START-END/TOTAL\"", ErrBadContentRange, v)
	}
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return bad()
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return bad()
	}
	s, e, ok := strings.Cut(rng, "-")
	if !ok {
		return bad()
	}
	if start, err = strconv.ParseInt(s, 10, 64); err != nil || start < 0 {
		return bad()
	}
	if end, err = strconv.ParseInt(e, 10, 64); err != nil || end < start {
		return bad()
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil || total <= end {
			return bad()
		}
	}
	return start, end, total, nil
}

// retryAfter parses a Retry-After header given in seconds; zero when
// absent or given as a date.
func retryAfter(h http.Header) time.Duration {
	secs, err := strconv.ParseInt(h.Get("Retry-After"), 10, 64)
	if err != nil || secs <= 0 {
		return 0
	}
	return time.Duration(min(secs, 1<<20)) * time.Second
}
