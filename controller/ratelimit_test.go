package controller

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRateLimiterBucketsAndEviction(t *testing.T) {
	clock := newTestClock()
	l, err := newRateLimiter(RateLimit{PerSecond: 2, Burst: 3, MaxClients: 2}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		Addr  string
		OK    bool
		Retry time.Duration
	}
	var got []step
	try := func(addr string) {
		ok, retry := l.allow(addr)
		got = append(got, step{addr, ok, retry})
	}
	try("a") // burst of 3
	try("a")
	try("a")
	try("a") // empty: one token in half a second
	clock.Advance(250 * time.Millisecond)
	try("a") // half a token: a quarter second to go
	clock.Advance(250 * time.Millisecond)
	try("a")
	try("b")
	try("c") // evicts a, the least recently seen
	try("a") // a comes back with a full bucket
	want := []step{
		{"a", true, 0}, {"a", true, 0}, {"a", true, 0}, {"a", false, 500 * time.Millisecond},
		{"a", false, 250 * time.Millisecond}, {"a", true, 0}, {"b", true, 0}, {"c", true, 0}, {"a", true, 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if n := l.clients(); n != 2 {
		t.Errorf("%d clients tracked, want at most 2", n)
	}
}

func TestRateLimiterMemoryIsBounded(t *testing.T) {
	clock := newTestClock()
	l, err := newRateLimiter(RateLimit{MaxClients: 100}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10000 {
		l.allow(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	if n := l.clients(); n != 100 {
		t.Errorf("%d clients tracked after 10000 addresses, want 100", n)
	}
	off, err := newRateLimiter(RateLimit{PerSecond: -1}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if ok, _ := off.allow("a"); !ok {
			t.Fatal("a disabled limiter refused a request")
		}
	}
}
