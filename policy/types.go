package policy

import (
	"time"

	"github.com/sluice-mdm/sluice/protocol"
)

// APIVersion is the apiVersion of every Sluice manifest.
const APIVersion = "sluice.dev/v1"

// Manifest kinds.
const (
	KindRelease      = "Release"
	KindUpdatePolicy = "UpdatePolicy"
	KindDeviceGroup  = "DeviceGroup"
	KindAssignment   = "Assignment"
	KindDevice       = "Device"
	KindRule         = "Rule"
)

// Decision is the engine's answer for one device and app. It is the wire
// type, so that what the engine decides is exactly what the device receives.
type Decision = protocol.Decision

// Release is one immutable version of one app. Package, versions, minSdk and
// signer come from the APK itself at admission.
type Release struct {
	App          string            `json:"app"`
	VersionName  string            `json:"versionName"`
	VersionCode  int64             `json:"versionCode"`
	Track        string            `json:"track,omitempty"`
	PublishedAt  time.Time         `json:"publishedAt"`
	Artifact     protocol.Artifact `json:"artifact"`
	ReleaseNotes string            `json:"releaseNotes,omitempty"`
	// AppStoreID is the iOS App Store id, for storeRedirect decisions.
	AppStoreID string `json:"appStoreId,omitempty"`
}

// DefaultTrack is the track of a release or policy that names none.
const DefaultTrack = "production"

// DefaultPostponeDays is how long postponed mode waits unless a policy says.
const DefaultPostponeDays = 90

// Install types.
const (
	InstallUpdateOnly     = "updateOnly"
	InstallForceInstalled = "forceInstalled"
)

// Prompt buttons.
const (
	ButtonUpdateApp = "updateApp"
	ButtonOpenStore = "openStore"
)

// UpdatePolicy says how one app is updated on the devices it is assigned to.
// Zero values mean: every platform, every channel, the default track,
// default mode, every installed version eligible, the latest release as
// target, no client minimum, always effective, all default-mode constraints,
// no maintenance window, silent install, 100% rollout, updateOnly.
type UpdatePolicy struct {
	App string `json:"app"`
	// Platforms limits the policy to android and/or ios devices.
	Platforms []string `json:"platforms,omitempty"`
	// Channels limits the policy to devices on these channels.
	Channels []string `json:"channels,omitempty"`
	// Track is the release track targets come from.
	Track string        `json:"track,omitempty"`
	Mode  protocol.Mode `json:"mode,omitempty"`
	// PostponeDays is the postponement period of postponed mode (90 if 0).
	PostponeDays     int                  `json:"postponeDays,omitempty"`
	Eligible         *Eligible            `json:"eligible,omitempty"`
	ExcludedVersions []string             `json:"excludedVersions,omitempty"`
	Target           *TargetSpec          `json:"target,omitempty"`
	MinClientVersion string               `json:"minClientVersion,omitempty"`
	Effective        *Effective           `json:"effective,omitempty"`
	Constraints      *ConstraintOverrides `json:"constraints,omitempty"`
	// MaintenanceWindow limits default-mode installs to a daily local window.
	MaintenanceWindow *protocol.MaintenanceWindow `json:"maintenanceWindow,omitempty"`
	Prompt            *PromptSpec                 `json:"prompt,omitempty"`
	// Force makes the update a prompt the user cannot dismiss.
	Force       bool         `json:"force,omitempty"`
	Rollout     *RolloutSpec `json:"rollout,omitempty"`
	InstallType string       `json:"installType,omitempty"`
}

// Eligible limits which installed versions a policy updates.
type Eligible struct {
	// VersionName is a semver constraint on the installed versionName, such
	// as ">=4.3.3, <=5.0.0".
	VersionName    string `json:"versionName,omitempty"`
	MinVersionCode int64  `json:"minVersionCode,omitempty"`
	MaxVersionCode int64  `json:"maxVersionCode,omitempty"`
}

// TargetSpec chooses the version to move to. With neither Version nor
// VersionPrefix set, the target is the latest eligible release on the track.
type TargetSpec struct {
	// Version pins one exact versionName.
	Version string `json:"version,omitempty"`
	// VersionPrefix picks the latest release whose versionName starts with
	// this dotted prefix ("5.1" matches 5.1.0 and 5.1.7, not 5.10.0).
	VersionPrefix string `json:"versionPrefix,omitempty"`
	// AllowDowngrade lets a pinned lower version replace a higher one.
	AllowDowngrade bool `json:"allowDowngrade,omitempty"`
}

// Effective bounds when a policy applies. A zero bound is open.
type Effective struct {
	Start *time.Time `json:"start,omitempty"`
	End   *time.Time `json:"end,omitempty"`
}

// ConstraintOverrides relaxes default mode's constraints. A nil field keeps
// the default (required); false lifts that constraint.
type ConstraintOverrides struct {
	UnmeteredNetwork *bool `json:"unmeteredNetwork,omitempty"`
	Charging         *bool `json:"charging,omitempty"`
	Idle             *bool `json:"idle,omitempty"`
	NotForeground    *bool `json:"notForeground,omitempty"`
}

// PromptSpec turns a silent install into a user-facing prompt.
type PromptSpec struct {
	Closable bool `json:"closable"`
	// DailyFrequency is how often per device-local day a closed prompt may
	// show again (1 if 0).
	DailyFrequency int    `json:"dailyFrequency,omitempty"`
	Text           string `json:"text,omitempty"`
	// Button is updateApp (the default) or openStore.
	Button string `json:"button,omitempty"`
	// ForceAfter is how long after the target's publication a closable
	// prompt becomes forced, as a Go duration or a number of days ("7d").
	ForceAfter string `json:"forceAfter,omitempty"`
}

// RolloutSpec limits an update to a stable share of devices.
type RolloutSpec struct {
	// Percent of devices, 0 to 100, chosen by a stable hash of device id and
	// policy name.
	Percent float64 `json:"percent"`
}

// Device is what the decision engine knows about one device: identity,
// labels, platform, installed apps and last sensed state.
type Device struct {
	ID           string                           `json:"id"`
	Labels       map[string]string                `json:"labels,omitempty"`
	Platform     string                           `json:"platform"`
	SDK          int                              `json:"sdk,omitempty"`
	AgentVersion string                           `json:"agentVersion,omitempty"`
	Channel      string                           `json:"channel,omitempty"`
	TimeZone     string                           `json:"timeZone,omitempty"`
	Apps         map[string]protocol.InstalledApp `json:"apps,omitempty"`
	State        protocol.DeviceState             `json:"state"`
	// EnrolledAt is when the device first reported; it starts the
	// postponement clock of an app already out of date at enrolment when the
	// app's own update time is unknown.
	EnrolledAt time.Time `json:"enrolledAt,omitzero"`
	LastSeen   time.Time `json:"lastSeen,omitzero"`
}

// Rule is an admin's own Rego module (package sluice.rules) that may deny
// updates: each deny message becomes a DENIED_BY_RULE reason.
type Rule struct {
	// Name identifies the module in errors (a file name or manifest name).
	Name   string `json:"name"`
	Module string `json:"module"`
}
