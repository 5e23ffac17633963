package sandbox

import (
	"sync"
	"time"
)

// Clock is a settable clock shared by the controller and every agent, so
// that a story can jump days ahead. Between jumps it flows with real time
// (so timeouts and backoffs still work). It is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration // added to the real time
	next   int
	hooks  map[int]func(time.Time)
}

// NewClock returns a clock that reads start now and then flows with real
// time.
func NewClock(start time.Time) *Clock {
	return &Clock{offset: time.Until(start), hooks: map[int]func(time.Time){}}
}

// Now is the clock's time: the real time moved by the last jump. It
// carries no monotonic reading, so it compares with times parsed from
// messages on their wall clocks.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	off := c.offset
	c.mu.Unlock()
	return time.Now().Add(off).Round(0)
}

// Set jumps the clock to t, from where it flows on.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.offset = time.Until(t)
	c.mu.Unlock()
	c.jumped()
}

// Advance jumps the clock d ahead (back for a negative d).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
	c.jumped()
}

// jumped runs the hooks, outside the lock, with the new time.
func (c *Clock) jumped() {
	c.mu.Lock()
	hooks := make([]func(time.Time), 0, len(c.hooks))
	for _, h := range c.hooks {
		hooks = append(hooks, h)
	}
	c.mu.Unlock()
	now := c.Now()
	for _, h := range hooks {
		h(now)
	}
}

// onJump registers fn to run after every Set and Advance; the returned
// function removes it.
func (c *Clock) onJump(fn func(time.Time)) (remove func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hooks == nil {
		c.hooks = map[int]func(time.Time){}
	}
	id := c.next
	c.next++
	c.hooks[id] = fn
	return func() {
		c.mu.Lock()
		delete(c.hooks, id)
		c.mu.Unlock()
	}
}
