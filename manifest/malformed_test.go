package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMalformed loads each file of testdata/bad (with Parse, then
// Set.Validate when it parses) and checks every error line exactly: file,
// document, object, field path, bad value and what is allowed.
func TestMalformed(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{file: "Broken_Syntax.rego", want: []string{
			`Broken_Syntax.rego: Rule "Broken_Syntax": file name "Broken_Syntax.rego" is not a Rule name before .rego: 1 to 253 lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
			`Broken_Syntax.rego: Rule "Broken_Syntax": does not parse: line 5, column 1: rego_parse_error: unexpected } token; allowed: a Rego module in package sluice.rules`,
		}},
		{file: "bad-assignment.yaml", want: []string{
			`bad-assignment.yaml: Assignment "pos-berlin": spec.priority: "high" is not a number`,
			`bad-assignment.yaml: Assignment "pos-berlin": spec.policy: is missing; allowed: the name of an UpdatePolicy`,
			`bad-assignment.yaml: Assignment "pos-berlin": spec.groups: is missing; allowed: a list of one or more DeviceGroup names`,
		}},
		{file: "bad-constraint.yaml", want: []string{
			`bad-constraint.yaml: UpdatePolicy "pos-stable": spec.eligible.versionName: ">= 4.x, <<5" is not a semver constraint such as ">=4.3.3, <=5.0.0"`,
		}},
		{file: "bad-device.yaml", want: []string{
			`bad-device.yaml: Device "pos.0001": metadata.name: "pos.0001" has '.' at byte 3; allowed: a device id of 1 to 128 bytes of letters, digits, '-', '_' and ':'`,
			`bad-device.yaml: Device "pos.0001": spec.id: cannot be set here: the device id is metadata.name; allowed: agentVersion, apps, channel, enrolledAt, labels, lastSeen, platform, sdk, state, timeZone`,
			`bad-device.yaml: Device "pos.0001": spec.platform: "windows" is not one of android, ios`,
			`bad-device.yaml: Device "pos.0001": spec.timeZone: "Mars/Olympus" is not an IANA time zone such as "Europe/Berlin"`,
			`bad-device.yaml: Device "pos.0001": spec.apps[pos]: "pos" is not a package name of dot-separated segments such as com.example.app`,
			`bad-device.yaml: Device "pos.0001": spec.apps[pos].versionCode: -5 is not a versionCode of 0 or more`,
			`bad-device.yaml: Device "pos.0001": spec.labels[store]: "berlin 01" has ' ' at byte 6; allowed: a label value of up to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
		}},
		{file: "bad-group.yaml", want: []string{
			`bad-group.yaml: DeviceGroup "berlin": metadata.labels[-bad]: key "-bad" has a name that has '-' at byte 0, where a letter or digit is needed; allowed: an optional DNS prefix and '/', then 1 to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
			`bad-group.yaml: DeviceGroup "berlin": spec.selector: "store in (berlin-01" at column 20: found end of input; allowed: ',' or ')'`,
			`bad-group.yaml: DeviceGroup "berlin": spec.members[1]: "pos 2" has ' ' at byte 3; allowed: a device id of 1 to 128 bytes of letters, digits, '-', '_' and ':'`,
			`bad-group.yaml: DeviceGroup "berlin": spec.members[2]: "pos-0001" is listed twice; allowed: each member once`,
		}},
		{file: "bad-install-type.yaml", want: []string{
			`bad-install-type.yaml: UpdatePolicy "pos-stable": spec.installType: "always" is not one of updateOnly, forceInstalled`,
		}},
		{file: "bad-name.yaml", want: []string{
			`bad-name.yaml: UpdatePolicy "Pos_Stable!": metadata.name: "Pos_Stable!" is not 1 to 253 lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
		}},
		{file: "bad-numbers.yaml", want: []string{
			`bad-numbers.yaml: UpdatePolicy "pos-stable": spec.eligible.minVersionCode: 99999999999999999999 is out of range; allowed: a whole number that fits in 64 bits`,
			`bad-numbers.yaml: UpdatePolicy "pos-stable": spec.eligible.maxVersionCode: 5.5 is not a whole number`,
		}},
		{file: "bad-prefix.yaml", want: []string{
			`bad-prefix.yaml: UpdatePolicy "pos-stable": spec.target.versionPrefix: "5.x" is not a dotted version prefix of numbers such as "5" or "5.1"`,
		}},
		{file: "bad-release.yaml", want: []string{
			`bad-release.yaml: Release "pos-5.1.0": spec.versionCode: 0 is not a positive versionCode`,
			`bad-release.yaml: Release "pos-5.1.0": spec.artifact.urls[0]: "ftp://files.example.com/pos.apk" is not an absolute http or https URL`,
			`bad-release.yaml: Release "pos-5.1.0": spec.artifact.sha256: "2C26B46B68FFC68FF99B453C1D30413413422D706483BFA0F98A5E886266E7AE" is not 64 lowercase hex digits (a SHA-256)`,
			`bad-release.yaml: Release "pos-5.1.0": spec.artifact.minSdk: -1 is not an SDK level of 0 or more`,
			`bad-release.yaml: Release "pos-5.1.0": spec.appStoreId: "id123" is not the numeric App Store id, digits only`,
		}},
		{file: "bad-rule.yaml", want: []string{
			`bad-rule.yaml: Rule "no-module": spec.module: is missing; allowed: a Rego module in package sluice.rules`,
		}},
		{file: "bad-time.yaml", want: []string{
			`bad-time.yaml: UpdatePolicy "pos-stable": spec.effective.start: "next monday" is not an RFC 3339 time such as 2025-05-02T09:00:00Z, or a date such as 2025-05-02`,
		}},
		{file: "bad-window.yaml", want: []string{
			`bad-window.yaml: UpdatePolicy "pos-stable": spec.maintenanceWindow.start: "25:00" is not a local time HH:MM from 00:00 to 23:59`,
		}},
		{file: "bad.json", want: []string{
			`bad.json: UpdatePolicy "pos-json": spec.rollout.percent: "50" is not a number`,
			`bad.json: UpdatePolicy "pos-json": spec.postponeDays: 1.5 is not a whole number`,
			`bad.json: UpdatePolicy "pos-json": spec.Mode: unknown field; allowed: app, channels, constraints, effective, eligible, excludedVersions, force, installType, maintenanceWindow, minClientVersion, mode, platforms, postponeDays, prompt, rollout, target, track`,
		}},
		{file: "broken.json", want: []string{
			`broken.json: yaml: line 5: did not find expected ',' or '}'`,
		}},
		{file: "crlf.yaml", want: []string{
			`crlf.yaml: UpdatePolicy "crlf": spec.mode: "fast" is not one of default, highPriority, postponed`,
		}},
		{file: "duplicate-field.yaml", want: []string{
			`duplicate-field.yaml: UpdatePolicy "pos-stable": spec.mode: is given twice; allowed: each field once`,
		}},
		{file: "duplicate-names.yaml", want: []string{
			`duplicate-names.yaml (document 3): UpdatePolicy "pos-stable": metadata.name: "pos-stable" is already defined in duplicate-names.yaml (document 1); allowed: one UpdatePolicy per name`,
		}},
		{file: "effective-order.yaml", want: []string{
			`effective-order.yaml: UpdatePolicy "pos-stable": spec.effective.end: 2025-05-01T00:00:00Z is not after effective.start 2025-06-01T00:00:00Z; allowed: an end later than the start`,
		}},
		{file: "equal-window.yaml", want: []string{
			`equal-window.yaml: UpdatePolicy "pos-stable": spec.maintenanceWindow.end: "22:00" equals maintenanceWindow.start (an empty window); allowed: an end different from the start; an end before the start wraps midnight`,
		}},
		{file: "force-closable.yaml", want: []string{
			`force-closable.yaml: UpdatePolicy "pos-stable": spec.prompt.closable: true contradicts force: true (a forced prompt cannot be closed); allowed: false when force is set`,
		}},
		{file: "inline-document.yaml", want: []string{
			`inline-document.yaml: yaml: line 5: a second document starts here; put --- on a line of its own between documents`,
		}},
		{file: "many-errors.yaml", want: []string{
			`many-errors.yaml: UpdatePolicy "pos-stable": spec.mode: "fast" is not one of default, highPriority, postponed`,
			`many-errors.yaml: UpdatePolicy "pos-stable": spec.postponeDays: 2147483647 is not between 1 and 3650 days`,
			`many-errors.yaml: UpdatePolicy "pos-stable": spec.excludedVersions[1]: "four" is not a version such as "5.1.0"`,
			`many-errors.yaml: UpdatePolicy "pos-stable": spec.target.versionPrefix: "5" is set together with target.version "5.0.0"; allowed: only one of version, versionPrefix`,
			`many-errors.yaml: UpdatePolicy "pos-stable": spec.prompt.dailyFrequency: 30 is not between 0 and 24 times a day`,
			`many-errors.yaml: UpdatePolicy "pos-stable": spec.prompt.button: "later" is not one of updateApp, openStore`,
			`many-errors.yaml: UpdatePolicy "pos-stable": spec.prompt.forceAfter: "soon" is not a positive Go duration such as "36h" or a number of days such as "7d"`,
		}},
		{file: "missing-apiversion.yaml", want: []string{
			`missing-apiversion.yaml: UpdatePolicy "pos-stable": apiVersion: is missing; allowed: sluice.dev/v1`,
		}},
		{file: "missing-name.yaml", want: []string{
			`missing-name.yaml: UpdatePolicy: metadata.name: is missing; allowed: 1 to 253 lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
		}},
		{file: "missing-refs.yaml", want: []string{
			`missing-refs.yaml (document 3): Assignment "pos-berlin": spec.policy: "pos-stabel" is not a known UpdatePolicy; allowed: one of pos-stable`,
			`missing-refs.yaml (document 3): Assignment "pos-berlin": spec.groups[1]: "munich" is not a known DeviceGroup; allowed: one of berlin`,
		}},
		{file: "missing-spec.yaml", want: []string{
			`missing-spec.yaml: UpdatePolicy "pos-stable": spec: is missing; allowed: a mapping with fields app, channels, constraints, effective, eligible, excludedVersions, force, installType, maintenanceWindow, minClientVersion, mode, platforms, postponeDays, prompt, rollout, target, track`,
		}},
		{file: "not-a-mapping.yaml", want: []string{
			`not-a-mapping.yaml: a list is not a manifest: a mapping with fields apiVersion, kind, metadata, spec`,
		}},
		{file: "not-utf8.yaml", want: []string{
			`not-utf8.yaml: is not UTF-8 text (invalid byte at offset 120)`,
		}},
		{file: "policy.yaml", want: []string{
			`policy.yaml: UpdatePolicy "pos-stable": spec.mode: "fast" is not one of default, highPriority, postponed`,
		}},
		{file: "rollout-150.yaml", want: []string{
			`rollout-150.yaml: UpdatePolicy "pos-stable": spec.rollout.percent: 150 is not between 0 and 100`,
		}},
		{file: "syntax-error.yaml", want: []string{
			`syntax-error.yaml (document 2): yaml: line 14: mapping values are not allowed in this context`,
		}},
		{file: "tie.yaml", want: []string{
			`tie.yaml (document 6): Assignment "fast-p2": spec.priority: 10 ties with Assignment "stable-berlin" in tie.yaml (document 5) for app com.example.pos: the selectors of groups "p2" (model=P2) and "berlin" (store=berlin-01) can match the same device; allowed: a priority other than 10, or groups that cannot share a device`,
		}},
		{file: "unknown-kind.yaml", want: []string{
			`unknown-kind.yaml: kind: "Policy" is not one of Release, UpdatePolicy, DeviceGroup, Assignment, Device, Rule`,
		}},
		{file: "unknown-nested-field.yaml", want: []string{
			`unknown-nested-field.yaml: UpdatePolicy "pos-stable": spec.prompt.closabel: unknown field; allowed: button, closable, dailyFrequency, forceAfter, text`,
		}},
		{file: "unknown-spec-field.yaml", want: []string{
			`unknown-spec-field.yaml: UpdatePolicy "pos-stable": spec.modes: unknown field; allowed: app, channels, constraints, effective, eligible, excludedVersions, force, installType, maintenanceWindow, minClientVersion, mode, platforms, postponeDays, prompt, rollout, target, track`,
		}},
		{file: "unknown-top-field.yaml", want: []string{
			`unknown-top-field.yaml: UpdatePolicy "pos-stable": status: unknown field; allowed: apiVersion, kind, metadata, spec`,
		}},
		{file: "version-code-dup.yaml", want: []string{
			`version-code-dup.yaml (document 2): Release "pos-5.1.0-again": spec.versionCode: 510 is already used for com.example.pos by Release "pos-5.1.0" in version-code-dup.yaml (document 1); allowed: one release per app and versionCode`,
		}},
		{file: "wrong-apiversion.yaml", want: []string{
			`wrong-apiversion.yaml: UpdatePolicy "pos-stable": apiVersion: "v1" is not sluice.dev/v1`,
		}},
		{file: "wrong-package.rego", want: []string{
			`wrong-package.rego: Rule "wrong-package": declares package sluice.custom; allowed: a Rego module in package sluice.rules`,
		}},
		{file: "wrong-type-bool.yaml", want: []string{
			`wrong-type-bool.yaml: UpdatePolicy "pos-stable": spec.prompt.closable: "yes" is not a boolean (true or false)`,
			`wrong-type-bool.yaml: UpdatePolicy "pos-stable": spec.platforms[1]: a mapping is not a string`,
		}},
		{file: "wrong-type-list.yaml", want: []string{
			`wrong-type-list.yaml: UpdatePolicy "pos-stable": spec.platforms: "android" is not a list`,
		}},
		{file: "wrong-type-percent.yaml", want: []string{
			`wrong-type-percent.yaml: UpdatePolicy "pos-stable": spec.rollout.percent: "half" is not a number`,
		}},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*"))
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, tt := range tests {
		tested[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "bad", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(tt.file, data)
			if err == nil {
				err = s.Validate()
			} else if s != nil {
				t.Errorf("Parse returned a Set with its errors; want nil")
			}
			if err == nil {
				t.Fatalf("no error; want %q", tt.want)
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false")
			}
			if got := len(Errors(err)); got != len(tt.want) {
				t.Errorf("Errors(err) has %d errors, want %d", got, len(tt.want))
			}
		})
	}
	for _, f := range files {
		if !tested[filepath.Base(f)] {
			t.Errorf("%s has no test case", f)
		}
	}
}
