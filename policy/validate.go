package policy

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/sluice-mdm/sluice/protocol"
)

// Allowed-value descriptions shared by the checks below.
const (
	allowedPackage    = "a package name of dot-separated segments such as com.example.app"
	allowedVersion    = `a version such as "5.1.0"`
	allowedConstraint = `a semver constraint such as ">=4.3.3, <=5.0.0"`
	allowedPrefix     = `a dotted version prefix of numbers such as "5" or "5.1"`
	allowedClock      = "a local time HH:MM from 00:00 to 23:59"
	maxPostponeDays   = 3650
	maxDailyFrequency = 24
)

// Validate checks every field of the policy and returns all problems found,
// as [FieldError]s joined with errors.Join, or nil. Paths are relative to
// the policy ("mode", "prompt.button").
func (p *UpdatePolicy) Validate() error {
	var f fieldErrors
	f.packageName("app", p.App)
	seen := map[string]bool{}
	for i, pl := range p.Platforms {
		path := fmt.Sprintf("platforms[%d]", i)
		f.oneOf(path, pl, protocol.PlatformAndroid, protocol.PlatformIOS)
		if seen[pl] {
			f.problem(path, pl, "is listed twice", "")
		}
		seen[pl] = true
	}
	for i, ch := range p.Channels {
		f.checkToken(fmt.Sprintf("channels[%d]", i), ch)
	}
	if p.Track != "" {
		f.checkToken("track", p.Track)
	}
	if p.Mode != "" {
		f.oneOf("mode", string(p.Mode), string(protocol.ModeDefault), string(protocol.ModeHighPriority), string(protocol.ModePostponed))
	}
	if p.PostponeDays != 0 && (p.PostponeDays < 1 || p.PostponeDays > maxPostponeDays) {
		f.notAllowed("postponeDays", p.PostponeDays, fmt.Sprintf("between 1 and %d days", maxPostponeDays))
	}
	if e := p.Eligible; e != nil {
		if e.VersionName != "" {
			if _, err := semver.NewConstraint(e.VersionName); err != nil {
				f.notAllowed("eligible.versionName", e.VersionName, allowedConstraint)
			}
		}
		if e.MinVersionCode < 0 {
			f.notAllowed("eligible.minVersionCode", e.MinVersionCode, "a versionCode of 0 or more")
		}
		if e.MaxVersionCode < 0 {
			f.notAllowed("eligible.maxVersionCode", e.MaxVersionCode, "a versionCode of 0 or more (0: no maximum)")
		}
		if e.MaxVersionCode > 0 && e.MinVersionCode > e.MaxVersionCode {
			f.problem("eligible.minVersionCode", e.MinVersionCode,
				fmt.Sprintf("is above eligible.maxVersionCode %d", e.MaxVersionCode), "minVersionCode <= maxVersionCode")
		}
	}
	for i, v := range p.ExcludedVersions {
		f.version(fmt.Sprintf("excludedVersions[%d]", i), v)
	}
	if t := p.Target; t != nil {
		if t.Version != "" {
			f.version("target.version", t.Version)
		}
		if t.VersionPrefix != "" && !IsVersionPrefix(t.VersionPrefix) {
			f.notAllowed("target.versionPrefix", t.VersionPrefix, allowedPrefix)
		}
		if t.Version != "" && t.VersionPrefix != "" {
			f.problem("target.versionPrefix", t.VersionPrefix,
				fmt.Sprintf("is set together with target.version %q", t.Version), "only one of version, versionPrefix")
		}
		if t.AllowDowngrade && t.Version == "" && t.VersionPrefix == "" {
			f.problem("target.allowDowngrade", true, "has no pinned version to go down to", "true only with target.version or target.versionPrefix")
		}
	}
	if p.MinClientVersion != "" {
		f.version("minClientVersion", p.MinClientVersion)
	}
	if e := p.Effective; e != nil && e.Start != nil && e.End != nil && !e.Start.Before(*e.End) {
		f.problem("effective.end", *e.End, "is not after effective.start "+QuoteValue(*e.Start), "an end later than the start")
	}
	if w := p.MaintenanceWindow; w != nil {
		f.window(w)
	}
	if pr := p.Prompt; pr != nil {
		if pr.DailyFrequency < 0 || pr.DailyFrequency > maxDailyFrequency {
			f.notAllowed("prompt.dailyFrequency", pr.DailyFrequency, fmt.Sprintf("between 0 and %d times a day", maxDailyFrequency))
		}
		f.text("prompt.text", pr.Text, MaxTextLen)
		if pr.Button != "" {
			f.oneOf("prompt.button", pr.Button, ButtonUpdateApp, ButtonOpenStore)
		}
		if pr.ForceAfter != "" {
			if _, err := ParseForceAfter(pr.ForceAfter); err != nil {
				f.notAllowed("prompt.forceAfter", pr.ForceAfter, `a positive Go duration such as "36h" or a number of days such as "7d"`)
			}
		}
		if p.Force && pr.Closable {
			f.problem("prompt.closable", true, "contradicts force: true (a forced prompt cannot be closed)", "false when force is set")
		}
	}
	if r := p.Rollout; r != nil && (math.IsNaN(r.Percent) || r.Percent < 0 || r.Percent > 100) {
		f.notAllowed("rollout.percent", r.Percent, "between 0 and 100")
	}
	if p.InstallType != "" {
		f.oneOf("installType", p.InstallType, InstallUpdateOnly, InstallForceInstalled)
	}
	return f.err()
}

// Validate checks every field of the release and returns all problems
// found, as [FieldError]s joined with errors.Join, or nil. A release has an
// APK artifact, an iOS appStoreId, or both.
func (r *Release) Validate() error {
	var f fieldErrors
	f.packageName("app", r.App)
	switch {
	case r.VersionName == "":
		f.problem("versionName", nil, "is missing", "a version name such as 5.1.0")
	case len(r.VersionName) > MaxNameLen || strings.ContainsFunc(r.VersionName, isSpaceOrControl):
		f.notAllowed("versionName", r.VersionName, "a version name of at most 128 characters without spaces")
	}
	if r.VersionCode <= 0 {
		f.notAllowed("versionCode", r.VersionCode, "a positive versionCode")
	}
	if r.Track != "" {
		f.checkToken("track", r.Track)
	}
	a := r.Artifact
	hasArtifact := len(a.URLs) > 0 || a.SHA256 != "" || a.Size != 0 || len(a.SignerSHA256) > 0
	if hasArtifact || r.AppStoreID == "" {
		if len(a.URLs) == 0 {
			f.problem("artifact.urls", nil, "is missing", "one or more absolute http or https URLs (or only an appStoreId, for an iOS release)")
		}
		for i, u := range a.URLs {
			f.url(fmt.Sprintf("artifact.urls[%d]", i), u)
		}
		f.hex64("artifact.sha256", a.SHA256)
		if a.Size <= 0 {
			f.notAllowed("artifact.size", a.Size, "a positive size in bytes")
		}
	}
	for i, s := range a.SignerSHA256 {
		f.hex64(fmt.Sprintf("artifact.signerSha256[%d]", i), s)
	}
	if a.MinSDK < 0 {
		f.notAllowed("artifact.minSdk", a.MinSDK, "an SDK level of 0 or more")
	}
	f.text("releaseNotes", r.ReleaseNotes, MaxReleaseNotesLen)
	if r.AppStoreID != "" && (!isDigits(r.AppStoreID) || len(r.AppStoreID) > 20) {
		f.notAllowed("appStoreId", r.AppStoreID, "the numeric App Store id, digits only")
	}
	return f.err()
}

// Validate checks the facts known about a device and returns all problems
// found, as [FieldError]s joined with errors.Join, or nil. Labels are
// checked by package fleet, which owns the label syntax.
func (d *Device) Validate() error {
	var f fieldErrors
	var idErr *protocol.DeviceIDError
	if err := protocol.ValidateDeviceID(d.ID); errors.As(err, &idErr) {
		f.problem("id", d.ID, idErr.Reason, fmt.Sprintf("1 to %d bytes of letters, digits, '-', '_' and ':'", protocol.MaxDeviceIDLen))
	}
	f.oneOf("platform", d.Platform, protocol.PlatformAndroid, protocol.PlatformIOS)
	if d.SDK < 0 {
		f.notAllowed("sdk", d.SDK, "an SDK level of 0 or more")
	}
	if d.AgentVersion != "" {
		f.version("agentVersion", d.AgentVersion)
	}
	if d.Channel != "" {
		f.checkToken("channel", d.Channel)
	}
	if d.TimeZone != "" {
		if _, err := time.LoadLocation(d.TimeZone); err != nil || d.TimeZone == "Local" {
			f.notAllowed("timeZone", d.TimeZone, `an IANA time zone such as "Europe/Berlin"`)
		}
	}
	apps := make([]string, 0, len(d.Apps))
	for pkg := range d.Apps {
		apps = append(apps, pkg)
	}
	sort.Strings(apps)
	for _, pkg := range apps {
		app := d.Apps[pkg]
		path := "apps[" + pkg + "]"
		f.packageName(path, pkg)
		if app.VersionCode < 0 {
			f.notAllowed(path+".versionCode", app.VersionCode, "a versionCode of 0 or more")
		}
		for i, s := range app.SignerSHA256 {
			f.hex64(fmt.Sprintf("%s.signerSha256[%d]", path, i), s)
		}
	}
	if d.State.ForegroundApp != "" {
		f.packageName("state.foregroundApp", d.State.ForegroundApp)
	}
	if d.State.FreeStorage < 0 {
		f.notAllowed("state.freeStorage", d.State.FreeStorage, "a number of bytes, 0 or more")
	}
	return f.err()
}

func (f *fieldErrors) packageName(path, pkg string) {
	if pkg == "" {
		f.problem(path, nil, "is missing", allowedPackage)
		return
	}
	if protocol.ValidatePackageName(pkg) != nil {
		f.notAllowed(path, pkg, allowedPackage)
	}
}

func (f *fieldErrors) version(path, v string) {
	if _, err := semver.NewVersion(v); err != nil {
		f.notAllowed(path, v, allowedVersion)
	}
}

func (f *fieldErrors) url(path, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsFunc(s, isSpaceOrControl) {
		f.notAllowed(path, s, "an absolute http or https URL")
	}
}

func (f *fieldErrors) window(w *protocol.MaintenanceWindow) {
	start, errStart := ParseClock(w.Start)
	end, errEnd := ParseClock(w.End)
	switch {
	case w.Start == "":
		f.problem("maintenanceWindow.start", nil, "is missing", allowedClock)
	case errStart != nil:
		f.notAllowed("maintenanceWindow.start", w.Start, allowedClock)
	}
	switch {
	case w.End == "":
		f.problem("maintenanceWindow.end", nil, "is missing", allowedClock)
	case errEnd != nil:
		f.notAllowed("maintenanceWindow.end", w.End, allowedClock)
	}
	if errStart == nil && errEnd == nil && start == end {
		f.problem("maintenanceWindow.end", w.End, "equals maintenanceWindow.start (an empty window)",
			"an end different from the start; an end before the start wraps midnight")
	}
}

func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f || r == 0x85 || r == 0xa0 || r == 0x2028 || r == 0x2029
}
