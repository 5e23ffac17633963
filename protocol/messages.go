package protocol

import (
	"fmt"
	"sort"
	"time"
	"unicode/utf8"
)

// Version is the protocol version this package speaks.
const Version = 1

// Directive is everything one device must do: its decisions for all its
// apps. It is sent inside a signed [Envelope].
type Directive struct {
	Version  int    `json:"version"`
	DeviceID string `json:"deviceId"`
	// Sequence increases strictly with every directive issued to the device;
	// agents refuse a directive whose sequence is not above the last one
	// they accepted.
	Sequence  uint64     `json:"sequence"`
	IssuedAt  time.Time  `json:"issuedAt"`
	ExpiresAt time.Time  `json:"expiresAt"`
	Decisions []Decision `json:"decisions"`
}

// Decision returns the decision for app, if the directive has one.
func (d *Directive) Decision(app string) (Decision, bool) {
	for _, dec := range d.Decisions {
		if dec.App == app {
			return dec, true
		}
	}
	return Decision{}, false
}

// SyncRequest is what a device sends on [SyncSubject] when it (re)connects.
type SyncRequest struct {
	Version      int    `json:"version"`
	DeviceID     string `json:"deviceId"`
	LastSequence uint64 `json:"lastSequence"`
	AgentVersion string `json:"agentVersion,omitempty"`
}

// SyncReply answers a [SyncRequest]: either a signed directive or an error
// the agent reports and retries on.
type SyncReply struct {
	Directive *Envelope `json:"directive,omitempty"`
	// Error is set when the controller cannot answer (for instance while it
	// has not evaluated the device yet).
	Error string `json:"error,omitempty"`
}

// Platform names.
const (
	PlatformAndroid = "android"
	PlatformIOS     = "ios"
)

// DeviceReport is the inventory and sensed state a device publishes at
// start, on every change and periodically.
type DeviceReport struct {
	Version      int               `json:"version"`
	DeviceID     string            `json:"deviceId"`
	SentAt       time.Time         `json:"sentAt"`
	Labels       map[string]string `json:"labels,omitempty"`
	Platform     string            `json:"platform"`
	SDK          int               `json:"sdk,omitempty"`
	AgentVersion string            `json:"agentVersion,omitempty"`
	Channel      string            `json:"channel,omitempty"`
	// TimeZone is the device's IANA zone ("Europe/Berlin"), used for
	// maintenance windows and prompt days.
	TimeZone string                  `json:"timeZone,omitempty"`
	Apps     map[string]InstalledApp `json:"apps"`
	State    DeviceState             `json:"state"`
	// Status says, per app, what the agent is doing or waiting for.
	Status map[string]AppStatus `json:"status,omitempty"`
	// DirectiveSequence is the sequence of the directive the agent enforces.
	DirectiveSequence uint64 `json:"directiveSequence,omitempty"`
	// Dropped counts spooled messages dropped while offline.
	Dropped uint64 `json:"dropped,omitempty"`
}

// InstalledApp is one installed package as the device sees it.
type InstalledApp struct {
	VersionName  string    `json:"versionName"`
	VersionCode  int64     `json:"versionCode"`
	SignerSHA256 []string  `json:"signerSha256,omitempty"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// DeviceState is the sensed state that default-mode installs wait on.
type DeviceState struct {
	// Unmetered is true on Wi-Fi or Ethernet, false on mobile data or when
	// offline.
	Unmetered bool `json:"unmetered"`
	Charging  bool `json:"charging"`
	Idle      bool `json:"idle"`
	// ForegroundApp is the package in the foreground, or empty.
	ForegroundApp string `json:"foregroundApp,omitempty"`
	// FreeStorage is the free bytes where downloads are kept.
	FreeStorage int64 `json:"freeStorage,omitempty"`
}

// AppStatus is the agent's view of one app's update.
type AppStatus struct {
	// State is one of the agent's states: idle, waiting, downloading,
	// verifying, installing, installed, failed, prompting.
	State string `json:"state"`
	// WaitingFor lists what the update waits for
	// (WAITING_FOR_UNMETERED_NETWORK, WAITING_FOR_CHARGING, WAITING_FOR_IDLE,
	// APP_IN_FOREGROUND, OUTSIDE_MAINTENANCE_WINDOW, POSTPONED).
	WaitingFor   []string  `json:"waitingFor,omitempty"`
	NotBefore    time.Time `json:"notBefore,omitzero"`
	TargetCode   int64     `json:"targetVersionCode,omitempty"`
	Downloaded   int64     `json:"downloaded,omitempty"`
	Total        int64     `json:"total,omitempty"`
	LastError    string    `json:"lastError,omitempty"`
	Attempts     int       `json:"attempts,omitempty"`
	DecisionID   string    `json:"decisionId,omitempty"`
	UpdatedState time.Time `json:"updatedAt,omitzero"`
}

// Waiting codes used in [AppStatus.WaitingFor].
const (
	WaitingForUnmeteredNetwork = "WAITING_FOR_UNMETERED_NETWORK"
	WaitingForCharging         = "WAITING_FOR_CHARGING"
	WaitingForIdle             = "WAITING_FOR_IDLE"
	WaitingAppInForeground     = "APP_IN_FOREGROUND"
	WaitingOutsideWindow       = "OUTSIDE_MAINTENANCE_WINDOW"
	WaitingPostponed           = "POSTPONED"
)

// Validate checks the fields a controller relies on.
func (r *DeviceReport) Validate() error {
	if r.Version != Version {
		return fmt.Errorf("protocol: report: version: %d is not supported; want %d", r.Version, Version)
	}
	if err := ValidateDeviceID(r.DeviceID); err != nil {
		return fmt.Errorf("report: deviceId: %w", err)
	}
	if r.Platform != PlatformAndroid && r.Platform != PlatformIOS {
		return fmt.Errorf("protocol: report %s: platform: %q is not one of %s, %s", r.DeviceID, r.Platform, PlatformAndroid, PlatformIOS)
	}
	if r.SDK < 0 {
		return fmt.Errorf("protocol: report %s: sdk: %d is negative", r.DeviceID, r.SDK)
	}
	// In sorted order, so that the first bad app reported is always the same.
	pkgs := make([]string, 0, len(r.Apps))
	for pkg := range r.Apps {
		pkgs = append(pkgs, pkg)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		app := r.Apps[pkg]
		if err := ValidatePackageName(pkg); err != nil {
			return fmt.Errorf("protocol: report %s: apps: %w", r.DeviceID, err)
		}
		if app.VersionCode < 0 {
			return fmt.Errorf("protocol: report %s: apps[%s].versionCode: %d is negative", r.DeviceID, pkg, app.VersionCode)
		}
	}
	if r.TimeZone != "" {
		if _, err := time.LoadLocation(r.TimeZone); err != nil {
			return fmt.Errorf("protocol: report %s: timeZone: %q is not an IANA time zone", r.DeviceID, r.TimeZone)
		}
	}
	return nil
}

// ValidatePackageName checks an Android package name (or iOS bundle id):
// two or more dot-separated segments of letters, digits, '_' and '-' (iOS
// bundle ids use it), each starting with a letter, 255 bytes at most.
func ValidatePackageName(pkg string) error {
	bad := func(why string) error {
		return fmt.Errorf("package %q %s; want dot-separated segments like com.example.app", pkg, why)
	}
	if pkg == "" {
		return bad("is empty")
	}
	if len(pkg) > 255 {
		return bad("is longer than 255 bytes")
	}
	segments := 1
	start := true
	for i := 0; i < len(pkg); i++ {
		c := pkg[i]
		switch {
		case c == '.':
			if start {
				return bad(fmt.Sprintf("has an empty segment at byte %d", i))
			}
			segments++
			start = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			start = false
		case c >= '0' && c <= '9', c == '_', c == '-':
			if start {
				return bad(fmt.Sprintf("has a segment starting with %q at byte %d", c, i))
			}
		case c >= utf8.RuneSelf:
			r, _ := utf8.DecodeRuneInString(pkg[i:])
			return bad(fmt.Sprintf("has %q at byte %d", r, i))
		default:
			return bad(fmt.Sprintf("has %q at byte %d", c, i))
		}
	}
	if start {
		return bad("ends with '.'")
	}
	if segments < 2 {
		return bad("has only one segment")
	}
	return nil
}
