package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sluice-mdm/sluice/agent/atomicfile"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice-mdm/sluice/agent/download"
	"github.com/sluice-mdm/sluice/agent/promptapi"
	"github.com/sluice-mdm/sluice/agent/state"
	"github.com/sluice-mdm/sluice/protocol"
)

// Phases of one app's update, as shown in [AppStatus.State].
const (
	PhaseIdle        = "idle"
	PhaseWaiting     = "waiting"
	PhaseQueued      = "queued"
	PhaseDownloading = "downloading"
	PhaseVerifying   = "verifying"
	PhaseInstalling  = "installing"
	PhaseInstalled   = "installed"
	PhaseFailed      = "failed"
	PhasePrompting   = "prompting"
)

func phaseOf(r state.Result) string {
	switch r.Do {
	case state.DoWait:
		return PhaseWaiting
	case state.DoInstall:
		return PhaseQueued
	case state.DoPrompt:
		return PhasePrompting
	case state.DoFailed:
		return PhaseFailed
	}
	if r.Reason == state.ReasonUpToDate {
		return PhaseInstalled
	}
	return PhaseIdle
}

// appRun is the agent's memory of one app of the directive.
type appRun struct {
	app           string
	decision      protocol.Decision
	installed     *protocol.InstalledApp
	result        state.Result
	phase         string
	progress      download.Progress
	lastError     string
	userRequested bool
	userCancelled bool
	updated       time.Time
}

func (r *appRun) wire() protocol.AppStatus {
	s := protocol.AppStatus{
		State: r.phase, WaitingFor: r.result.WaitingFor, NotBefore: r.result.NotBefore,
		Downloaded: r.progress.Downloaded, Total: r.progress.Total,
		LastError: r.lastError, DecisionID: r.decision.DecisionID, UpdatedState: r.updated,
	}
	if r.decision.Target != nil {
		s.TargetCode = r.decision.Target.VersionCode
	}
	if r.result.Do == state.DoFailed && r.result.Reason != "" {
		s.LastError = r.result.Reason
	}
	return s
}

// Status is a snapshot of the agent, for `sluice-agent status` and
// GET /v1/status.
type Status struct {
	DeviceID  string    `json:"deviceId"`
	Platform  string    `json:"platform"`
	Connected bool      `json:"connected"`
	Server    string    `json:"server,omitempty"`
	LastSync  time.Time `json:"lastSync,omitzero"`
	// DirectiveSequence is the sequence of the enforced directive, 0 if
	// none.
	DirectiveSequence  uint64    `json:"directiveSequence"`
	DirectiveExpiresAt time.Time `json:"directiveExpiresAt,omitzero"`
	// DirectiveExpired is set when the enforced directive has expired: the
	// agent keeps enforcing it until the controller sends a newer one.
	DirectiveExpired bool                 `json:"directiveExpired,omitempty"`
	SDK              int                  `json:"sdk,omitempty"`
	TimeZone         string               `json:"timeZone,omitempty"`
	State            protocol.DeviceState `json:"state"`
	SensedAt         time.Time            `json:"sensedAt,omitzero"`
	Apps             []AppStatus          `json:"apps"`
	// Spooled counts reports and events waiting for an acknowledgement.
	Spooled int    `json:"spooled"`
	Dropped uint64 `json:"dropped,omitempty"`
}

// AppStatus is one app in a [Status].
type AppStatus struct {
	App              string `json:"app"`
	Action           string `json:"action"`
	Mode             string `json:"mode,omitempty"`
	InstalledVersion string `json:"installedVersion,omitempty"`
	InstalledCode    int64  `json:"installedVersionCode,omitempty"`
	TargetVersion    string `json:"targetVersion,omitempty"`
	TargetCode       int64  `json:"targetVersionCode,omitempty"`
	// State is one of the Phase* values.
	State string `json:"state"`
	// WaitingFor lists the waiting codes; NotBefore is set for POSTPONED
	// and RETRY_BACKOFF.
	WaitingFor []string  `json:"waitingFor,omitempty"`
	NotBefore  time.Time `json:"notBefore,omitzero"`
	// Detail is a one-line summary ("POSTPONED_UNTIL <time>", "FAILED: HASH_MISMATCH").
	Detail           string  `json:"detail,omitempty"`
	Downloaded       int64   `json:"downloaded,omitempty"`
	Total            int64   `json:"total,omitempty"`
	BytesPerSecond   float64 `json:"bytesPerSecond,omitempty"`
	RemainingSeconds float64 `json:"remainingSeconds,omitempty"`
	LastError        string  `json:"lastError,omitempty"`
	Attempts         int     `json:"attempts,omitempty"`
	DecisionID       string  `json:"decisionId,omitempty"`
}

// Status returns a snapshot of the agent.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Status{
		DeviceID: a.cfg.DeviceID, Platform: a.cfg.Platform.Name(), Connected: a.connected, Server: a.serverURL,
		LastSync: a.lastSync, DirectiveSequence: a.lastSeq, SDK: a.info.SDK, TimeZone: a.info.TimeZone,
		State: a.devState, SensedAt: a.sensed, Spooled: a.spool.Len(), Dropped: a.spool.Dropped(),
		Apps: []AppStatus{},
	}
	if a.directive != nil {
		s.DirectiveExpiresAt = a.directive.ExpiresAt
		s.DirectiveExpired = !a.cfg.Now().Before(a.directive.ExpiresAt)
	}
	for _, app := range a.sortedApps() {
		r := a.apps[app]
		as := AppStatus{
			App: app, Action: string(r.decision.Action), Mode: string(r.decision.Mode), State: r.phase,
			DecisionID: r.decision.DecisionID, LastError: r.lastError,
		}
		if r.phase != PhaseDownloading && r.phase != PhaseVerifying && r.phase != PhaseInstalling {
			as.WaitingFor, as.NotBefore, as.Detail = r.result.WaitingFor, r.result.NotBefore, r.result.Describe()
		} else {
			as.Detail = r.phase
		}
		if r.installed != nil {
			as.InstalledVersion, as.InstalledCode = r.installed.VersionName, r.installed.VersionCode
		}
		if t := r.decision.Target; t != nil {
			as.TargetVersion, as.TargetCode = t.VersionName, t.VersionCode
		}
		if r.phase == PhaseDownloading {
			as.Downloaded, as.Total = r.progress.Downloaded, r.progress.Total
			as.BytesPerSecond, as.RemainingSeconds = r.progress.BytesPerSecond, r.progress.Remaining.Seconds()
		}
		if rt := a.retries[app]; rt.Matches(r.decision) {
			as.Attempts = rt.Attempts
			if as.LastError == "" {
				as.LastError = rt.LastError
			}
		}
		s.Apps = append(s.Apps, as)
	}
	return s
}

// backend serves the prompt API from the agent.
type backend struct{ a *Agent }

func (b backend) App(pkg string) (protocol.Decision, *protocol.InstalledApp, error) {
	a := b.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.directive != nil {
		if d, ok := a.directive.Decision(pkg); ok {
			var inst *protocol.InstalledApp
			if ia, ok := a.installed[pkg]; ok {
				inst = &ia
			}
			return d, inst, nil
		}
	}
	return protocol.Decision{}, nil, fmt.Errorf("app %s: %w", pkg, promptapi.ErrNoDecision)
}

func (b backend) UpdateNow(pkg string) error {
	a := b.a
	a.mu.Lock()
	r := a.apps[pkg]
	if r == nil || r.decision.Target == nil {
		a.mu.Unlock()
		return fmt.Errorf("%w: the directive has no target for %s", promptapi.ErrNoUpdate, pkg)
	}
	if r.installed != nil && r.installed.VersionCode == r.decision.Target.VersionCode {
		a.mu.Unlock()
		return fmt.Errorf("%w: %s is already at %s", promptapi.ErrNoUpdate, pkg, r.decision.Target.VersionName)
	}
	// "update" answers a prompt. A silent install or a postponement is
	// the controller's to time: the app cannot lift its constraints or cut
	// its postponement short.
	if act := r.decision.Action; act != protocol.ActionPrompt && act != protocol.ActionForce {
		a.mu.Unlock()
		return fmt.Errorf("%w: the decision about %s is %s, not a prompt", promptapi.ErrNoUpdate, pkg, act)
	}
	r.userRequested, r.userCancelled = true, false
	a.mu.Unlock()
	a.wake()
	return nil
}

func (b backend) Cancel(pkg string) error {
	a := b.a
	a.mu.Lock()
	r := a.apps[pkg]
	downloading := r != nil && a.busy == pkg && r.phase == PhaseDownloading
	if downloading {
		r.userRequested, r.userCancelled = false, true
	}
	a.mu.Unlock()
	if !downloading || !a.jobs.cancelApp(pkg, errUserCancel) {
		return fmt.Errorf("%w: %s is not downloading", promptapi.ErrNoUpdate, pkg)
	}
	return nil
}

func (b backend) Progress(pkg string) promptapi.Progress {
	a := b.a
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.apps[pkg]
	if r == nil {
		return promptapi.Progress{State: PhaseIdle}
	}
	p := promptapi.Progress{State: r.phase, Error: r.lastError}
	if r.phase == PhaseDownloading || r.phase == PhaseVerifying || r.phase == PhaseInstalling {
		p.Downloaded, p.Total = r.progress.Downloaded, r.progress.Total
		p.BytesPerSecond, p.RemainingSeconds = r.progress.BytesPerSecond, r.progress.Remaining.Seconds()
	}
	if r.result.Do == state.DoFailed {
		p.Error = r.result.Reason
	}
	return p
}

func (b backend) Status() any { return b.a.Status() }

func (b backend) Emit(pkg string, name protocol.EventName, decisionID string, params map[string]string) {
	b.a.emit(pkg, name, decisionID, params)
}

func (b backend) Location() *time.Location {
	b.a.mu.Lock()
	defer b.a.mu.Unlock()
	return b.a.loc
}

const retriesFile = "retries.json"

func loadRetries(dir string) (map[string]state.Retry, error) {
	m := map[string]state.Retry{}
	b, err := os.ReadFile(filepath.Join(dir, retriesFile))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read retry records: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("retry records %s: %w", retriesFile, err)
	}
	return m, nil
}

// setRetry records (or, with a zero record, forgets) app's failures.
func (a *Agent) setRetry(app string, r state.Retry) {
	a.mu.Lock()
	if r.Attempts == 0 {
		delete(a.retries, app)
	} else {
		a.retries[app] = r
	}
	b, err := json.Marshal(a.retries)
	a.mu.Unlock()
	if err == nil {
		err = atomicfile.Write(filepath.Join(a.cfg.DataDir, retriesFile), b, 0o600)
	}
	if err != nil {
		a.log.Error("store retry records", "app", app, "err", err)
	}
}
