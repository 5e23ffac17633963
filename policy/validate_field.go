package policy

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-mdm/sluice/internal/errtree"
)

// ErrInvalidField is wrapped by every [FieldError], so that callers can tell
// bad input from other failures with errors.Is.
var ErrInvalidField = errors.New("policy: invalid field")

// FieldError says which field of an object is wrong, with which value, and
// what is allowed instead. Its message reads
//
//	mode: "fast" is not one of default, highPriority, postponed
//
// or, when Problem is set,
//
//	prompt.closabel: unknown field; allowed: button, closable, dailyFrequency, forceAfter, text
//
// Validation returns one FieldError, or several joined with [errors.Join]
// (use [FieldErrors] to list them).
type FieldError struct {
	// Path is the field's location, dotted, with list indexes and map keys
	// in brackets: "eligible.versionName", "platforms[1]", "apps[com.example.pos]".
	Path string
	// Value is the offending value as written: strings quoted, numbers and
	// booleans bare; empty when the field is missing.
	Value string
	// Allowed says what the field may hold ("one of default, highPriority,
	// postponed", "between 0 and 100").
	Allowed string
	// Problem, when set, replaces the default "is not <Allowed>" wording
	// ("is missing", "unknown field"); Allowed then follows as
	// "; allowed: <Allowed>".
	Problem string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Value != "" {
		b.WriteString(e.Value)
		b.WriteByte(' ')
	}
	if e.Problem == "" {
		b.WriteString("is not ")
		b.WriteString(e.Allowed)
		return b.String()
	}
	b.WriteString(e.Problem)
	if e.Allowed != "" {
		b.WriteString("; allowed: ")
		b.WriteString(e.Allowed)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalidField) hold.
func (e *FieldError) Unwrap() error { return ErrInvalidField }

// FieldErrors lists the field errors inside err, which may be a single
// *FieldError, a join of them (as returned by the Validate methods), or
// wrap them. It returns nil when err holds none.
func FieldErrors(err error) []*FieldError {
	return errtree.Collect[*FieldError](err)
}

// QuoteValue renders a value the way [FieldError.Value] shows it: strings
// quoted, times in RFC 3339, everything else in its plain Go form.
func QuoteValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// fieldErrors collects the problems of one object, all of them, not only
// the first.
type fieldErrors struct {
	errs []error
}

// notAllowed records "<path>: <value> is not <allowed>".
func (f *fieldErrors) notAllowed(path string, value any, allowed string) {
	f.errs = append(f.errs, &FieldError{Path: path, Value: QuoteValue(value), Allowed: allowed})
}

// problem records "<path>: [<value> ]<problem>[; allowed: <allowed>]"; a nil
// value leaves the value out.
func (f *fieldErrors) problem(path string, value any, problem, allowed string) {
	e := &FieldError{Path: path, Problem: problem, Allowed: allowed}
	if value != nil {
		e.Value = QuoteValue(value)
	}
	f.errs = append(f.errs, e)
}

func (f *fieldErrors) err() error { return errors.Join(f.errs...) }

// Limits on free text, counted in characters (runes).
const (
	// MaxTextLen bounds short texts such as a prompt's text.
	MaxTextLen = 1000
	// MaxReleaseNotesLen bounds a release's notes.
	MaxReleaseNotesLen = 10000
	// MaxNameLen bounds tracks, channels and version names.
	MaxNameLen = 128
)

func (f *fieldErrors) text(path, s string, max int) {
	if n := len([]rune(s)); n > max {
		f.problem(path, nil, fmt.Sprintf("is %d characters long", n), fmt.Sprintf("at most %d characters", max))
	}
}

// checkToken checks a short identifier such as a track or channel name.
func (f *fieldErrors) checkToken(path, s string) {
	const allowed = "1 to 128 letters, digits, '.', '-' and '_'"
	if s == "" || len(s) > MaxNameLen {
		f.notAllowed(path, s, allowed)
		return
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			f.notAllowed(path, s, allowed)
			return
		}
	}
}

func (f *fieldErrors) oneOf(path, s string, allowed ...string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	f.notAllowed(path, s, "one of "+strings.Join(allowed, ", "))
}

func (f *fieldErrors) hex64(path, s string) {
	if !isHex64(s) {
		f.notAllowed(path, s, "64 lowercase hex digits (a SHA-256)")
	}
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ParseForceAfter parses a prompt's forceAfter: a Go duration ("36h",
// "90m") or a whole number of days ("7d"). The result is positive.
func ParseForceAfter(s string) (time.Duration, error) {
	const allowed = `a positive Go duration such as "36h" or a number of days such as "7d"`
	if days, ok := strings.CutSuffix(s, "d"); ok && days != "" && isDigits(days) {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n <= 0 || n > math.MaxInt64/int64(24*time.Hour) {
			return 0, &FieldError{Path: "forceAfter", Value: QuoteValue(s), Allowed: allowed}
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, &FieldError{Path: "forceAfter", Value: QuoteValue(s), Allowed: allowed}
	}
	return d, nil
}

// ParseClock parses a maintenance-window bound, "HH:MM" from "00:00" to
// "23:59", into minutes after midnight.
func ParseClock(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' || !isDigits(s[:2]) || !isDigits(s[3:]) {
		return 0, &FieldError{Value: QuoteValue(s), Allowed: "a local time HH:MM from 00:00 to 23:59"}
	}
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	if h > 23 || m > 59 {
		return 0, &FieldError{Value: QuoteValue(s), Allowed: "a local time HH:MM from 00:00 to 23:59"}
	}
	return h*60 + m, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsVersionPrefix reports whether s is a dotted run of numbers such as
// "5" or "5.1", the form of a target's versionPrefix.
func IsVersionPrefix(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if !isDigits(part) || len(part) > 9 {
			return false
		}
	}
	return true
}
