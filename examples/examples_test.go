package examples

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/apk"
	"github.com/sluice-mdm/sluice/controller"
	"github.com/sluice-mdm/sluice/internal/testapk"
	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

var update = flag.Bool("update", false, "rewrite releases/demo-apps.yaml from internal/testapk")

// published gives each demo release a publication date, so that examples
// evaluate the same way on any day.
var published = map[string]string{
	"pos-1.0.0.apk":   "2026-01-10T09:00:00Z",
	"pos-1.1.0.apk":   "2026-02-14T09:00:00Z",
	"pos-2.0.0.apk":   "2026-05-02T09:00:00Z",
	"pos-2.1.0.apk":   "2026-06-06T09:00:00Z",
	"pos-3.0.0.apk":   "2026-09-01T09:00:00Z",
	"menu-4.3.3.apk":  "2026-01-05T09:00:00Z",
	"menu-4.5.0.apk":  "2026-03-01T09:00:00Z",
	"menu-5.0.0.apk":  "2026-06-01T09:00:00Z",
	"menu-5.1.0.apk":  "2026-09-15T09:00:00Z",
	"kiosk-1.0.0.apk": "2026-01-05T09:00:00Z",
	"kiosk-2.0.0.apk": "2026-08-01T09:00:00Z",
}

const releasesFile = "releases/demo-apps.yaml"

// TestReleasesMatchTestAPKs keeps releases/demo-apps.yaml equal to what the
// real test APKs say about themselves.
func TestReleasesMatchTestAPKs(t *testing.T) {
	var b strings.Builder
	b.WriteString("# Releases of the three demo apps, read from the signed APKs in\n")
	b.WriteString("# internal/testapk/files (generated: go test ./examples -run Releases -update).\n")
	b.WriteString("# The URLs are where a controller on the default address serves them after\n")
	b.WriteString("# `sluice release push internal/testapk/files/<file>`.\n")
	n := 0
	for _, a := range testapk.All() {
		at, ok := published[a.File]
		if !ok {
			continue // key-B, minSdk-34 and large variants are for fault tests, not the catalogue
		}
		info, err := apk.Inspect(testapk.Path(t, a.File), 0)
		if err != nil {
			t.Fatalf("inspect %s: %v", a.File, err)
		}
		fmt.Fprintf(&b, `---
apiVersion: sluice.dev/v1
kind: Release
metadata:
  name: %s
spec:
  app: %s
  versionName: %s
  versionCode: %d
  track: production
  publishedAt: %s
  artifact:
    urls: [http://127.0.0.1:8080/artifacts/%s]
    sha256: %s
    size: %d
    signerSha256: [%s]
    minSdk: %d
  releaseNotes: %s %s.
`, strings.TrimSuffix(a.File, ".apk"), info.Package, info.VersionName, info.VersionCode, at,
			info.SHA256, info.SHA256, info.Size, strings.Join(info.SignerSHA256, ", "), info.MinSDK,
			strings.TrimPrefix(info.Package, "com.example."), info.VersionName)
		n++
	}
	if n != len(published) {
		t.Fatalf("found %d of the %d catalogue APKs in internal/testapk", n, len(published))
	}
	if *update {
		if err := os.WriteFile(releasesFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(releasesFile)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(b.String(), string(got)); diff != "" {
		t.Errorf("%s is stale; run go test ./examples -run Releases -update (-want +got):\n%s", releasesFile, diff)
	}
}

type outcome struct {
	Action protocol.Action
	Reason string
	Target string
	Policy string
}

// TestFleetExamples loads every example and checks that each policy does
// what its comment says on the sample devices.
func TestFleetExamples(t *testing.T) {
	set, err := manifest.LoadFiles("fleet", "releases")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := controller.CatalogFromSet(set)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eng, err := policy.NewEngine(ctx, policy.Config{Rules: set.RuleSpecs()})
	if err != nil {
		t.Fatal(err)
	}
	devices, err := manifest.LoadFiles("devices")
	if err != nil {
		t.Fatal(err)
	}
	const (
		sunday   = "2026-09-20T12:00:00Z"
		saturday = "2026-09-19T12:00:00Z"
	)
	// The rollout's stable hash picks till-berlin-01 or not; the outcome
	// follows the bucket, which a separate test pins to 50% of a fleet.
	berlinKiosk := outcome{protocol.ActionNone, protocol.ReasonNotInRollout, "", "kiosk-rollout"}
	if policy.RolloutBucket("kiosk-rollout", "till-berlin-01") < 5000 {
		berlinKiosk = outcome{protocol.ActionInstall, protocol.ReasonUpdateAvailable, "2.0.0", "kiosk-rollout"}
	}
	want := map[string]map[string]outcome{
		sunday: {
			"till-berlin-01/com.example.pos":    {protocol.ActionInstall, protocol.ReasonUpdateAvailable, "3.0.0", "pos-default"},
			"till-berlin-01/com.example.menu":   {protocol.ActionPrompt, protocol.ReasonUpdateAvailable, "5.1.0", "menu-prompt"},
			"till-berlin-01/com.example.kiosk":  berlinKiosk,
			"till-hamburg-01/com.example.pos":   {protocol.ActionInstall, protocol.ReasonUpdateAvailable, "3.0.0", "pos-high-priority"},
			"till-hamburg-01/com.example.menu":  {protocol.ActionForce, protocol.ReasonForced, "5.1.0", "menu-forced"},
			"till-hamburg-01/com.example.kiosk": {protocol.ActionInstall, protocol.ReasonUpdateAvailable, "2.0.0", "kiosk-min-client"},
			"till-munich-01/com.example.pos":    {protocol.ActionPostponed, protocol.ReasonPostponed, "3.0.0", "pos-postponed"},
			"till-munich-01/com.example.menu":   {protocol.ActionNone, protocol.ReasonExcludedVersion, "", "menu-range"},
			"till-munich-01/com.example.kiosk":  {protocol.ActionUnsupported, protocol.ReasonClientTooOld, "2.0.0", "kiosk-min-client"},
		},
		saturday: {
			"till-hamburg-01/com.example.pos":   {protocol.ActionNone, protocol.ReasonDeniedByRule, "", "pos-high-priority"},
			"till-hamburg-01/com.example.menu":  {protocol.ActionNone, protocol.ReasonDeniedByRule, "", "menu-forced"},
			"till-hamburg-01/com.example.kiosk": {protocol.ActionNone, protocol.ReasonDeniedByRule, "", "kiosk-min-client"},
			"till-berlin-01/com.example.pos":    {protocol.ActionInstall, protocol.ReasonUpdateAvailable, "3.0.0", "pos-default"},
		},
	}
	for at, cases := range want {
		when, _ := time.Parse(time.RFC3339, at)
		got := map[string]outcome{}
		for _, d := range devices.Devices {
			decisions, err := cat.DecideAll(ctx, eng, d.Spec, when)
			if err != nil {
				t.Fatal(err)
			}
			for _, dec := range decisions {
				o := outcome{Action: dec.Action, Reason: dec.Reasons[0].Code}
				if dec.Target != nil {
					o.Target = dec.Target.VersionName
				}
				if dec.Policy != nil {
					o.Policy = dec.Policy.Name
				}
				got[dec.Device+"/"+dec.App] = o
			}
		}
		for key, w := range cases {
			if diff := cmp.Diff(w, got[key]); diff != "" {
				t.Errorf("at %s, %s (-want +got):\n%s", at, key, diff)
			}
		}
	}
}

// TestRolloutShare checks that the 50% rollout picks close to half of a
// large fleet, by the same stable hash the engine uses.
func TestRolloutShare(t *testing.T) {
	in := 0
	const n = 10000
	for i := range n {
		if policy.RolloutBucket("kiosk-rollout", fmt.Sprintf("till-%05d", i)) < 5000 {
			in++
		}
	}
	if share := float64(in) / n; share < 0.48 || share > 0.52 {
		t.Errorf("rollout share %.3f, want 0.50 ± 0.02", share)
	}
}

// TestEveryExampleLoads loads each example directory on its own, so a
// broken file anywhere under examples/ fails here with its name.
func TestEveryExampleLoads(t *testing.T) {
	dirs, err := filepath.Glob("*")
	if err != nil {
		t.Fatal(err)
	}
	loaded := 0
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		t.Run(d, func(t *testing.T) {
			s, err := manifest.LoadFiles(d)
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() == 0 && d != "postponement" {
				t.Errorf("%s holds no manifest", d)
			}
			loaded++
		})
	}
	if loaded < 4 {
		t.Errorf("loaded %d example directories, want at least 4", loaded)
	}
}
