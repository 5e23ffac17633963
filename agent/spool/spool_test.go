package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func drainAll(t *testing.T, s *Spool) []string {
	t.Helper()
	var got []string
	if _, err := s.Drain(context.Background(), func(_ context.Context, m Message) error {
		got = append(got, m.Subject+" "+m.ID+" "+string(m.Data))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestOrderSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := s.Append("sub", fmt.Sprintf("e%d", i), []byte(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Send the first one only, as if the connection broke after it.
	fail := errors.New("offline")
	calls := 0
	n, err := s.Drain(context.Background(), func(context.Context, Message) error {
		calls++
		if calls > 1 {
			return fail
		}
		return nil
	})
	if n != 1 || !errors.Is(err, fail) {
		t.Fatalf("Drain = %d, %v; want 1, offline", n, err)
	}
	// An interrupted write leaves a temp file: it is cleaned up, not sent.
	if err := os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Append("sub", "e4", []byte("m4")); err != nil {
		t.Fatal(err)
	}
	want := []string{"sub e2 m2", "sub e3 m3", "sub e4 m4"}
	if diff := cmp.Diff(want, drainAll(t, s2)); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
	if s2.Len() != 0 || s2.Bytes() != 0 {
		t.Errorf("after drain Len=%d Bytes=%d, want 0, 0", s2.Len(), s2.Bytes())
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp-123")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp file left behind: %v", err)
	}
}

func TestBoundsDropOldestAndCount(t *testing.T) {
	tests := []struct {
		name        string
		opt         Options
		appends     int
		want        []string
		wantDropped uint64
	}{
		{"count", Options{MaxCount: 3}, 5, []string{"s 2 x", "s 3 x", "s 4 x"}, 2},
		// Each message file is {"subject":"s","id":"N","data":"eA=="}: 37 bytes.
		{"bytes", Options{MaxBytes: 80}, 4, []string{"s 2 x", "s 3 x"}, 2},
		{"under the bounds", Options{MaxCount: 10}, 3, []string{"s 0 x", "s 1 x", "s 2 x"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < tt.appends; i++ {
				if err := s.Append("s", fmt.Sprint(i), []byte("x")); err != nil {
					t.Fatal(err)
				}
			}
			// The dropped count survives a restart.
			s2, err := Open(dir, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := s2.Dropped(); got != tt.wantDropped {
				t.Errorf("Dropped() = %d, want %d", got, tt.wantDropped)
			}
			if diff := cmp.Diff(tt.want, drainAll(t, s2)); diff != "" {
				t.Errorf("kept (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MaxBytes: 50})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append("s", "1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	err = s.Append("s", "2", make([]byte, 100))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append(100 bytes) = %v, want ErrTooLarge", err)
	}
	if diff := cmp.Diff([]string{"s 1 x"}, drainAll(t, s)); diff != "" {
		t.Errorf("a refused message must not damage the spool (-want +got):\n%s", diff)
	}
}
