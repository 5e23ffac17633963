package state

import (
	"fmt"
	"time"

	"github.com/sluice-mdm/sluice/protocol"
)

// WindowError says which maintenance-window field is malformed.
type WindowError struct {
	Field string // "maintenanceWindow.start" or "maintenanceWindow.end"
	Value string
}

func (e *WindowError) Error() string {
	return fmt.Sprintf("state: %s: %q is not a local time; want HH:MM from 00:00 to 23:59", e.Field, e.Value)
}

// clock is minutes after local midnight.
type clock int

func parseClock(field, s string) (clock, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, &WindowError{Field: field, Value: s}
	}
	digit := func(b byte) (int, bool) { return int(b - '0'), b >= '0' && b <= '9' }
	h1, ok1 := digit(s[0])
	h2, ok2 := digit(s[1])
	m1, ok3 := digit(s[3])
	m2, ok4 := digit(s[4])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, &WindowError{Field: field, Value: s}
	}
	h, m := h1*10+h2, m1*10+m2
	if h > 23 || m > 59 {
		return 0, &WindowError{Field: field, Value: s}
	}
	return clock(h*60 + m), nil
}

// Window is a parsed daily maintenance window.
type Window struct {
	start, end clock
}

// ParseWindow checks and parses w. A nil w yields a nil window (always open).
func ParseWindow(w *protocol.MaintenanceWindow) (*Window, error) {
	if w == nil {
		return nil, nil
	}
	s, err := parseClock("maintenanceWindow.start", w.Start)
	if err != nil {
		return nil, err
	}
	e, err := parseClock("maintenanceWindow.end", w.End)
	if err != nil {
		return nil, err
	}
	return &Window{start: s, end: e}, nil
}

func wallClock(t time.Time) clock { return clock(t.Hour()*60 + t.Minute()) }

// Contains reports whether t, read on the wall clock of loc, is inside the
// window: start inclusive, end exclusive, wrapping midnight when end is
// before start. A window whose start equals its end is open all day.
func (w *Window) Contains(t time.Time, loc *time.Location) bool {
	if w == nil || w.start == w.end {
		return true
	}
	c := wallClock(t.In(loc))
	if w.start < w.end {
		return c >= w.start && c < w.end
	}
	return c >= w.start || c < w.end
}

// NextOpen returns the first instant at or after t when the window is open,
// reading wall clocks in loc. Around a daylight-saving change a start time
// that does not exist locally opens at the first instant after the gap.
func (w *Window) NextOpen(t time.Time, loc *time.Location) time.Time {
	if w.Contains(t, loc) {
		return t
	}
	local := t.In(loc)
	for day := 0; day <= 2; day++ {
		d := local.AddDate(0, 0, day)
		cand := time.Date(d.Year(), d.Month(), d.Day(), int(w.start)/60, int(w.start)%60, 0, 0, loc)
		// time.Date normalises a start inside a spring-forward gap to some
		// instant near it; step to the first instant the window holds.
		for i := 0; i < 180 && !w.Contains(cand, loc); i++ {
			cand = cand.Add(time.Minute)
		}
		for i := 0; i < 180; i++ {
			prev := cand.Add(-time.Minute)
			if !prev.After(t) || !w.Contains(prev, loc) {
				break
			}
			cand = prev
		}
		if cand.After(t) && w.Contains(cand, loc) {
			return cand
		}
	}
	return t.Add(24 * time.Hour)
}
