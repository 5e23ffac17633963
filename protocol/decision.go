package protocol

import "time"

// Action is what a device should do about one app.
type Action string

// Actions of a [Decision].
const (
	ActionNone          Action = "none"          // nothing to do; Reasons say why
	ActionInstall       Action = "install"       // install Target silently when Constraints, MaintenanceWindow and NotBefore allow
	ActionPostponed     Action = "postponed"     // an update exists but waits until NotBefore
	ActionPrompt        Action = "prompt"        // the app shows a closable update prompt
	ActionForce         Action = "force"         // the app shows a prompt that cannot be dismissed
	ActionStoreRedirect Action = "storeRedirect" // iOS: send the user to the App Store
	ActionUnsupported   Action = "unsupported"   // the device cannot receive this update automatically (e.g. CLIENT_TOO_OLD)
)

// Mode is an UpdatePolicy's auto-update mode.
type Mode string

// Auto-update modes.
const (
	ModeDefault      Mode = "default"
	ModeHighPriority Mode = "highPriority"
	ModePostponed    Mode = "postponed"
)

// Reason codes. A decision always carries at least one.
const (
	ReasonNoPolicy               = "NO_POLICY"
	ReasonOutsideEffectiveWindow = "OUTSIDE_EFFECTIVE_WINDOW"
	ReasonPlatformMismatch       = "PLATFORM_MISMATCH"
	ReasonChannelMismatch        = "CHANNEL_MISMATCH"
	ReasonClientTooOld           = "CLIENT_TOO_OLD"
	ReasonNotInEligibleRange     = "NOT_IN_ELIGIBLE_RANGE"
	ReasonExcludedVersion        = "EXCLUDED_VERSION"
	ReasonNotInstalled           = "NOT_INSTALLED"
	ReasonUpToDate               = "UP_TO_DATE"
	ReasonNoNewerRelease         = "NO_NEWER_RELEASE"
	ReasonNotInRollout           = "NOT_IN_ROLLOUT"
	ReasonPostponed              = "POSTPONED"
	ReasonDeniedByRule           = "DENIED_BY_RULE"
	ReasonUpdateAvailable        = "UPDATE_AVAILABLE"
	ReasonForced                 = "FORCED"
	ReasonSDKTooOld              = "SDK_TOO_OLD"
	ReasonAmbiguousAssignment    = "AMBIGUOUS_ASSIGNMENT"
)

// Decision is the controller's answer for one device and one app, produced
// by the decision engine and carried to the device inside a [Directive].
type Decision struct {
	DecisionID        string             `json:"decisionId"`
	Device            string             `json:"device"`
	App               string             `json:"app"`
	Action            Action             `json:"action"`
	Target            *Target            `json:"target,omitempty"`
	Mode              Mode               `json:"mode,omitempty"`
	NotBefore         *time.Time         `json:"notBefore,omitempty"`
	Constraints       *Constraints       `json:"constraints,omitempty"`
	MaintenanceWindow *MaintenanceWindow `json:"maintenanceWindow,omitempty"`
	Prompt            *Prompt            `json:"prompt,omitempty"`
	// InstallType is "updateOnly" (the default: only apps already installed
	// are updated) or "forceInstalled" (installed even when absent).
	InstallType string `json:"installType,omitempty"`
	// AllowDowngrade is set only when the policy pins a lower version and
	// explicitly allows going down to it.
	AllowDowngrade bool       `json:"allowDowngrade,omitempty"`
	Reasons        []Reason   `json:"reasons"`
	Policy         *PolicyRef `json:"policy,omitempty"`
	EvaluatedAt    time.Time  `json:"evaluatedAt"`
}

// Target is the version a decision moves an app to.
type Target struct {
	VersionName  string    `json:"versionName"`
	VersionCode  int64     `json:"versionCode"`
	Artifact     *Artifact `json:"artifact,omitempty"`
	ReleaseNotes string    `json:"releaseNotes,omitempty"`
	// AppStoreID is the numeric iOS App Store id, for storeRedirect.
	AppStoreID string `json:"appStoreId,omitempty"`
}

// Artifact says where an APK can be fetched and what it must be.
type Artifact struct {
	// URLs lists the primary location first, then mirrors.
	URLs   []string `json:"urls"`
	SHA256 string   `json:"sha256"`
	Size   int64    `json:"size"`
	// SignerSHA256 holds the SHA-256 fingerprints (lowercase hex) of the
	// APK's signing certificates.
	SignerSHA256 []string `json:"signerSha256"`
	MinSDK       int      `json:"minSdk"`
}

// Constraints are the device conditions a silent install waits for. A true
// field means the condition must hold.
type Constraints struct {
	UnmeteredNetwork bool `json:"unmeteredNetwork"`
	Charging         bool `json:"charging"`
	Idle             bool `json:"idle"`
	NotForeground    bool `json:"notForeground"`
}

// MaintenanceWindow is a daily window in the device's local time, "HH:MM"
// to "HH:MM"; End before Start means the window wraps midnight.
type MaintenanceWindow struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Prompt configures a user-facing update prompt.
type Prompt struct {
	Closable bool `json:"closable"`
	// DailyFrequency is how many times a closable prompt may show per
	// device-local day; 0 means once.
	DailyFrequency int    `json:"dailyFrequency,omitempty"`
	Text           string `json:"text,omitempty"`
	// Button is "updateApp" or "openStore".
	Button string `json:"button,omitempty"`
	// ForceAfter is when a closable prompt turns into a forced one.
	ForceAfter *time.Time `json:"forceAfter,omitempty"`
	// StoreURL and WebURL are set for storeRedirect decisions.
	StoreURL string `json:"storeUrl,omitempty"`
	WebURL   string `json:"webUrl,omitempty"`
}

// Reason explains a decision: a stable code for machines and a sentence a
// support person can read to a merchant.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// PolicyRef names the policy, and its revision, that produced a decision.
type PolicyRef struct {
	Name     string `json:"name"`
	Revision uint64 `json:"revision"`
}
