package state

import (
	"fmt"
	"time"

	"github.com/sluice-mdm/sluice/protocol"
)

// Do is what the agent should do about one app now.
type Do string

// Outcomes of [Evaluate].
const (
	DoNothing Do = "nothing" // no update to make (Reason says why)
	DoWait    Do = "wait"    // an update waits for WaitingFor
	DoInstall Do = "install" // download, verify and install Target now
	DoPrompt  Do = "prompt"  // nothing silent: the app asks the user through the prompt API
	DoFailed  Do = "failed"  // the retry budget is spent or the decision cannot be carried out
)

// WaitingRetry is the waiting code of an update that waits for its next
// retry after a failure.
const WaitingRetry = "RETRY_BACKOFF"

// Reasons carried in [Result.Reason] when nothing is to be done or the
// update failed.
const (
	ReasonNoTarget      = "NO_TARGET"
	ReasonUpToDate      = protocol.ReasonUpToDate
	ReasonNotInstalled  = protocol.ReasonNotInstalled
	ReasonDowngrade     = "VERSION_DOWNGRADE"
	ReasonBadWindow     = "BAD_MAINTENANCE_WINDOW"
	ReasonUnknownAction = "UNKNOWN_ACTION"
)

// Installer modes (protocol.Decision.InstallType).
const (
	InstallUpdateOnly     = "updateOnly"
	InstallForceInstalled = "forceInstalled"
)

// DefaultRetryBudget is how many failed attempts one decision gets before
// the app is FAILED until the decision changes.
const DefaultRetryBudget = 5

// Default backoff between failed attempts: RetryBase, doubled per failure,
// at most RetryMax.
const (
	RetryBase = 30 * time.Second
	RetryMax  = 30 * time.Minute
)

// Retry records failed attempts at one decision for one app.
type Retry struct {
	DecisionID  string    `json:"decisionId"`
	TargetCode  int64     `json:"targetVersionCode"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"lastError,omitempty"`
	LastAttempt time.Time `json:"lastAttempt,omitzero"`
}

// Matches reports whether r counts attempts at dec (same decision id and
// target). A record for another decision no longer applies.
func (r Retry) Matches(dec protocol.Decision) bool {
	if r.Attempts == 0 || dec.Target == nil {
		return false
	}
	return r.DecisionID == dec.DecisionID && r.TargetCode == dec.Target.VersionCode
}

// Failed returns r after one more failed attempt at dec with code, starting
// a fresh record if r was about another decision.
func (r Retry) Failed(dec protocol.Decision, code string, at time.Time) Retry {
	if !r.Matches(dec) {
		r = Retry{DecisionID: dec.DecisionID}
		if dec.Target != nil {
			r.TargetCode = dec.Target.VersionCode
		}
	}
	r.Attempts++
	r.LastError = code
	r.LastAttempt = at
	return r
}

// Backoff is the wait after the n-th failure.
func Backoff(n int) time.Duration {
	d := RetryBase
	for i := 1; i < n && d < RetryMax; i++ {
		d *= 2
	}
	return min(d, RetryMax)
}

// Input is everything [Evaluate] looks at.
type Input struct {
	Decision protocol.Decision
	// Installed is the installed app, nil when the package is absent.
	Installed *protocol.InstalledApp
	Device    protocol.DeviceState
	// Location is the device's time zone for maintenance windows; nil
	// means UTC.
	Location *time.Location
	Now      time.Time
	Retry    Retry
	// RetryBudget is the attempts allowed per decision; 0 means
	// DefaultRetryBudget.
	RetryBudget int
	// UserRequested is set when the user pressed "update" in the app: the
	// install starts at once, with no constraints and no window.
	UserRequested bool
}

// Result is what to do about one app now.
type Result struct {
	Do Do `json:"do"`
	// WaitingFor lists the waiting codes (protocol.WaitingFor*, POSTPONED,
	// RETRY_BACKOFF) when Do is DoWait.
	WaitingFor []string `json:"waitingFor,omitempty"`
	// NotBefore is when a postponement or a retry backoff ends.
	NotBefore time.Time `json:"notBefore,omitzero"`
	// Reason is a code saying why nothing is done or why the app failed.
	Reason string `json:"reason,omitempty"`
	// Recheck is when the answer may change without any sensed change
	// (postponement end, window opening, retry time); zero means only a
	// change of device state or decision can change it.
	Recheck time.Time `json:"recheck,omitzero"`
}

// Evaluate decides what to do about one app now.
func Evaluate(in Input) Result {
	dec := in.Decision
	switch dec.Action {
	case protocol.ActionNone, protocol.ActionStoreRedirect, protocol.ActionUnsupported:
		return Result{Do: DoNothing, Reason: firstReason(dec, string(dec.Action))}
	case protocol.ActionInstall, protocol.ActionPostponed, protocol.ActionPrompt, protocol.ActionForce:
	default:
		return Result{Do: DoFailed, Reason: ReasonUnknownAction}
	}
	if dec.Target == nil || dec.Target.Artifact == nil {
		return Result{Do: DoNothing, Reason: ReasonNoTarget}
	}
	if in.Installed == nil && dec.InstallType != InstallForceInstalled {
		return Result{Do: DoNothing, Reason: ReasonNotInstalled}
	}
	if in.Installed != nil {
		switch have, want := in.Installed.VersionCode, dec.Target.VersionCode; {
		case have == want:
			return Result{Do: DoNothing, Reason: ReasonUpToDate}
		case have > want && !dec.AllowDowngrade:
			return Result{Do: DoNothing, Reason: ReasonDowngrade}
		}
	}
	budget := in.RetryBudget
	if budget <= 0 {
		budget = DefaultRetryBudget
	}
	retry := in.Retry
	if !retry.Matches(dec) {
		retry = Retry{}
	}
	if retry.Attempts >= budget {
		return Result{Do: DoFailed, Reason: retry.LastError}
	}
	if in.UserRequested {
		return Result{Do: DoInstall}
	}
	if dec.Action == protocol.ActionPrompt || dec.Action == protocol.ActionForce {
		return Result{Do: DoPrompt}
	}
	if retry.Attempts > 0 {
		next := retry.LastAttempt.Add(Backoff(retry.Attempts))
		if in.Now.Before(next) {
			return Result{Do: DoWait, WaitingFor: []string{WaitingRetry}, NotBefore: next, Recheck: next}
		}
	}
	if dec.Mode == protocol.ModeHighPriority {
		return Result{Do: DoInstall}
	}
	if dec.NotBefore != nil && in.Now.Before(*dec.NotBefore) {
		nb := *dec.NotBefore
		return Result{Do: DoWait, WaitingFor: []string{protocol.WaitingPostponed}, NotBefore: nb, Recheck: nb}
	}
	return defaultRules(in)
}

// defaultRules applies default mode's constraints and window.
func defaultRules(in Input) Result {
	dec := in.Decision
	win, err := ParseWindow(dec.MaintenanceWindow)
	if err != nil {
		return Result{Do: DoFailed, Reason: ReasonBadWindow}
	}
	need := protocol.Constraints{UnmeteredNetwork: true, Charging: true, Idle: true, NotForeground: true}
	if dec.Constraints != nil {
		need = *dec.Constraints
	}
	var waiting []string
	if need.UnmeteredNetwork && !in.Device.Unmetered {
		waiting = append(waiting, protocol.WaitingForUnmeteredNetwork)
	}
	if need.Charging && !in.Device.Charging {
		waiting = append(waiting, protocol.WaitingForCharging)
	}
	if need.Idle && !in.Device.Idle {
		waiting = append(waiting, protocol.WaitingForIdle)
	}
	// Never replace an app under the user's hands in default rules, even
	// when the decision lifts notForeground.
	if in.Device.ForegroundApp != "" && in.Device.ForegroundApp == dec.App {
		waiting = append(waiting, protocol.WaitingAppInForeground)
	}
	var recheck time.Time
	loc := in.Location
	if loc == nil {
		loc = time.UTC
	}
	if !win.Contains(in.Now, loc) {
		waiting = append(waiting, protocol.WaitingOutsideWindow)
		recheck = win.NextOpen(in.Now, loc)
	}
	if len(waiting) > 0 {
		return Result{Do: DoWait, WaitingFor: waiting, Recheck: recheck}
	}
	return Result{Do: DoInstall}
}

func firstReason(dec protocol.Decision, fallback string) string {
	if len(dec.Reasons) > 0 && dec.Reasons[0].Code != "" {
		return dec.Reasons[0].Code
	}
	return fallback
}

// Describe renders a result for people: "waiting for WAITING_FOR_CHARGING",
// "POSTPONED_UNTIL 2026-07-31T00:00:00Z", "failed: HASH_MISMATCH".
func (r Result) Describe() string {
	switch r.Do {
	case DoWait:
		s := ""
		for i, w := range r.WaitingFor {
			if i > 0 {
				s += ", "
			}
			if (w == protocol.WaitingPostponed || w == WaitingRetry) && !r.NotBefore.IsZero() {
				w = fmt.Sprintf("%s_UNTIL %s", w, r.NotBefore.UTC().Format(time.RFC3339))
			}
			s += w
		}
		return s
	case DoFailed:
		return "FAILED: " + r.Reason
	case DoNothing:
		return r.Reason
	}
	return string(r.Do)
}
