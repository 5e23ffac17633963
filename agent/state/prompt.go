package state

import (
	"time"

	"github.com/sluice-mdm/sluice/protocol"
)

// PromptRecord is what the agent remembers about one app's prompt: how many
// times it showed on one device-local day and until when "later" hides it.
type PromptRecord struct {
	// DecisionID is the decision the record counts shows for; a new
	// decision starts a new record.
	DecisionID string `json:"decisionId"`
	// Day is the device-local date (YYYY-MM-DD) Shown counts for.
	Day   string `json:"day"`
	Shown int    `json:"shown"`
	// HiddenUntil is set by "later": no closable prompt before it.
	HiddenUntil time.Time `json:"hiddenUntil,omitzero"`
}

// PromptAnswer says whether an app should show its update prompt now, and
// how.
type PromptAnswer struct {
	Show bool `json:"show"`
	// Forced prompts cannot be dismissed: the action is force, the prompt is
	// not closable, or forceAfter has passed.
	Forced       bool   `json:"forced"`
	Closable     bool   `json:"closable"`
	Text         string `json:"text,omitempty"`
	Button       string `json:"button,omitempty"`
	ReleaseNotes string `json:"releaseNotes,omitempty"`
	VersionName  string `json:"versionName,omitempty"`
	VersionCode  int64  `json:"versionCode,omitempty"`
	// Reason says why no prompt shows (NO_PROMPT, UP_TO_DATE,
	// VERSION_DOWNGRADE, DAILY_LIMIT_REACHED, HIDDEN_BY_USER).
	Reason string `json:"reason,omitempty"`
	// NextShow is when a prompt held back may show again.
	NextShow time.Time `json:"nextShow,omitzero"`
	// ShowsLeft is how many more closable shows today allows after this
	// one.
	ShowsLeft int `json:"showsLeft"`
}

// Prompt reasons.
const (
	ReasonNoPrompt     = "NO_PROMPT"
	ReasonDailyLimit   = "DAILY_LIMIT_REACHED"
	ReasonHiddenByUser = "HIDDEN_BY_USER"
)

// LocalDay is t's date on the wall clock of loc.
func LocalDay(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format(time.DateOnly)
}

// NextLocalMidnight is the start of the local day after t's.
func NextLocalMidnight(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
}

func dailyFrequency(p *protocol.Prompt) int {
	if p == nil || p.DailyFrequency <= 0 {
		return 1
	}
	return p.DailyFrequency
}

// PromptNow decides whether the app's prompt shows now. It does not change
// rec: when the answer shows, the caller records it with [PromptRecord.RecordShow].
func PromptNow(dec protocol.Decision, installed *protocol.InstalledApp, rec PromptRecord, loc *time.Location, now time.Time) PromptAnswer {
	if dec.Action != protocol.ActionPrompt && dec.Action != protocol.ActionForce || dec.Target == nil {
		return PromptAnswer{Reason: ReasonNoPrompt}
	}
	if installed != nil && installed.VersionCode == dec.Target.VersionCode {
		return PromptAnswer{Reason: ReasonUpToDate}
	}
	// A prompt, forced or not, for a version the install would refuse as a
	// downgrade could never be satisfied: a forced one would lock the app.
	if installed != nil && installed.VersionCode > dec.Target.VersionCode && !dec.AllowDowngrade {
		return PromptAnswer{Reason: ReasonDowngrade}
	}
	p := dec.Prompt
	if p == nil {
		p = &protocol.Prompt{}
	}
	ans := PromptAnswer{
		Text:         p.Text,
		Button:       p.Button,
		ReleaseNotes: dec.Target.ReleaseNotes,
		VersionName:  dec.Target.VersionName,
		VersionCode:  dec.Target.VersionCode,
	}
	if ans.Button == "" {
		ans.Button = "updateApp"
	}
	forced := dec.Action == protocol.ActionForce || !p.Closable ||
		(p.ForceAfter != nil && !now.Before(*p.ForceAfter))
	if forced {
		ans.Show, ans.Forced = true, true
		return ans
	}
	ans.Closable = true
	if rec.DecisionID != dec.DecisionID {
		rec = PromptRecord{}
	}
	freq := dailyFrequency(p)
	shown := 0
	if rec.Day == LocalDay(now, loc) {
		shown = rec.Shown
	}
	if shown >= freq {
		ans.Reason = ReasonDailyLimit
		ans.NextShow = NextLocalMidnight(now, loc)
		return ans
	}
	if now.Before(rec.HiddenUntil) {
		ans.Reason = ReasonHiddenByUser
		ans.NextShow = rec.HiddenUntil
		ans.ShowsLeft = freq - shown
		return ans
	}
	ans.Show = true
	ans.ShowsLeft = freq - shown - 1
	return ans
}

// RecordShow returns rec after the prompt of dec showed at now.
func (rec PromptRecord) RecordShow(dec protocol.Decision, loc *time.Location, now time.Time) PromptRecord {
	day := LocalDay(now, loc)
	if rec.DecisionID != dec.DecisionID {
		rec = PromptRecord{DecisionID: dec.DecisionID}
	}
	if rec.Day != day {
		rec.Day, rec.Shown = day, 0
	}
	rec.Shown++
	return rec
}

// Later returns rec after the user chose "later" at now: the prompt hides
// for a day divided by the daily frequency, and at most until the next
// local midnight, when a new day's shows begin.
func (rec PromptRecord) Later(dec protocol.Decision, loc *time.Location, now time.Time) PromptRecord {
	if rec.DecisionID != dec.DecisionID {
		rec = PromptRecord{DecisionID: dec.DecisionID}
	}
	until := now.Add(24 * time.Hour / time.Duration(dailyFrequency(dec.Prompt)))
	if mid := NextLocalMidnight(now, loc); mid.Before(until) {
		until = mid
	}
	rec.HiddenUntil = until
	return rec
}
