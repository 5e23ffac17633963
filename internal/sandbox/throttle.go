package sandbox

import (
	"context"
	"io"
	"net/http"
	"time"
)

// throttle limits the bytes per second of response bodies, as a slow
// store network would. The bytes are the server's, unchanged.
type throttle struct {
	next http.RoundTripper
	rate int64 // bytes per second
}

func (t *throttle) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &slowBody{ReadCloser: resp.Body, ctx: req.Context(), rate: t.rate, start: time.Now()}
	return resp, nil
}

// slowBody hands out at most rate bytes per second since start, in reads
// of at most a tenth of a second's worth.
type slowBody struct {
	io.ReadCloser
	ctx   context.Context
	rate  int64
	start time.Time
	n     int64
}

func (b *slowBody) Read(p []byte) (int, error) {
	if limit := max(b.rate/10, 1); int64(len(p)) > limit {
		p = p[:limit]
	}
	// Wait until the bytes read so far are due.
	due := b.start.Add(time.Duration(float64(b.n) / float64(b.rate) * float64(time.Second)))
	if wait := time.Until(due); wait > 0 {
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-b.ctx.Done():
			timer.Stop()
			return 0, context.Cause(b.ctx)
		}
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}
