package state

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sluice-mdm/sluice/protocol"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("load Europe/Berlin: %v", err)
	}
	return loc
}

func TestWindowAcrossMidnightInBerlin(t *testing.T) {
	loc := berlin(t)
	win := &protocol.MaintenanceWindow{Start: "22:00", End: "05:00"}
	dec := decision(func(d *protocol.Decision) { d.MaintenanceWindow = win })
	at := func(y int, m time.Month, d, hh, mm, ss int) time.Time { return time.Date(y, m, d, hh, mm, ss, 0, loc) }
	outside := func(next time.Time) Result {
		return Result{Do: DoWait, WaitingFor: []string{protocol.WaitingOutsideWindow}, Recheck: next}
	}
	tests := []struct {
		name string
		now  time.Time
		want Result
	}{
		{"one second before start", at(2026, 5, 2, 21, 59, 59), outside(at(2026, 5, 2, 22, 0, 0))},
		{"at start (inclusive)", at(2026, 5, 2, 22, 0, 0), Result{Do: DoInstall}},
		{"local midnight", at(2026, 5, 3, 0, 0, 0), Result{Do: DoInstall}},
		{"one second before end", at(2026, 5, 3, 4, 59, 59), Result{Do: DoInstall}},
		{"at end (exclusive)", at(2026, 5, 3, 5, 0, 0), outside(at(2026, 5, 3, 22, 0, 0))},
		{"noon", at(2026, 5, 3, 12, 0, 0), outside(at(2026, 5, 3, 22, 0, 0))},
		// 21:30 UTC is 23:30 in Berlin (CEST): inside, though UTC says outside.
		{"UTC outside, local inside", time.Date(2026, 5, 2, 21, 30, 0, 0, time.UTC), Result{Do: DoInstall}},
		// 04:30 UTC is 06:30 in Berlin: outside, though UTC says inside.
		{"UTC inside, local outside", time.Date(2026, 5, 3, 4, 30, 0, 0, time.UTC), outside(at(2026, 5, 3, 22, 0, 0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Evaluate(Input{Decision: dec, Installed: installed100, Device: allGood, Location: loc, Now: tt.now})
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWindowAroundDST(t *testing.T) {
	loc := berlin(t)
	// On 2026-03-29 Berlin jumps from 02:00 CET to 03:00 CEST; 02:30 does
	// not exist. A 02:30-04:00 window opens at 03:00 CEST (01:00 UTC).
	w, err := ParseWindow(&protocol.MaintenanceWindow{Start: "02:30", End: "04:00"})
	if err != nil {
		t.Fatal(err)
	}
	got := w.NextOpen(time.Date(2026, 3, 28, 23, 0, 0, 0, time.UTC), loc)
	if want := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("NextOpen on spring-forward night = %s, want %s", got.UTC(), want)
	}
	// On 2026-10-25 03:00 CEST becomes 02:00 CET: a 02:00-03:00 window is
	// open for two real hours, 00:00 to 02:00 UTC.
	w2, _ := ParseWindow(&protocol.MaintenanceWindow{Start: "02:00", End: "03:00"})
	tests := []struct {
		name string
		utc  time.Time
		want bool
	}{
		{"00:30 UTC = 02:30 CEST", time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), true},
		{"01:30 UTC = 02:30 CET", time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), true},
		{"02:00 UTC = 03:00 CET", time.Date(2026, 10, 25, 2, 0, 0, 0, time.UTC), false},
		{"23:59 UTC = 01:59 CEST", time.Date(2026, 10, 24, 23, 59, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := w2.Contains(tt.utc, loc); got != tt.want {
				t.Errorf("Contains(%s) = %t, want %t", tt.utc, got, tt.want)
			}
		})
	}
}

func TestParseWindowErrors(t *testing.T) {
	tests := []struct {
		name string
		w    protocol.MaintenanceWindow
		want *WindowError
	}{
		{"hour", protocol.MaintenanceWindow{Start: "24:00", End: "05:00"}, &WindowError{Field: "maintenanceWindow.start", Value: "24:00"}},
		{"minute", protocol.MaintenanceWindow{Start: "22:00", End: "05:60"}, &WindowError{Field: "maintenanceWindow.end", Value: "05:60"}},
		{"short", protocol.MaintenanceWindow{Start: "2:00", End: "05:00"}, &WindowError{Field: "maintenanceWindow.start", Value: "2:00"}},
		{"letters", protocol.MaintenanceWindow{Start: "22:00", End: "ab:cd"}, &WindowError{Field: "maintenanceWindow.end", Value: "ab:cd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWindow(&tt.w)
			var we *WindowError
			if !errors.As(err, &we) {
				t.Fatalf("ParseWindow = %v, want a *WindowError", err)
			}
			if diff := cmp.Diff(tt.want, we); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}
