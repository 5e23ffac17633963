package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sluice-mdm/sluice/agent/download"
	"github.com/sluice-mdm/sluice/agent/platform"
	"github.com/sluice-mdm/sluice/agent/state"
	"github.com/sluice-mdm/sluice/apk"
	"github.com/sluice-mdm/sluice/protocol"
)

// Failure codes the agent adds to those of download, apk and platform.
const (
	CodeInstallError = "INSTALL_ERROR"       // the platform could not try the install
	CodeLocalError   = "LOCAL_ERROR"         // a local file system failure
	CodeNotApplied   = "INSTALL_NOT_APPLIED" // the platform said installed, the version did not change
)

func (a *Agent) setPhase(app, phase string) {
	a.mu.Lock()
	if r := a.apps[app]; r != nil {
		r.phase, r.updated = phase, a.cfg.Now()
		if phase != PhaseDownloading {
			r.progress.BytesPerSecond, r.progress.Remaining = 0, 0
		}
	}
	a.mu.Unlock()
}

func (a *Agent) setProgress(app string, p download.Progress) {
	a.mu.Lock()
	if r := a.apps[app]; r != nil {
		r.progress = p
	}
	a.mu.Unlock()
}

// attempt is one download-verify-install of one decision.
type attempt struct {
	a       *Agent
	dec     protocol.Decision
	art     protocol.Artifact
	start   time.Time
	lastEvt time.Time
	params  func(extra map[string]string) map[string]string
}

// installApp downloads, verifies and installs dec's target. Interruptions
// (shutdown, the user's cancel) are not failures; every other outcome is
// recorded in the retry record and reported.
func (a *Agent) installApp(ctx context.Context, dec protocol.Decision, sdk int) {
	at := &attempt{a: a, dec: dec, art: *dec.Target.Artifact, start: a.cfg.Now()}
	installType := dec.InstallType
	if installType == "" {
		installType = state.InstallUpdateOnly
	}
	at.params = func(extra map[string]string) map[string]string {
		m := map[string]string{
			protocol.ParamNewVersion:  dec.Target.VersionName,
			protocol.ParamUpdateType:  updateType(dec),
			protocol.ParamInstallType: installType,
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	log := a.log.With("app", dec.App, "target", dec.Target.VersionCode, "decision_id", dec.DecisionID)
	code, err := at.run(ctx, sdk)
	switch {
	case err == nil:
		log.Info("update installed", "total_time", a.cfg.Now().Sub(at.start).String())
		a.setRetry(dec.App, state.Retry{})
		a.finish(dec.App, "", true)
		return
	case ctx.Err() != nil:
		cause := context.Cause(ctx)
		log.Info("update interrupted", "cause", cause)
		a.finish(dec.App, "", errors.Is(cause, errUserCancel))
		return
	case errors.Is(err, errNotNow), errors.Is(err, download.ErrDiscarded):
		// Not a failure of the decision: the state machine decides again.
		log.Info("update deferred", "reason", err)
		a.finish(dec.App, "", false)
		return
	}
	log.Warn("update failed", "code", code, "err", err)
	a.mu.Lock()
	r := a.retries[dec.App].Failed(dec, code, a.cfg.Now())
	a.mu.Unlock()
	a.setRetry(dec.App, r)
	a.emit(dec.App, protocol.EventInstallResult, dec.DecisionID, at.params(map[string]string{
		protocol.ParamSuccess:   "false",
		protocol.ParamErrorCode: code,
		protocol.ParamTotalTime: seconds(a.cfg.Now().Sub(at.start)),
	}))
	a.finish(dec.App, code, true)
}

// finish ends an attempt: the app's last error, and whether the user's
// request is used up.
func (a *Agent) finish(app, lastError string, clearRequest bool) {
	a.mu.Lock()
	if r := a.apps[app]; r != nil {
		r.lastError = lastError
		r.progress = download.Progress{}
		if clearRequest {
			r.userRequested = false
		}
	}
	a.mu.Unlock()
	a.wake()
}

func updateType(dec protocol.Decision) string {
	if dec.Action == protocol.ActionInstall && dec.Mode != "" {
		return string(dec.Mode)
	}
	return string(dec.Action)
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// run returns the failure code and error of the attempt.
func (at *attempt) run(ctx context.Context, sdk int) (string, error) {
	a, dec := at.a, at.dec
	dest := filepath.Join(a.apkDir(), at.art.SHA256+".apk")
	url := ""
	if len(at.art.URLs) > 0 {
		url = at.art.URLs[0]
	}
	a.setPhase(dec.App, PhaseDownloading)
	a.emit(dec.App, protocol.EventDownloadStart, dec.DecisionID, at.params(map[string]string{
		protocol.ParamFileSize:    strconv.FormatInt(at.art.Size, 10),
		protocol.ParamDownloadURL: truncate(url, protocol.MaxParamLen),
	}))
	dlStart := a.cfg.Now()
	res, err := a.dl.Fetch(ctx, at.art, dest, func(p download.Progress) { at.progress(p) })
	if err != nil {
		var de *download.Error
		if errors.As(err, &de) {
			return de.Code, err
		}
		return CodeLocalError, err
	}
	a.emit(dec.App, protocol.EventDownloadComplete, dec.DecisionID, at.params(map[string]string{
		protocol.ParamFileSize:    strconv.FormatInt(at.art.Size, 10),
		protocol.ParamDownloadURL: truncate(res.URL, protocol.MaxParamLen),
		protocol.ParamTotalTime:   seconds(a.cfg.Now().Sub(dlStart)),
	}))

	a.setPhase(dec.App, PhaseVerifying)
	if _, err := apk.Check(dest, apk.Expect{
		Package: dec.App, VersionCode: dec.Target.VersionCode, SHA256: at.art.SHA256, Size: at.art.Size,
		SignerSHA256: at.art.SignerSHA256, SDK: sdk,
	}); err != nil {
		code := apk.CodeMalformedAPK
		var ce *apk.CheckError
		if errors.As(err, &ce) {
			code = ce.Code
		}
		if rerr := os.Remove(dest); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			a.log.Error("remove refused apk", "app", dec.App, "err", rerr)
		}
		if derr := a.dl.Discard(at.art); derr != nil {
			a.log.Warn("discard refused download", "app", dec.App, "err", derr)
		}
		a.emit(dec.App, protocol.EventVerifyFailed, dec.DecisionID, at.params(map[string]string{
			protocol.ParamErrorCode: code,
			protocol.ParamReason:    truncate(err.Error(), protocol.MaxParamLen),
		}))
		return code, err
	}

	// The download may have taken long: the app may have come to the
	// foreground, a window closed or the decision changed since the
	// attempt began. The verified file stays for the next attempt.
	if err := at.stillWanted(ctx); err != nil {
		return "", err
	}
	a.setPhase(dec.App, PhaseInstalling)
	a.emit(dec.App, protocol.EventInstallStart, dec.DecisionID, at.params(nil))
	err = a.cfg.Platform.Install(ctx, dest, platform.InstallOptions{Package: dec.App, AllowDowngrade: dec.AllowDowngrade})
	if err != nil {
		// The file stays: it is verified, and an interrupted install uses
		// it next time without downloading again.
		var ie *platform.InstallError
		if errors.As(err, &ie) {
			return ie.Reason(), err
		}
		return CodeInstallError, err
	}
	// A package manager may accept an install it does not apply; counted
	// as a failure, it uses the retry budget instead of looping.
	if inst, ierr := a.cfg.Platform.Installed(ctx); ierr == nil {
		if got, ok := inst[dec.App]; !ok || got.VersionCode != dec.Target.VersionCode {
			return CodeNotApplied, fmt.Errorf("install of %s reported success, but versionCode %d is installed, not %d", dec.App, got.VersionCode, dec.Target.VersionCode)
		}
	}
	if rerr := os.Remove(dest); rerr != nil {
		a.log.Warn("remove installed apk", "app", dec.App, "err", rerr)
	}
	a.sense(ctx)
	a.emit(dec.App, protocol.EventInstallResult, dec.DecisionID, at.params(map[string]string{
		protocol.ParamSuccess:   "true",
		protocol.ParamTotalTime: seconds(a.cfg.Now().Sub(at.start)),
	}))
	return "", nil
}

// progress records download progress and emits DownloadProgress events at
// most every ProgressEventEvery.
func (at *attempt) progress(p download.Progress) {
	a := at.a
	a.setProgress(at.dec.App, p)
	now := a.cfg.Now()
	if !at.lastEvt.IsZero() && now.Sub(at.lastEvt) < a.cfg.ProgressEventEvery {
		return
	}
	at.lastEvt = now
	params := map[string]string{
		protocol.ParamSpeed:     strconv.FormatFloat(p.BytesPerSecond, 'f', 0, 64),
		protocol.ParamRemaining: strconv.FormatFloat(p.Remaining.Seconds(), 'f', 1, 64),
		protocol.ParamFileSize:  strconv.FormatInt(p.Total, 10),
	}
	if p.Total > 0 {
		params[protocol.ParamProgress] = strconv.FormatFloat(min(100, float64(p.Downloaded)*100/float64(p.Total)), 'f', 1, 64)
	}
	a.emit(at.dec.App, protocol.EventDownloadProgress, at.dec.DecisionID, at.params(params))
}

// errNotNow ends an attempt whose install is no longer allowed now; it is
// not counted as a failure.
var errNotNow = errors.New("agent: install no longer allowed now")

// stillWanted senses the device again and evaluates the app's current
// decision: the install goes ahead only if that decision still targets the
// downloaded file and the state machine still says install.
func (at *attempt) stillWanted(ctx context.Context) error {
	a, dec := at.a, at.dec
	a.sense(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	var cur protocol.Decision
	ok := false
	if a.directive != nil {
		cur, ok = a.directive.Decision(dec.App)
	}
	if !ok || !sameTarget(cur.Target, dec.Target) || cur.AllowDowngrade != dec.AllowDowngrade {
		return fmt.Errorf("%w: the decision about %s changed", errNotNow, dec.App)
	}
	var inst *protocol.InstalledApp
	if ia, found := a.installed[dec.App]; found {
		inst = &ia
	}
	userRequested := false
	if r := a.apps[dec.App]; r != nil {
		userRequested = r.userRequested
	}
	res := state.Evaluate(state.Input{
		Decision: cur, Installed: inst, Device: a.devState, Location: a.loc, Now: a.cfg.Now(),
		Retry: a.retries[dec.App], RetryBudget: a.cfg.RetryBudget, UserRequested: userRequested,
	})
	if res.Do != state.DoInstall {
		return fmt.Errorf("%w: %s", errNotNow, res.Describe())
	}
	return nil
}
