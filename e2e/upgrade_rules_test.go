package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/internal/testapk"
	"github.com/sluice-mdm/sluice/protocol"
)

// TestDowngradeNeedsAllowDowngrade: a policy pinning a version below the
// installed one changes nothing (the device is at or above its target);
// with allowDowngrade the pinned version
// installs (the sim lets PackageManager downgrade on request).
func TestDowngradeNeedsAllowDowngrade(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys := startSystem(t, sandbox.Config{})
	pushReleases(t, ctx, sys, "pos-1.0.0.apk", "pos-2.0.0.apk")
	apply := func(target string) {
		applyYAML(t, ctx, sys, map[string]string{"pos.yaml": governed("pos-pinned", "shop=1", "app: com.example.pos\nmode: highPriority\ntarget: "+target)})
	}
	apply("{version: 1.0.0}")
	d := startDevice(t, ctx, sys, sandbox.DeviceSpec{ID: "till-pinned", Labels: map[string]string{"shop": "1"}, Installed: []string{"pos-2.0.0.apk"}})
	waitDecision(t, ctx, sys, d, posApp, "none [UP_TO_DATE]")
	if diff := cmp.Diff(map[string]string{posApp: "2.0.0"}, installed(t, ctx, d)); diff != "" {
		t.Fatalf("installed under a pin without allowDowngrade (-want +got):\n%s", diff)
	}

	apply("{version: 1.0.0, allowDowngrade: true}")
	waitVersion(t, ctx, d, posApp, "1.0.0")
	waitDecision(t, ctx, sys, d, posApp, "none [UP_TO_DATE]")
	want := []string{"none [UP_TO_DATE]", "install [UPDATE_AVAILABLE] -> 1.0.0", "none [UP_TO_DATE]"}
	if diff := cmp.Diff(want, decisionTrail(t, ctx, sys, d.ID(), posApp)); diff != "" {
		t.Errorf("decision log (-want +got):\n%s", diff)
	}
	entries, err := sys.Client().Decisions(ctx, clientQuery(d.ID(), posApp))
	if err != nil {
		t.Fatal(err)
	}
	var downgrades []bool
	for _, e := range entries {
		if dec, err := e.Decision(); err == nil && dec.Action == protocol.ActionInstall {
			downgrades = append(downgrades, dec.AllowDowngrade)
		}
	}
	if diff := cmp.Diff([]bool{true}, downgrades); diff != "" {
		t.Errorf("allowDowngrade of the logged install decisions (-want +got):\n%s", diff)
	}
	evs := waitEvents(t, ctx, sys, d.ID(), map[string]int{posApp + " InstallResult": 1})
	if diff := cmp.Diff(oneInstall(posApp), installEvents(evs, posApp)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestSignerChangeRefused: a release signed with another key than the
// installed app (pos-2.0.0-keyB over pos-1.0.0, key A) is refused by the
// package manager, reported with its reason, and the installed app stays.
func TestSignerChangeRefused(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys := startSystem(t, sandbox.Config{})
	applyYAML(t, ctx, sys, map[string]string{"pos.yaml": governed("pos-now", "shop=1", "app: com.example.pos\nmode: highPriority")})
	rel := pushReleases(t, ctx, sys, "pos-2.0.0-keyB.apk")["pos-2.0.0-keyB.apk"]
	if diff := cmp.Diff([]string{testapk.SignerB()}, rel.Artifact.SignerSHA256); diff != "" {
		t.Fatalf("release signers (-want +got):\n%s", diff)
	}
	d := startDevice(t, ctx, sys, sandbox.DeviceSpec{ID: "till-keya", Labels: map[string]string{"shop": "1"}, Installed: []string{"pos-1.0.0.apk"}})
	before := installedSHA256(t, d, posApp)

	// The sim refuses with INSTALL_FAILED_UPDATE_INCOMPATIBLE, which the
	// agent reports as SIGNER_MISMATCH.
	const reason = "SIGNER_MISMATCH"
	evs := waitEvents(t, ctx, sys, d.ID(), map[string]int{posApp + " InstallResult code=" + reason: 1})
	var results []string
	for _, e := range eventsNamed(evs, posApp, protocol.EventInstallResult) {
		results = append(results, e.Params[protocol.ParamSuccess]+" "+e.Params[protocol.ParamErrorCode])
	}
	if len(results) == 0 || results[0] != "false "+reason {
		t.Errorf("InstallResult events %v; want the first to fail with %s", results, reason)
	}
	for _, r := range results {
		if r[:4] == "true" {
			t.Errorf("an install of the other signer's APK succeeded: %v", results)
		}
	}
	waitFor(t, ctx, scenarioTimeout, "the agent reporting the refusal", func() (bool, error) {
		s, _ := appStatus(d, posApp)
		return s.LastError == reason, nil
	})

	// The installed app is untouched: same version, signer and file.
	apps, err := d.Installed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := apps[posApp]
	if diff := cmp.Diff("1.0.0 "+testapk.SignerA(), got.VersionName+" "+firstOf(got.SignerSHA256)); diff != "" {
		t.Errorf("installed app (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, installedSHA256(t, d, posApp)); diff != "" {
		t.Errorf("installed APK file (-want +got):\n%s", diff)
	}
	// The controller still decides the update; the device cannot take it.
	waitDecision(t, ctx, sys, d, posApp, "install [UPDATE_AVAILABLE] -> 2.0.0")
	waitFor(t, ctx, scenarioTimeout, "the controller seeing the refusal", func() (bool, error) {
		ex, err := sys.Client().Explain(ctx, d.ID(), posApp)
		if err != nil {
			return false, err
		}
		return ex.Status[posApp].LastError == reason, nil
	})
}

// firstOf is the first element of s, or "".
func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
