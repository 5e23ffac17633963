package cli

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCode(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"plain", base, ExitError},
		{"coded", WithCode(ExitConflict, base), ExitConflict},
		{"wrapped coded", fmt.Errorf("apply: %w", WithCode(ExitForbidden, base)), ExitForbidden},
		{"errorf", Errorf(ExitInvalid, "spec.mode: %q", "fast"), ExitInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Code(tt.err); got != tt.want {
				t.Errorf("Code(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
	if WithCode(ExitInvalid, nil) != nil {
		t.Error("WithCode(nil) must stay nil")
	}
}

func TestTable(t *testing.T) {
	tb := NewTable("device", "app", "action")
	tb.Row("pos-001", "com.example.pos", "install")
	tb.Row("pos-002", "", "none")
	tb.Row("pos-003")
	var buf bytes.Buffer
	if err := tb.Write(&buf); err != nil {
		t.Fatal(err)
	}
	want := "DEVICE   APP              ACTION\n" +
		"pos-001  com.example.pos  install\n" +
		"pos-002  -                none\n" +
		"pos-003  -                -\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestCheckFormat(t *testing.T) {
	if err := CheckFormat("json", FormatTable, FormatJSON); err != nil {
		t.Errorf("json refused: %v", err)
	}
	err := CheckFormat("xml", FormatTable, FormatJSON)
	if err == nil || Code(err) != ExitUsage || err.Error() != `-o: "xml" is not one of table, json` {
		t.Errorf("CheckFormat(xml) = %v (code %d)", err, Code(err))
	}
}

func TestBarRender(t *testing.T) {
	b := &Bar{Label: "pos-2.0.0.apk", Width: 10}
	tests := []struct {
		name        string
		done, total int64
		speed       float64
		left        time.Duration
		want        string
	}{
		{"start", 0, 1 << 20, 0, 0, "pos-2.0.0.apk [>         ]   0%  0 B/1.0 MiB"},
		{"half", 512 << 10, 1 << 20, 256 << 10, 2 * time.Second, "pos-2.0.0.apk [=====>    ]  50%  512.0 KiB/1.0 MiB  256.0 KiB/s  2s left"},
		{"done", 1 << 20, 1 << 20, 0, 0, "pos-2.0.0.apk [==========] 100%  1.0 MiB/1.0 MiB"},
		{"unknown total", 2048, 0, 0, 0, "pos-2.0.0.apk [>         ] 2.0 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, b.Render(tt.done, tt.total, tt.speed, tt.left)); diff != "" {
				t.Errorf("Render (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBarThrottlesPlainOutput(t *testing.T) {
	now := time.Date(2026, 5, 2, 10, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	b := &Bar{W: &buf, Every: 5 * time.Second, Now: func() time.Time { return now }}
	b.Update(1, 10, 0, 0)
	now = now.Add(time.Second)
	b.Update(2, 10, 0, 0) // within the interval: not printed
	now = now.Add(5 * time.Second)
	b.Update(5, 10, 0, 0)
	b.Update(10, 10, 0, 0) // completion always prints
	if got := bytes.Count(buf.Bytes(), []byte("\n")); got != 3 {
		t.Errorf("printed %d lines, want 3:\n%s", got, buf.String())
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 200 << 20: "200.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
