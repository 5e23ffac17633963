package manifest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

func ptr[T any](v T) *T { return &v }

// goodSet is what testdata/good loads to.
func goodSet(dir string) *Set {
	file := func(name string) string { return filepath.Join(dir, name) }
	return &Set{
		Releases: []Release{
			{
				Meta:   Meta{Name: "pos-5.0.0", Labels: map[string]string{"team": "payments"}},
				Source: Source{File: file("releases.yaml"), Document: 1, Documents: 2},
				Spec: policy.Release{
					App: "com.example.pos", VersionName: "5.0.0", VersionCode: 500, Track: "production",
					PublishedAt: time.Date(2025, 5, 2, 9, 0, 0, 0, time.UTC),
					Artifact: protocol.Artifact{
						URLs:         []string{"https://cdn.example.com/pos-5.0.0.apk", "https://mirror.example.com/pos-5.0.0.apk"},
						SHA256:       "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
						Size:         10485760,
						SignerSHA256: []string{"a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3"},
						MinSDK:       24,
					},
					ReleaseNotes: "Faster checkout.\nFixes receipts.\n",
				},
			},
			{
				Meta:   Meta{Name: "pos-5.1.0", Annotations: map[string]string{"example.com/ticket": "POS-1234"}},
				Source: Source{File: file("releases.yaml"), Document: 2, Documents: 2},
				Spec: policy.Release{
					App: "com.example.pos", VersionName: "5.1", VersionCode: 510,
					PublishedAt: time.Date(2025, 6, 6, 0, 0, 0, 0, time.UTC),
					Artifact: protocol.Artifact{
						URLs:   []string{"https://cdn.example.com/pos-5.1.0.apk"},
						SHA256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
						Size:   10500000,
					},
					AppStoreID: "1234567890",
				},
			},
		},
		Policies: []Policy{{
			Meta:   Meta{Name: "pos-stable"},
			Source: Source{File: file("policy.yaml"), Document: 1, Documents: 1},
			Spec: policy.UpdatePolicy{
				App:               "com.example.pos",
				Platforms:         []string{"android"},
				Channels:          []string{"stable"},
				Mode:              protocol.ModePostponed,
				PostponeDays:      90,
				Eligible:          &policy.Eligible{VersionName: ">=4.3.3, <=5.0.0", MinVersionCode: 400},
				ExcludedVersions:  []string{"4.9.1"},
				Target:            &policy.TargetSpec{VersionPrefix: "5"},
				MinClientVersion:  "1.2.0",
				Effective:         &policy.Effective{Start: ptr(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))},
				Constraints:       &policy.ConstraintOverrides{Charging: ptr(false)},
				MaintenanceWindow: &protocol.MaintenanceWindow{Start: "22:00", End: "05:00"},
				Prompt:            &policy.PromptSpec{Closable: true, DailyFrequency: 2, Text: "A new version is ready.", Button: "updateApp", ForceAfter: "7d"},
				Rollout:           &policy.RolloutSpec{Percent: 25},
				InstallType:       "updateOnly",
			},
		}},
		Groups: []Group{{
			Meta:   Meta{Name: "berlin"},
			Source: Source{File: file("groups.json"), Document: 1, Documents: 1},
			Spec:   fleet.DeviceGroup{Name: "berlin", Selector: "store=berlin-01,model in (P2,V2)", Members: []string{"pos-0001"}},
		}},
		Assignments: []Assignment{{
			Meta:   Meta{Name: "pos-berlin"},
			Source: Source{File: file("assignments.yml"), Document: 1, Documents: 1},
			Spec:   fleet.Assignment{Name: "pos-berlin", Policy: "pos-stable", App: "com.example.pos", Groups: []string{"berlin"}, Priority: 10},
		}},
		Devices: []Device{{
			Meta:   Meta{Name: "pos-0001"},
			Source: Source{File: file("device.yaml"), Document: 1, Documents: 1},
			Spec: policy.Device{
				ID:           "pos-0001",
				Labels:       map[string]string{"store": "berlin-01", "model": "P2"},
				Platform:     "android",
				SDK:          30,
				AgentVersion: "1.4.0",
				Channel:      "stable",
				TimeZone:     "Europe/Berlin",
				Apps: map[string]protocol.InstalledApp{
					"com.example.pos": {VersionName: "4.9.0", VersionCode: 490, UpdatedAt: time.Date(2025, 4, 1, 8, 0, 0, 0, time.UTC)},
				},
				State:      protocol.DeviceState{Unmetered: true, Charging: true},
				EnrolledAt: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
			},
		}},
		Rules: []Rule{{
			Meta:   Meta{Name: "deny-weekends"},
			Source: Source{File: file("deny-weekends.rego"), Document: 1, Documents: 1},
			Spec: policy.Rule{Name: "deny-weekends", Module: "package sluice.rules\n\ndeny contains msg if {\n" +
				"\tinput.now.weekday in {\"Saturday\", \"Sunday\"}\n\tmsg := \"no updates at weekends\"\n}\n"},
		}},
	}
}

func TestLoadFilesDirectory(t *testing.T) {
	dir := filepath.Join("testdata", "good")
	got, err := LoadFiles(dir)
	if err != nil {
		t.Fatalf("LoadFiles(%s): %v", dir, err)
	}
	if diff := cmp.Diff(goodSet(dir), got); diff != "" {
		t.Errorf("LoadFiles(%s) mismatch (-want +got):\n%s", dir, diff)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}
}

func TestLoadFilesFilesAndDirsTogether(t *testing.T) {
	// Files named one by one load like the directory; a file named
	// explicitly is read whatever its extension.
	dir := filepath.Join("testdata", "good")
	tmp := t.TempDir()
	data, err := os.ReadFile(filepath.Join(dir, "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	policyFile := filepath.Join(tmp, "policy.manifest")
	if err := os.WriteFile(policyFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadFiles(filepath.Join(dir, "releases.yaml"), policyFile)
	if err != nil {
		t.Fatalf("LoadFiles: %v", err)
	}
	want := goodSet(dir)
	want.Policies[0].Source.File = policyFile
	want = &Set{Releases: want.Releases, Policies: want.Policies}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadFiles mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadFilesMissingPath(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := LoadFiles(missing)
	want := "manifest: stat " + missing + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("LoadFiles(%s) error = %v, want %q", missing, err, want)
	}
}

func TestParseEmpty(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{name: "empty file", data: ""},
		{name: "only separators and comments", data: "---\n# nothing\n---\n\n---\n"},
		{name: "null document", data: "null\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("empty.yaml", []byte(tt.data))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(&Set{}, got); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
