package sim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-mdm/sluice/protocol"
)

// ErrBadAssignment is wrapped by every *SetError.
var ErrBadAssignment = errors.New("sim: bad assignment")

// SetError is a key=value assignment that Set refuses.
type SetError struct {
	Key     string
	Value   string
	Allowed string
}

func (e *SetError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("sim: set %q: %s", e.Value, e.Allowed)
	}
	return fmt.Sprintf("sim: set %s=%q: %s", e.Key, e.Value, e.Allowed)
}

// Unwrap makes errors.Is(err, ErrBadAssignment) hold.
func (e *SetError) Unwrap() error { return ErrBadAssignment }

// Keys Set understands, and what each allows.
const (
	allowedOnOff   = "want on or off"
	allowedKeys    = "want one of wifi, charging, idle, foreground, sdk, storage, tz"
	allowedSDK     = "want an API level from 1 to 99"
	allowedStorage = "want a byte count such as 2147483648, 500MiB, 2GiB or 1.5GB"
	allowedTZ      = "want an IANA time zone such as Europe/Berlin"
	allowedPkg     = "want a package name such as com.example.pos, or nothing or none for no foreground app"
)

// apply parses one assignment into st.
func apply(st *state, assignment string) error {
	key, value, ok := strings.Cut(assignment, "=")
	if !ok {
		return &SetError{Value: assignment, Allowed: "want key=value, " + allowedKeys}
	}
	key = strings.TrimSpace(key)
	value = strings.TrimSpace(value)
	switch key {
	case "wifi", "charging", "idle":
		var on bool
		switch value {
		case "on":
			on = true
		case "off":
		default:
			return &SetError{Key: key, Value: value, Allowed: allowedOnOff}
		}
		switch key {
		case "wifi":
			st.Unmetered = on
		case "charging":
			st.Charging = on
		case "idle":
			st.Idle = on
		}
	case "foreground":
		if value == "" || value == "none" {
			st.Foreground = ""
			return nil
		}
		if err := protocol.ValidatePackageName(value); err != nil {
			return &SetError{Key: key, Value: value, Allowed: allowedPkg}
		}
		st.Foreground = value
	case "sdk":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > 99 {
			return &SetError{Key: key, Value: value, Allowed: allowedSDK}
		}
		st.SDK = n
	case "storage":
		n, err := ParseBytes(value)
		if err != nil {
			return &SetError{Key: key, Value: value, Allowed: allowedStorage}
		}
		st.FreeStorage = n
	case "tz":
		if value == "" || value == "Local" {
			return &SetError{Key: key, Value: value, Allowed: allowedTZ}
		}
		if _, err := time.LoadLocation(value); err != nil {
			return &SetError{Key: key, Value: value, Allowed: allowedTZ}
		}
		st.TimeZone = value
	default:
		return &SetError{Key: key, Value: value, Allowed: allowedKeys}
	}
	return nil
}

var byteUnits = []struct {
	suffix string
	mult   float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// ParseBytes reads a byte count: a whole number, or a number with one of
// the units B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB
// (powers of 1024).
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("sim: byte count %q is negative", s)
		}
		return n, nil
	}
	for _, u := range byteUnits {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || f < 0 || f*u.mult > 1<<62 {
			break
		}
		return int64(f * u.mult), nil
	}
	return 0, fmt.Errorf("sim: %q is not a byte count; %s", s, allowedStorage)
}
