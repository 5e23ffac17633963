package protocol

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// SubjectRoot is the first tokens of every Sluice v1 subject.
const SubjectRoot = "sluice.v1"

// MaxDeviceIDLen is the longest device id, in bytes, that Sluice accepts.
const MaxDeviceIDLen = 128

// ErrInvalidDeviceID is wrapped by every device-id validation error.
var ErrInvalidDeviceID = errors.New("protocol: invalid device id")

// DeviceIDError says why a device id cannot be used in a subject.
type DeviceIDError struct {
	ID     string
	Reason string
}

func (e *DeviceIDError) Error() string {
	return fmt.Sprintf("protocol: device id %q: %s; allowed: 1 to %d bytes of letters, digits, '-', '_' and ':'",
		e.ID, e.Reason, MaxDeviceIDLen)
}

func (e *DeviceIDError) Unwrap() error { return ErrInvalidDeviceID }

// ValidateDeviceID reports whether id can name a device. Ids become a NATS
// subject token, so '.', '*', '>', white space and control characters, which
// would change the subject's meaning, are refused along with everything else
// outside a small safe alphabet.
func ValidateDeviceID(id string) error {
	if id == "" {
		return &DeviceIDError{ID: id, Reason: "is empty"}
	}
	if len(id) > MaxDeviceIDLen {
		return &DeviceIDError{ID: id, Reason: fmt.Sprintf("is %d bytes long", len(id))}
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == ':':
		case c >= utf8.RuneSelf:
			r, _ := utf8.DecodeRuneInString(id[i:])
			return &DeviceIDError{ID: id, Reason: fmt.Sprintf("has %q at byte %d", r, i)}
		default:
			return &DeviceIDError{ID: id, Reason: fmt.Sprintf("has %q at byte %d", c, i)}
		}
	}
	return nil
}

// Subject kinds: the last token of a device subject.
const (
	kindDirective = "directive"
	kindSync      = "sync"
	kindReport    = "report"
	kindEvent     = "event"
)

func deviceSubject(deviceID, kind string) (string, error) {
	if err := ValidateDeviceID(deviceID); err != nil {
		return "", err
	}
	return SubjectRoot + ".device." + deviceID + "." + kind, nil
}

// DirectiveSubject is where the controller pushes signed directives to one
// device.
func DirectiveSubject(deviceID string) (string, error) { return deviceSubject(deviceID, kindDirective) }

// SyncSubject is where a device asks for its current directive
// (request/reply, answered with a [SyncReply]).
func SyncSubject(deviceID string) (string, error) { return deviceSubject(deviceID, kindSync) }

// ReportSubject is where a device publishes its [DeviceReport].
func ReportSubject(deviceID string) (string, error) { return deviceSubject(deviceID, kindReport) }

// EventSubject is where a device publishes its [Event]s.
func EventSubject(deviceID string) (string, error) { return deviceSubject(deviceID, kindEvent) }

// Wildcard subjects the controller subscribes to or captures in streams.
var (
	AllSyncSubjects    = SubjectRoot + ".device.*." + kindSync
	AllReportSubjects  = SubjectRoot + ".device.*." + kindReport
	AllEventSubjects   = SubjectRoot + ".device.*." + kindEvent
	AllDeviceSubjects  = SubjectRoot + ".device.>"
	allDeviceKindsList = []string{kindDirective, kindSync, kindReport, kindEvent}
)

// App events: events reported over the controller's HTTP event API by an
// app that has no device id (an iOS app, or an app on a device without the
// agent). They are captured by the same stream as device events.
const appEventPrefix = SubjectRoot + ".appevent."

// AllAppEventSubjects is the wildcard of every [AppEventSubject].
var AllAppEventSubjects = appEventPrefix + ">"

// AppEventSubject is where the controller stores the events of an app that
// reported without a device id: "sluice.v1.appevent.<package>", one subject
// token per segment of the package name ("sluice.v1.appevent.com.example.pos").
func AppEventSubject(app string) (string, error) {
	if err := ValidatePackageName(app); err != nil {
		return "", fmt.Errorf("protocol: app event subject: %w", err)
	}
	return appEventPrefix + app, nil
}

// Log subjects: where the controller appends its decision log and its admin
// audit log, captured by JetStream streams. Devices never publish here.
const (
	decisionLogPrefix = SubjectRoot + ".log.decision."
	auditLogPrefix    = SubjectRoot + ".log.audit."
)

// Wildcards of the log subjects.
var (
	AllDecisionLogSubjects = decisionLogPrefix + "*"
	AllAuditLogSubjects    = auditLogPrefix + "*"
)

// DecisionLogSubject is where the decision-log entries of one device are
// appended: "sluice.v1.log.decision.<device>".
func DecisionLogSubject(deviceID string) (string, error) {
	if err := ValidateDeviceID(deviceID); err != nil {
		return "", err
	}
	return decisionLogPrefix + deviceID, nil
}

// MaxAuditKindLen is the longest object kind, in bytes, of an audit subject.
const MaxAuditKindLen = 64

// AuditLogSubject is where admin audit entries about one kind of object
// ("policy", "release", "token", ...) are appended:
// "sluice.v1.log.audit.<kind>". The kind is 1 to [MaxAuditKindLen] bytes of
// lowercase letters, digits, '-' and '_'.
func AuditLogSubject(kind string) (string, error) {
	if kind == "" || len(kind) > MaxAuditKindLen {
		return "", fmt.Errorf("protocol: audit kind %q: want 1 to %d bytes of lowercase letters, digits, '-' and '_'", kind, MaxAuditKindLen)
	}
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", fmt.Errorf("protocol: audit kind %q: has %q at byte %d; want lowercase letters, digits, '-' and '_'", kind, c, i)
		}
	}
	return auditLogPrefix + kind, nil
}

// ParseDeviceSubject splits a device subject into the device id and its kind
// ("directive", "sync", "report" or "event").
func ParseDeviceSubject(subject string) (deviceID, kind string, err error) {
	rest, ok := strings.CutPrefix(subject, SubjectRoot+".device.")
	if !ok {
		return "", "", fmt.Errorf("protocol: subject %q is not under %s.device", subject, SubjectRoot)
	}
	deviceID, kind, ok = strings.Cut(rest, ".")
	if !ok || strings.Contains(kind, ".") {
		return "", "", fmt.Errorf("protocol: subject %q: want %s.device.<id>.<kind>", subject, SubjectRoot)
	}
	if err := ValidateDeviceID(deviceID); err != nil {
		return "", "", err
	}
	for _, k := range allDeviceKindsList {
		if k == kind {
			return deviceID, kind, nil
		}
	}
	return "", "", fmt.Errorf("protocol: subject %q: kind %q is not one of %s", subject, kind, strings.Join(allDeviceKindsList, ", "))
}
