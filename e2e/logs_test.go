package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// logBook is a slog.Handler that keeps the last records of a system, to
// print when a test fails and to count what the system logged.
type logBook struct {
	mu    *sync.Mutex
	lines *[]string
	max   int
	attrs []slog.Attr
}

func newLogBook(max int) *logBook {
	return &logBook{mu: &sync.Mutex{}, lines: &[]string{}, max: max}
}

func (b *logBook) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (b *logBook) Handle(_ context.Context, r slog.Record) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s %q", r.Time.Format("15:04:05.000"), r.Level, r.Message)
	for _, a := range b.attrs {
		fmt.Fprintf(&sb, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&sb, " %s=%v", a.Key, a.Value)
		return true
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	*b.lines = append(*b.lines, sb.String())
	if n := len(*b.lines); n > b.max {
		*b.lines = append((*b.lines)[:0], (*b.lines)[n-b.max:]...)
	}
	return nil
}

func (b *logBook) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *b
	c.attrs = append(append([]slog.Attr(nil), b.attrs...), attrs...)
	return &c
}

// WithGroup keeps the group's attributes flat; the suite's logs use none.
func (b *logBook) WithGroup(string) slog.Handler { return b }

// Lines returns the records kept, oldest first.
func (b *logBook) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), (*b.lines)...)
}

// Count counts the records kept whose message is msg and that carry
// every attribute of attrs ("key=value").
func (b *logBook) Count(msg string, attrs ...string) int {
	n := 0
	for _, l := range b.Lines() {
		if !strings.Contains(l, fmt.Sprintf("%q", msg)) {
			continue
		}
		all := true
		for _, a := range attrs {
			all = all && strings.Contains(l, " "+a)
		}
		if all {
			n++
		}
	}
	return n
}

// dumpOnFailure logs the kept records when t fails.
func (b *logBook) dumpOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("system logs (last %d records):\n%s", b.max, strings.Join(b.Lines(), "\n"))
		}
	})
}

// slogOf is a logger writing into b.
func slogOf(b *logBook) *slog.Logger { return slog.New(b) }
