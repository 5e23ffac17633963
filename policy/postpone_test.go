package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sluice-mdm/sluice/protocol"
)

// The worked example of DESIGN.md: 1.0 installed; 2.0 published May 2, 3.0
// June 6, 4.0 June 11; the postponement runs May 2 → July 31; on July 31
// the update is queued with 4.0 as target; on August 1 the constraints hold
// and 4.0 installs; 5.0 on August 15 starts a new period ending November 13.

func exampleReleases() []Release {
	return []Release{
		release("1.0", 100, day(2025, time.January, 10), 21),
		release("2.0", 200, day(2025, time.May, 2), 21),
		release("3.0", 300, day(2025, time.June, 6), 21),
		release("4.0", 400, day(2025, time.June, 11), 21),
		release("5.0", 500, day(2025, time.August, 15), 21),
	}
}

// step is one moment of a timeline: evaluate at At (after applying
// Installed, when set, as the device's report of an update it made), and
// expect the summary.
type step struct {
	At        time.Time
	Installed *protocol.InstalledApp
	Want      stepOutcome
}

type stepOutcome struct {
	Action    protocol.Action
	Target    string
	NotBefore time.Time
	Reason    string
	Window    bool // maintenance window carried
	Limited   bool // constraints carried
}

func runTimeline(t *testing.T, e *Engine, req Request, steps []step) {
	t.Helper()
	var got, want []stepOutcome
	for _, s := range steps {
		if s.Installed != nil {
			req.Device.Apps = map[string]protocol.InstalledApp{testApp: *s.Installed}
		}
		req.At = s.At
		d := decide(t, e, req)
		o := stepOutcome{Action: d.Action, Reason: d.Reasons[0].Code, Window: d.MaintenanceWindow != nil, Limited: d.Constraints != nil}
		if d.Target != nil {
			o.Target = d.Target.VersionName
		}
		if d.NotBefore != nil {
			o.NotBefore = *d.NotBefore
		}
		got = append(got, o)
		want = append(want, s.Want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}
}

func timelineRequest(mode protocol.Mode, app protocol.InstalledApp, enrolled time.Time) Request {
	req := baseRequest()
	req.Releases = exampleReleases()
	req.Device.EnrolledAt = enrolled
	req.Device.Apps = map[string]protocol.InstalledApp{testApp: app}
	req.Policy = &UpdatePolicy{App: testApp, Mode: mode, MaintenanceWindow: &protocol.MaintenanceWindow{Start: "01:00", End: "04:00"}}
	return req
}

func TestPostponeWorkedExample(t *testing.T) {
	e := newTestEngine(t)
	jul31, nov13 := day(2025, time.July, 31), day(2025, time.November, 13)
	v1 := protocol.InstalledApp{VersionName: "1.0", VersionCode: 100, UpdatedAt: day(2025, time.January, 15)}
	v4 := &protocol.InstalledApp{VersionName: "4.0", VersionCode: 400, UpdatedAt: time.Date(2025, time.August, 1, 2, 30, 0, 0, time.UTC)}
	postponed := func(target string, until time.Time) stepOutcome {
		return stepOutcome{Action: protocol.ActionPostponed, Target: target, NotBefore: until, Reason: protocol.ReasonPostponed}
	}
	runTimeline(t, e, timelineRequest(protocol.ModePostponed, v1, day(2025, time.January, 1)), []step{
		{At: day(2025, time.May, 1), Want: stepOutcome{Action: protocol.ActionNone, Reason: protocol.ReasonUpToDate}},
		{At: day(2025, time.May, 2), Want: postponed("2.0", jul31)},
		{At: day(2025, time.June, 6), Want: postponed("3.0", jul31)},
		{At: day(2025, time.June, 11), Want: postponed("4.0", jul31)},
		{At: jul31.Add(-time.Nanosecond), Want: postponed("4.0", jul31)},
		// July 31: the update is queued under default-mode rules.
		{At: jul31, Want: stepOutcome{Action: protocol.ActionInstall, Target: "4.0", NotBefore: jul31, Reason: protocol.ReasonUpdateAvailable, Window: true, Limited: true}},
		// August 1, 02:30: the constraints held, the device installed 4.0.
		{At: day(2025, time.August, 1).Add(3 * time.Hour), Installed: v4, Want: stepOutcome{Action: protocol.ActionNone, Reason: protocol.ReasonUpToDate}},
		{At: day(2025, time.August, 14), Want: stepOutcome{Action: protocol.ActionNone, Reason: protocol.ReasonUpToDate}},
		// August 15: 5.0 starts a new period.
		{At: day(2025, time.August, 15), Want: postponed("5.0", nov13)},
		{At: nov13.Add(-time.Hour), Want: postponed("5.0", nov13)},
		{At: nov13, Want: stepOutcome{Action: protocol.ActionInstall, Target: "5.0", NotBefore: nov13, Reason: protocol.ReasonUpdateAvailable, Window: true, Limited: true}},
	})
}

func TestPostponeOutOfDateAtEnrolment(t *testing.T) {
	e := newTestEngine(t)
	enrolled := day(2025, time.June, 20)
	postponed := func(until time.Time) stepOutcome {
		return stepOutcome{Action: protocol.ActionPostponed, Target: "4.0", NotBefore: until, Reason: protocol.ReasonPostponed}
	}
	// When the period ends, the latest release installs: 5.0 by then.
	installAt := func(at time.Time) stepOutcome {
		return stepOutcome{Action: protocol.ActionInstall, Target: "5.0", NotBefore: at, Reason: protocol.ReasonUpdateAvailable, Window: true, Limited: true}
	}
	t.Run("update time unknown: the clock starts at enrolment", func(t *testing.T) {
		sep18 := day(2025, time.September, 18)
		runTimeline(t, e, timelineRequest(protocol.ModePostponed, protocol.InstalledApp{VersionName: "1.0", VersionCode: 100}, enrolled), []step{
			{At: enrolled, Want: postponed(sep18)},
			{At: day(2025, time.July, 31), Want: postponed(sep18)},
			{At: sep18, Want: installAt(sep18)},
		})
	})
	t.Run("old version installed after the newer releases: the clock starts at that update", func(t *testing.T) {
		sep13 := day(2025, time.September, 13)
		runTimeline(t, e, timelineRequest(protocol.ModePostponed, protocol.InstalledApp{VersionName: "1.0", VersionCode: 100, UpdatedAt: day(2025, time.June, 15)}, enrolled), []step{
			{At: enrolled, Want: postponed(sep13)},
			{At: sep13, Want: installAt(sep13)},
		})
	})
	t.Run("neither time known: the clock starts at the first newer release", func(t *testing.T) {
		jul31 := day(2025, time.July, 31)
		runTimeline(t, e, timelineRequest(protocol.ModePostponed, protocol.InstalledApp{VersionName: "1.0", VersionCode: 100}, time.Time{}), []step{
			{At: enrolled, Want: postponed(jul31)},
			{At: jul31, Want: stepOutcome{Action: protocol.ActionInstall, Target: "4.0", NotBefore: jul31, Reason: protocol.ReasonUpdateAvailable, Window: true, Limited: true}},
		})
	})
}

func TestPostponeOtherModesOverTheSameTimeline(t *testing.T) {
	e := newTestEngine(t)
	v1 := protocol.InstalledApp{VersionName: "1.0", VersionCode: 100, UpdatedAt: day(2025, time.January, 15)}
	v2 := &protocol.InstalledApp{VersionName: "2.0", VersionCode: 200, UpdatedAt: day(2025, time.May, 2).Add(time.Hour)}
	v4 := &protocol.InstalledApp{VersionName: "4.0", VersionCode: 400, UpdatedAt: day(2025, time.June, 11).Add(time.Hour)}
	upToDate := stepOutcome{Action: protocol.ActionNone, Reason: protocol.ReasonUpToDate}
	t.Run("highPriority installs at once, without constraints or window", func(t *testing.T) {
		now := func(target string) stepOutcome {
			return stepOutcome{Action: protocol.ActionInstall, Target: target, Reason: protocol.ReasonUpdateAvailable}
		}
		runTimeline(t, e, timelineRequest(protocol.ModeHighPriority, v1, day(2025, time.January, 1)), []step{
			{At: day(2025, time.May, 2), Want: now("2.0")},
			{At: day(2025, time.May, 3), Installed: v2, Want: upToDate},
			{At: day(2025, time.June, 11), Want: now("4.0")},
			{At: day(2025, time.June, 12), Installed: v4, Want: upToDate},
			{At: day(2025, time.August, 15), Want: now("5.0")},
		})
	})
	t.Run("default installs at once under constraints and window", func(t *testing.T) {
		limited := func(target string) stepOutcome {
			return stepOutcome{Action: protocol.ActionInstall, Target: target, Reason: protocol.ReasonUpdateAvailable, Window: true, Limited: true}
		}
		runTimeline(t, e, timelineRequest(protocol.ModeDefault, v1, day(2025, time.January, 1)), []step{
			{At: day(2025, time.May, 2), Want: limited("2.0")},
			{At: day(2025, time.May, 3), Installed: v2, Want: upToDate},
			{At: day(2025, time.June, 6), Want: limited("3.0")},
			{At: day(2025, time.June, 11), Want: limited("4.0")},
			{At: day(2025, time.June, 12), Installed: v4, Want: upToDate},
			{At: day(2025, time.August, 15), Want: limited("5.0")},
		})
	})
}
