package protocol

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// builders are every subject builder that takes a device id.
var builders = []struct {
	name string
	fn   func(string) (string, error)
	kind string
}{
	{name: "DirectiveSubject", fn: DirectiveSubject, kind: "directive"},
	{name: "SyncSubject", fn: SyncSubject, kind: "sync"},
	{name: "ReportSubject", fn: ReportSubject, kind: "report"},
	{name: "EventSubject", fn: EventSubject, kind: "event"},
}

func TestSubjectBuilders(t *testing.T) {
	max := strings.Repeat("a", MaxDeviceIDLen)
	ids := []string{"pos-berlin-01-0042", "A", "imei:356938035643809", "dev_1", max}
	for _, id := range ids {
		for _, b := range builders {
			t.Run(b.name+"/"+id[:min(len(id), 20)], func(t *testing.T) {
				got, err := b.fn(id)
				if err != nil {
					t.Fatalf("%s(%q): %v", b.name, id, err)
				}
				want := "sluice.v1.device." + id + "." + b.kind
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("subject (-want +got):\n%s", diff)
				}
				gotID, gotKind, err := ParseDeviceSubject(got)
				if err != nil {
					t.Fatalf("ParseDeviceSubject(%q): %v", got, err)
				}
				if diff := cmp.Diff([2]string{id, b.kind}, [2]string{gotID, gotKind}); diff != "" {
					t.Errorf("parsed (-want +got):\n%s", diff)
				}
			})
		}
	}
	got, err := DecisionLogSubject("pos-berlin-01-0042")
	if err != nil {
		t.Fatalf("DecisionLogSubject: %v", err)
	}
	if diff := cmp.Diff("sluice.v1.log.decision.pos-berlin-01-0042", got); diff != "" {
		t.Errorf("decision log subject (-want +got):\n%s", diff)
	}
}

func TestWildcardSubjects(t *testing.T) {
	got := []string{AllSyncSubjects, AllReportSubjects, AllEventSubjects, AllDeviceSubjects, AllDecisionLogSubjects, AllAuditLogSubjects}
	want := []string{"sluice.v1.device.*.sync", "sluice.v1.device.*.report", "sluice.v1.device.*.event", "sluice.v1.device.>", "sluice.v1.log.decision.*", "sluice.v1.log.audit.*"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("wildcards (-want +got):\n%s", diff)
	}
}

func TestInvalidDeviceIDs(t *testing.T) {
	long := strings.Repeat("a", MaxDeviceIDLen+1)
	tests := []struct {
		name string
		id   string
		want DeviceIDError
	}{
		{name: "empty", id: "", want: DeviceIDError{ID: "", Reason: "is empty"}},
		{name: "129 bytes", id: long, want: DeviceIDError{ID: long, Reason: "is 129 bytes long"}},
		{name: "space", id: "pos 42", want: DeviceIDError{ID: "pos 42", Reason: "has ' ' at byte 3"}},
		{name: "dot", id: "pos.42", want: DeviceIDError{ID: "pos.42", Reason: "has '.' at byte 3"}},
		{name: "star", id: "*", want: DeviceIDError{ID: "*", Reason: "has '*' at byte 0"}},
		{name: "greater than", id: "pos>", want: DeviceIDError{ID: "pos>", Reason: "has '>' at byte 3"}},
		{name: "newline", id: "pos\n42", want: DeviceIDError{ID: "pos\n42", Reason: `has '\n' at byte 3`}},
		{name: "tab", id: "\tpos", want: DeviceIDError{ID: "\tpos", Reason: `has '\t' at byte 0`}},
		{name: "nul", id: "pos\x00", want: DeviceIDError{ID: "pos\x00", Reason: `has '\x00' at byte 3`}},
		{name: "unicode", id: "kasse-köln", want: DeviceIDError{ID: "kasse-köln", Reason: "has 'ö' at byte 7"}},
		{name: "slash", id: "a/b", want: DeviceIDError{ID: "a/b", Reason: "has '/' at byte 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrInvalidDeviceID) {
					t.Fatalf("%s: error %v does not wrap ErrInvalidDeviceID", what, err)
				}
				var de *DeviceIDError
				if !errors.As(err, &de) {
					t.Fatalf("%s: error %T is not a *DeviceIDError", what, err)
				}
				if diff := cmp.Diff(tt.want, *de); diff != "" {
					t.Errorf("%s: error (-want +got):\n%s", what, diff)
				}
			}
			check("ValidateDeviceID", ValidateDeviceID(tt.id))
			for _, b := range builders {
				s, err := b.fn(tt.id)
				if s != "" {
					t.Errorf("%s returned subject %q with error %v", b.name, s, err)
				}
				check(b.name, err)
			}
			_, err := DecisionLogSubject(tt.id)
			check("DecisionLogSubject", err)
		})
	}
}

func TestDeviceIDErrorMessage(t *testing.T) {
	want := `protocol: device id "pos.42": has '.' at byte 3; allowed: 1 to 128 bytes of letters, digits, '-', '_' and ':'`
	if diff := cmp.Diff(want, ValidateDeviceID("pos.42").Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

func TestParseDeviceSubjectErrors(t *testing.T) {
	tests := []struct {
		name    string
		subject string
		want    string
		wantID  bool // the error is a *DeviceIDError
	}{
		{name: "other root", subject: "sluice.v2.device.d1.sync", want: `protocol: subject "sluice.v2.device.d1.sync" is not under sluice.v1.device`},
		{name: "empty", subject: "", want: `protocol: subject "" is not under sluice.v1.device`},
		{name: "log subject", subject: "sluice.v1.log.decision.d1", want: `protocol: subject "sluice.v1.log.decision.d1" is not under sluice.v1.device`},
		{name: "no kind", subject: "sluice.v1.device.d1", want: `protocol: subject "sluice.v1.device.d1": want sluice.v1.device.<id>.<kind>`},
		{name: "extra token", subject: "sluice.v1.device.d1.sync.x", want: `protocol: subject "sluice.v1.device.d1.sync.x": want sluice.v1.device.<id>.<kind>`},
		{name: "unknown kind", subject: "sluice.v1.device.d1.status", want: `protocol: subject "sluice.v1.device.d1.status": kind "status" is not one of directive, sync, report, event`},
		{name: "empty kind", subject: "sluice.v1.device.d1.", want: `protocol: subject "sluice.v1.device.d1.": kind "" is not one of directive, sync, report, event`},
		{name: "empty id", subject: "sluice.v1.device..sync", want: `protocol: device id "": is empty; allowed: 1 to 128 bytes of letters, digits, '-', '_' and ':'`, wantID: true},
		{name: "wildcard id", subject: AllSyncSubjects, want: `protocol: device id "*": has '*' at byte 0; allowed: 1 to 128 bytes of letters, digits, '-', '_' and ':'`, wantID: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, kind, err := ParseDeviceSubject(tt.subject)
			if err == nil {
				t.Fatalf("ParseDeviceSubject(%q) = %q, %q; want an error", tt.subject, id, kind)
			}
			if id != "" || kind != "" {
				t.Errorf("ParseDeviceSubject returned %q, %q with an error", id, kind)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantID, errors.Is(err, ErrInvalidDeviceID)); diff != "" {
				t.Errorf("wraps ErrInvalidDeviceID (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuditLogSubject(t *testing.T) {
	tests := []struct {
		name    string
		kind    string
		want    string
		wantErr string
	}{
		{name: "policy", kind: "policy", want: "sluice.v1.log.audit.policy"},
		{name: "with dash and digit", kind: "device-group_2", want: "sluice.v1.log.audit.device-group_2"},
		{name: "empty", kind: "", wantErr: `protocol: audit kind "": want 1 to 64 bytes of lowercase letters, digits, '-' and '_'`},
		{name: "too long", kind: strings.Repeat("k", 65), wantErr: `protocol: audit kind "` + strings.Repeat("k", 65) + `": want 1 to 64 bytes of lowercase letters, digits, '-' and '_'`},
		{name: "dot", kind: "a.b", wantErr: `protocol: audit kind "a.b": has '.' at byte 1; want lowercase letters, digits, '-' and '_'`},
		{name: "uppercase", kind: "Policy", wantErr: `protocol: audit kind "Policy": has 'P' at byte 0; want lowercase letters, digits, '-' and '_'`},
		{name: "wildcard", kind: ">", wantErr: `protocol: audit kind ">": has '>' at byte 0; want lowercase letters, digits, '-' and '_'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AuditLogSubject(tt.kind)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff([2]string{tt.want, tt.wantErr}, [2]string{got, gotErr}); diff != "" {
				t.Errorf("AuditLogSubject(%q) (-want +got):\n%s", tt.kind, diff)
			}
		})
	}
}
