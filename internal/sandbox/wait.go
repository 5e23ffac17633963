package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PollInterval is how often WaitFor checks its condition.
const PollInterval = 50 * time.Millisecond

// ErrTimeout is wrapped by every *TimeoutError.
var ErrTimeout = errors.New("sandbox: timed out")

// TimeoutError says what WaitFor awaited in vain, for how long, and the
// condition's last error, if any.
type TimeoutError struct {
	What  string
	After time.Duration
	Last  error
}

func (e *TimeoutError) Error() string {
	if e.Last != nil {
		return fmt.Sprintf("sandbox: timed out after %s waiting for %s (last error: %v)", e.After, e.What, e.Last)
	}
	return fmt.Sprintf("sandbox: timed out after %s waiting for %s", e.After, e.What)
}

func (e *TimeoutError) Unwrap() error { return ErrTimeout }

// WaitFor polls cond every PollInterval until it reports true, timeout
// passes, or ctx ends. An error from cond does not end the wait (the
// condition may hold later); the last one is reported if time runs out.
// The error names what was awaited.
func WaitFor(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sandbox: waiting for %s: %w", what, ctx.Err())
		case <-deadline.C:
			return &TimeoutError{What: what, After: time.Since(start).Round(time.Millisecond), Last: last}
		case <-tick.C:
		}
	}
}
