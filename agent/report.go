package agent

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/sluice-mdm/sluice/protocol"
)

// AgentApp is the package name events carry when they are about the agent
// itself rather than one app (DirectiveRejected, DirectiveApplied).
const AgentApp = "sluice.agent"

// newID returns a unique message id: the device id and 96 random bits.
func (a *Agent) newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return a.cfg.DeviceID + "-" + hex.EncodeToString(b[:])
}

// emit spools one event for publication.
func (a *Agent) emit(app string, name protocol.EventName, decisionID string, params map[string]string) {
	ev := protocol.Event{
		ID: a.newID(), DeviceID: a.cfg.DeviceID, App: app, Name: name,
		Time: a.cfg.Now().UTC(), DecisionID: decisionID, Params: params,
	}
	if err := ev.Validate(); err != nil {
		a.log.Error("event dropped: invalid", "app", app, "event", string(name), "err", err)
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		a.log.Error("event dropped: encode", "app", app, "event", string(name), "err", err)
		return
	}
	subj, _ := protocol.EventSubject(a.cfg.DeviceID)
	if err := a.spool.Append(subj, ev.ID, b); err != nil {
		a.log.Error("event dropped: spool", "app", app, "event", string(name), "err", err)
		return
	}
	a.log.Debug("event", "app", app, "event", string(name), "params", params)
}

// buildReport assembles the device report from the last sensed state.
func (a *Agent) buildReport() protocol.DeviceReport {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := protocol.DeviceReport{
		Version:           protocol.Version,
		DeviceID:          a.cfg.DeviceID,
		SentAt:            a.cfg.Now().UTC(),
		Labels:            a.cfg.Labels,
		Platform:          protocol.PlatformAndroid,
		SDK:               a.info.SDK,
		AgentVersion:      a.cfg.AgentVersion,
		Channel:           a.cfg.Channel,
		TimeZone:          a.info.TimeZone,
		Apps:              maps.Clone(a.installed),
		State:             a.devState,
		DirectiveSequence: a.lastSeq,
		Dropped:           a.spool.Dropped(),
	}
	if r.Apps == nil {
		r.Apps = map[string]protocol.InstalledApp{}
	}
	if len(a.apps) > 0 {
		r.Status = make(map[string]protocol.AppStatus, len(a.apps))
		for app, st := range a.apps {
			r.Status[app] = st.wire()
		}
	}
	return r
}

// reportKey is what makes a report "changed": everything but the send
// time and the byte counts of a running download.
func reportKey(r protocol.DeviceReport) string {
	r.SentAt = time.Time{}
	st := make(map[string]protocol.AppStatus, len(r.Status))
	for k, v := range r.Status {
		v.Downloaded, v.UpdatedState = 0, time.Time{}
		st[k] = v
	}
	r.Status = st
	b, _ := json.Marshal(r)
	return string(b)
}

// maybeReport spools a report when something changed or the report
// interval has passed since the last one.
func (a *Agent) maybeReport(force bool) {
	r := a.buildReport()
	key := reportKey(r)
	now := a.cfg.Now()
	a.mu.Lock()
	due := force || key != a.lastReportKey || now.Sub(a.lastReport) >= a.cfg.ReportInterval
	if due {
		a.lastReportKey, a.lastReport = key, now
	}
	a.mu.Unlock()
	if !due {
		return
	}
	b, err := json.Marshal(r)
	if err != nil {
		a.log.Error("report not sent: encode", "err", err)
		return
	}
	subj, _ := protocol.ReportSubject(a.cfg.DeviceID)
	if err := a.spool.Append(subj, a.newID(), b); err != nil {
		a.log.Error("report not sent: spool", "err", err)
		return
	}
	a.log.Debug("report spooled", "apps", len(r.Apps), "statuses", slices.Sorted(maps.Keys(r.Status)))
}
