package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/internal/client"
	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/policy"
)

// startFleet starts n devices named prefix-000... with labels and POS
// 1.0.0 installed, and waits until the controller knows every one.
func startFleet(t *testing.T, ctx context.Context, sys *sandbox.System, prefix string, n int, labels map[string]string, state ...string) []*sandbox.Device {
	t.Helper()
	devs := make([]*sandbox.Device, n)
	for i := range devs {
		devs[i] = startDevice(t, ctx, sys, sandbox.DeviceSpec{
			ID: fmt.Sprintf("%s-%03d", prefix, i), Labels: labels, Installed: []string{"pos-1.0.0.apk"}, State: state,
		})
	}
	return devs
}

// inventory returns the controller's device records by id.
func inventory(t *testing.T, ctx context.Context, sys *sandbox.System) map[string]client.DeviceRecord {
	t.Helper()
	recs, err := sys.Client().List(ctx, client.Kind("devices"))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]client.DeviceRecord, len(recs))
	for _, r := range recs {
		d, err := r.Device()
		if err != nil {
			t.Fatal(err)
		}
		out[r.Name] = d
	}
	return out
}

// fleetVersions reads the POS version of every device from its sim.
func fleetVersions(t *testing.T, ctx context.Context, devs []*sandbox.Device) map[string]string {
	t.Helper()
	out := make(map[string]string, len(devs))
	for _, d := range devs {
		out[d.ID()] = installed(t, ctx, d)[posApp]
	}
	return out
}

// waitFleet waits until every device has the POS version want gives it.
func waitFleet(t *testing.T, ctx context.Context, devs []*sandbox.Device, timeout time.Duration, want map[string]string) {
	t.Helper()
	waitFor(t, ctx, timeout, "every device on its expected POS version", func() (bool, error) {
		var off []string
		for _, d := range devs {
			apps, err := d.Installed(ctx)
			if err != nil {
				return false, err
			}
			if got := apps[posApp].VersionName; got != want[d.ID()] {
				off = append(off, fmt.Sprintf("%s has %s, want %s", d.ID(), got, want[d.ID()]))
			}
		}
		if len(off) > 0 {
			return false, fmt.Errorf("%d devices off: %s", len(off), strings.Join(off[:min(3, len(off))], "; "))
		}
		return true, nil
	})
}

// TestRolloutPercentage: a 50% rollout over 100 devices updates exactly
// the devices whose stable bucket (policy.RolloutBucket) is below 5000,
// and after a controller restart the next release goes to the same ones.
func TestRolloutPercentage(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	sys := startSystem(t, sandbox.Config{SenseInterval: 5 * time.Second, ReportInterval: 10 * time.Minute})
	applyYAML(t, ctx, sys, map[string]string{
		"rollout.yaml": governed("pos-rollout", "fleet=rollout", "app: com.example.pos\nmode: highPriority\nrollout: {percent: 50}"),
	})
	pushReleases(t, ctx, sys, "pos-2.0.0.apk")
	devs := startFleet(t, ctx, sys, "till", 100, map[string]string{"fleet": "rollout"})

	chosen := map[string]bool{}
	want := map[string]string{}
	for _, d := range devs {
		chosen[d.ID()] = policy.RolloutBucket("pos-rollout", d.ID()) < 5000
		want[d.ID()] = map[bool]string{true: "2.0.0", false: "1.0.0"}[chosen[d.ID()]]
	}
	n := 0
	for _, c := range chosen {
		if c {
			n++
		}
	}
	t.Logf("rollout 50%%: %d of %d devices chosen by their bucket", n, len(devs))
	if n < 40 || n > 60 {
		t.Errorf("%d of 100 devices are in a 50%% rollout; want 40 to 60", n)
	}
	waitFleet(t, ctx, devs, 2*time.Minute, want)
	checkRollout := func() {
		t.Helper()
		for _, d := range devs {
			wantDec := "none [NOT_IN_ROLLOUT]"
			if chosen[d.ID()] {
				wantDec = "none [UP_TO_DATE]"
			}
			waitDecision(t, ctx, sys, d, posApp, wantDec)
		}
		inv := inventory(t, ctx, sys)
		got := map[string]string{}
		for _, d := range devs {
			got[d.ID()] = inv[d.ID()].Device.Apps[posApp].VersionName
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("controller inventory (-want +got):\n%s", diff)
		}
	}
	checkRollout()

	// A restarted controller chooses the same devices for the next release.
	if err := sys.RestartController(ctx); err != nil {
		t.Fatal(err)
	}
	pushReleases(t, ctx, sys, "pos-2.1.0.apk")
	for _, d := range devs {
		if chosen[d.ID()] {
			want[d.ID()] = "2.1.0"
		}
	}
	waitFleet(t, ctx, devs, 2*time.Minute, want)
	checkRollout()
	if diff := cmp.Diff(want, fleetVersions(t, ctx, devs)); diff != "" {
		t.Errorf("installed after the restart (-want +got):\n%s", diff)
	}

	// Chosen devices installed twice, the others never.
	for _, d := range devs {
		want := map[string]int{}
		if chosen[d.ID()] {
			for k, v := range oneInstall(posApp) {
				want[k] = 2 * v
			}
		}
		if diff := cmp.Diff(want, installEvents(deviceEvents(t, ctx, sys, d.ID()), posApp)); diff != "" {
			t.Errorf("%s (chosen %v) events (-want +got):\n%s", d.ID(), chosen[d.ID()], diff)
		}
	}
}
