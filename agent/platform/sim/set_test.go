package sim

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sluice-mdm/sluice/agent/platform"
	"github.com/sluice-mdm/sluice/protocol"
)

func TestSet(t *testing.T) {
	tests := []struct {
		name        string
		assignments []string
		wantState   protocol.DeviceState
		wantInfo    platform.Info
	}{
		{
			name:        "all on",
			assignments: []string{"wifi=on", "charging=on", "idle=on", "foreground=com.example.pos", "sdk=34", "storage=2GiB", "tz=Europe/Berlin"},
			wantState:   protocol.DeviceState{Unmetered: true, Charging: true, Idle: true, ForegroundApp: "com.example.pos", FreeStorage: 2 << 30},
			wantInfo:    platform.Info{SDK: 34, OSVersion: "15", TimeZone: "Europe/Berlin"},
		},
		{
			name:        "later assignment wins, foreground cleared",
			assignments: []string{"wifi=on", "wifi=off", "foreground=com.example.pos", "foreground=", "storage=1.5GB"},
			wantState:   protocol.DeviceState{FreeStorage: 1_500_000_000},
			wantInfo:    platform.Info{SDK: 30, OSVersion: "11", TimeZone: "UTC"},
		},
		{
			name:        "foreground none, plain bytes, decimal units",
			assignments: []string{"foreground=none", "storage=123456", "sdk=28"},
			wantState:   protocol.DeviceState{FreeStorage: 123456},
			wantInfo:    platform.Info{SDK: 28, OSVersion: "9", TimeZone: "UTC"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openTest(t, Options{})
			ctx := context.Background()
			if err := d.Set(ctx, tt.assignments...); err != nil {
				t.Fatal(err)
			}
			st, err := d.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantState, st); diff != "" {
				t.Errorf("state mismatch (-want +got):\n%s", diff)
			}
			info, err := d.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantInfo, info); diff != "" {
				t.Errorf("info mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetMalformed(t *testing.T) {
	tests := []struct {
		name        string
		assignments []string
		want        string
	}{
		{name: "unknown key", assignments: []string{"wifi=on", "bluetooth=on"}, want: `sim: set bluetooth="on": want one of wifi, charging, idle, foreground, sdk, storage, tz`},
		{name: "not key=value", assignments: []string{"wifi"}, want: `sim: set "wifi": want key=value, want one of wifi, charging, idle, foreground, sdk, storage, tz`},
		{name: "bad on/off", assignments: []string{"charging=yes"}, want: `sim: set charging="yes": want on or off`},
		{name: "bad sdk", assignments: []string{"sdk=thirty"}, want: `sim: set sdk="thirty": want an API level from 1 to 99`},
		{name: "sdk out of range", assignments: []string{"sdk=0"}, want: `sim: set sdk="0": want an API level from 1 to 99`},
		{name: "bad storage unit", assignments: []string{"storage=2 parsecs"}, want: `sim: set storage="2 parsecs": want a byte count such as 2147483648, 500MiB, 2GiB or 1.5GB`},
		{name: "negative storage", assignments: []string{"storage=-5"}, want: `sim: set storage="-5": want a byte count such as 2147483648, 500MiB, 2GiB or 1.5GB`},
		{name: "bad time zone", assignments: []string{"tz=Mars/Olympus"}, want: `sim: set tz="Mars/Olympus": want an IANA time zone such as Europe/Berlin`},
		{name: "bad package", assignments: []string{"foreground=pos"}, want: `sim: set foreground="pos": want a package name such as com.example.pos, or nothing or none for no foreground app`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openTest(t, Options{})
			ctx := context.Background()
			before, err := d.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = d.Set(ctx, tt.assignments...)
			if err == nil {
				t.Fatal("Set succeeded, want an error")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			var se *SetError
			if !errors.As(err, &se) || !errors.Is(err, ErrBadAssignment) {
				t.Errorf("err = %#v, want a *SetError wrapping ErrBadAssignment", err)
			}
			after, err := d.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("a refused Set changed the state (-before +after):\n%s", diff)
			}
		})
	}
}

func TestStatePersistsAcrossOpen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d, err := Open(dir, Options{SDK: 29, TimeZone: "America/New_York", Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set(ctx, "wifi=on", "idle=on", "storage=3GiB"); err != nil {
		t.Fatal(err)
	}
	if err := d.Seed("com.example.menu", testAPK(t, "menu-4.5.0.apk")); err != nil {
		t.Fatal(err)
	}
	// Reopening with other defaults keeps the device as it was.
	again, err := Open(dir, Options{SDK: 34, TimeZone: "Asia/Tokyo"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := again.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(platform.Info{SDK: 29, OSVersion: "10", TimeZone: "America/New_York"}, info); diff != "" {
		t.Errorf("info mismatch (-want +got):\n%s", diff)
	}
	st, err := again.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	size := fileSize(t, testAPK(t, "menu-4.5.0.apk"))
	if diff := cmp.Diff(protocol.DeviceState{Unmetered: true, Idle: true, FreeStorage: 3<<30 - size}, st); diff != "" {
		t.Errorf("state mismatch (-want +got):\n%s", diff)
	}
	apps, err := again.Installed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]protocol.InstalledApp{"com.example.menu": {VersionName: "4.5.0", VersionCode: 450, SignerSHA256: signers(t, testAPK(t, "menu-4.5.0.apk")), UpdatedAt: t0}}
	if diff := cmp.Diff(want, apps); diff != "" {
		t.Errorf("installed mismatch (-want +got):\n%s", diff)
	}
}

// TestSetWhileReading has one goroutine flip the device between two
// consistent states while another reads it through a second Device on the
// same directory, as the agent does while `sluice-agent sim set` runs.
func TestSetWhileReading(t *testing.T) {
	writer := openTest(t, Options{})
	reader, err := Open(writer.Dir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	on := []string{"wifi=on", "charging=on", "idle=on", "foreground=com.example.pos"}
	off := []string{"wifi=off", "charging=off", "idle=off", "foreground=none"}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			set := on
			if i%2 == 1 {
				set = off
			}
			if err := writer.Set(ctx, set...); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 200 {
		st, err := reader.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all := st.Unmetered && st.Charging && st.Idle && st.ForegroundApp == "com.example.pos"
		none := !st.Unmetered && !st.Charging && !st.Idle && st.ForegroundApp == ""
		if !all && !none {
			t.Fatalf("read a half-written state: %+v", st)
		}
	}
	wg.Wait()
	st, err := reader.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The last of the 50 writes (index 49) switches everything off.
	if diff := cmp.Diff(protocol.DeviceState{FreeStorage: DefaultFreeStorage}, st); diff != "" {
		t.Errorf("final state mismatch (-want +got):\n%s", diff)
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{in: "0", want: 0},
		{in: "2GiB", want: 2 << 30},
		{in: "500MiB", want: 500 << 20},
		{in: "1.5GB", want: 1_500_000_000},
		{in: "10 KB", want: 10_000},
		{in: "7B", want: 7},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBytes(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
