package controller

import (
	"container/list"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"time"
)

// RateLimit limits requests per client address with a token bucket. The
// zero value is 20 requests a second with bursts of 40, tracking at most
// 10,000 addresses.
type RateLimit struct {
	// PerSecond is the sustained rate per address (20 if 0); negative
	// turns limiting off.
	PerSecond float64
	// Burst is how many requests an idle address may make at once (40 if 0).
	Burst int
	// MaxClients bounds the addresses tracked (10,000 if 0): beyond it the
	// least recently seen address is forgotten, and starts again with a
	// full bucket when it comes back.
	MaxClients int
}

// Rate limit defaults.
const (
	DefaultRatePerSecond = 20
	DefaultRateBurst     = 40
	DefaultRateClients   = 10000
)

// rateLimiter is a token bucket per client address, with the buckets in
// least-recently-used order so that memory stays bounded.
type rateLimiter struct {
	rate    float64
	burst   float64
	max     int
	off     bool
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*list.Element
	lru     *list.List // front: most recently seen; values are *bucket
}

type bucket struct {
	addr   string
	tokens float64
	last   time.Time
}

func newRateLimiter(cfg RateLimit, now func() time.Time) (*rateLimiter, error) {
	if math.IsNaN(cfg.PerSecond) || math.IsInf(cfg.PerSecond, 0) || cfg.Burst < 0 || cfg.MaxClients < 0 {
		return nil, fmt.Errorf("rate limit: PerSecond %v, Burst %d and MaxClients %d are not allowed; want a finite rate (negative turns limiting off) and a burst and client count of 0 (the defaults) or more",
			cfg.PerSecond, cfg.Burst, cfg.MaxClients)
	}
	l := &rateLimiter{rate: cfg.PerSecond, burst: float64(cfg.Burst), max: cfg.MaxClients, off: cfg.PerSecond < 0, now: now,
		buckets: map[string]*list.Element{}, lru: list.New()}
	if l.rate == 0 {
		l.rate = DefaultRatePerSecond
	}
	if l.burst == 0 {
		l.burst = DefaultRateBurst
	}
	if l.max == 0 {
		l.max = DefaultRateClients
	}
	return l, nil
}

// allow takes a token from addr's bucket, or says how long until one is
// there.
func (l *rateLimiter) allow(addr string) (bool, time.Duration) {
	if l.off {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if e, ok := l.buckets[addr]; ok {
		l.lru.MoveToFront(e)
		b = e.Value.(*bucket)
		if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
			b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		}
		if now.After(b.last) {
			b.last = now
		}
	} else {
		b = &bucket{addr: addr, tokens: l.burst, last: now}
		l.buckets[addr] = l.lru.PushFront(b)
		for l.lru.Len() > l.max {
			old := l.lru.Back()
			l.lru.Remove(old)
			delete(l.buckets, old.Value.(*bucket).addr)
		}
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// clients is how many addresses are tracked.
func (l *rateLimiter) clients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// clientAddr is the address a request's limit is counted against: the
// peer's IP. (Behind a reverse proxy every app shares the proxy's address;
// put the limit in the proxy then, or give the proxy a high limit.)
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limited wraps an app-facing route with the per-address limit: 429 with
// Retry-After in whole seconds.
func (a *API) limited(next apiFunc) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ok, wait := a.limiter.allow(clientAddr(r))
		if !ok {
			secs := int(math.Ceil(wait.Seconds()))
			if secs < 1 {
				secs = 1
			}
			return &apiError{Status: http.StatusTooManyRequests, RetryAfter: secs,
				Message: fmt.Sprintf("too many requests from this address; try again in %d s", secs)}
		}
		return next(w, r)
	}
}
