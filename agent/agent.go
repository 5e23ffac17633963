package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-mdm/sluice/agent/download"
	"github.com/sluice-mdm/sluice/agent/platform"
	"github.com/sluice-mdm/sluice/agent/promptapi"
	"github.com/sluice-mdm/sluice/agent/spool"
	"github.com/sluice-mdm/sluice/agent/state"
	"github.com/sluice-mdm/sluice/protocol"
)

// Agent enforces one device's directive. Create it with [New] and start it
// with [Agent.Run].
type Agent struct {
	cfg    Config
	log    *slog.Logger
	spool  *spool.Spool
	dl     *download.Downloader
	prompt *promptapi.Server
	jobs   *jobs

	wakeCh chan struct{} // evaluate now
	upCh   chan struct{} // the connection came up: drain the spool
	syncCh chan struct{} // the connection came up: ask for the directive

	mu            sync.Mutex
	directive     *protocol.Directive
	env           *protocol.Envelope
	lastSeq       uint64
	connected     bool
	serverURL     string
	lastSync      time.Time
	info          platform.Info
	loc           *time.Location
	installed     map[string]protocol.InstalledApp
	devState      protocol.DeviceState
	sensed        time.Time
	apps          map[string]*appRun
	retries       map[string]state.Retry
	busy          string // the app being installed, if any
	lastReportKey string
	lastReport    time.Time
}

// New checks cfg, prepares the data directory and loads what an earlier
// run stored there (directive and sequence, retry records, spooled
// messages).
func New(cfg Config) (*Agent, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	cfg.defaults()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("agent: create data dir: %w", err)
	}
	a := &Agent{
		cfg:     cfg,
		log:     cfg.Logger.With("device_id", cfg.DeviceID),
		wakeCh:  make(chan struct{}, 1),
		upCh:    make(chan struct{}, 1),
		syncCh:  make(chan struct{}, 1),
		loc:     time.Local,
		apps:    map[string]*appRun{},
		retries: map[string]state.Retry{},
		jobs:    newJobs(),
	}
	var err error
	if a.spool, err = spool.Open(filepath.Join(cfg.DataDir, "spool"), spool.Options{MaxCount: cfg.SpoolMaxCount, MaxBytes: cfg.SpoolMaxBytes}); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	dcfg := cfg.Download
	if dcfg.Dir == "" {
		dcfg.Dir = filepath.Join(cfg.DataDir, "downloads")
	}
	if dcfg.Logger == nil {
		dcfg.Logger = a.log
	}
	if dcfg.Now == nil {
		dcfg.Now = cfg.Now
	}
	if a.dl, err = download.New(dcfg); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if err := os.MkdirAll(a.apkDir(), 0o700); err != nil {
		return nil, fmt.Errorf("agent: create apk dir: %w", err)
	}
	d, env, seq, err := a.loadDirective()
	if err != nil {
		a.log.Warn("stored directive not enforced", "err", err)
	}
	a.directive, a.env, a.lastSeq = d, env, seq
	if a.retries, err = loadRetries(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if cfg.PromptAddr != "" {
		a.prompt, err = promptapi.New(promptapi.Config{
			Addr: cfg.PromptAddr, DataDir: cfg.DataDir, Backend: backend{a}, Logger: a.log, Now: cfg.Now,
		})
		if err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
	}
	return a, nil
}

func (a *Agent) apkDir() string { return filepath.Join(a.cfg.DataDir, "apks") }

// PromptAddr waits for the prompt API's listening address (nil when the
// API is off).
func (a *Agent) PromptAddr(ctx context.Context) (string, error) {
	if a.prompt == nil {
		return "", nil
	}
	addr, err := a.prompt.Addr(ctx)
	if err != nil {
		return "", err
	}
	return addr.String(), nil
}

func (a *Agent) wake() { signal(a.wakeCh) }

// Run connects, enforces the directive and reports until ctx ends. It then
// stops the running install or download (a download keeps its partial
// file, a verified APK is kept) and returns within ShutdownTimeout.
func (a *Agent) Run(ctx context.Context) error {
	// The goroutines below end with ctx: cancel before waiting for them,
	// whatever makes Run return.
	var bg sync.WaitGroup
	defer bg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	promptErr := make(chan error, 1)
	if a.prompt != nil {
		bg.Add(1)
		go func() {
			defer bg.Done()
			if err := a.prompt.Run(ctx); err != nil {
				promptErr <- err
			}
		}()
	}
	nc, err := a.connect()
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer nc.Close()
	bg.Add(2)
	go func() { defer bg.Done(); a.syncLoop(ctx, nc) }()
	go func() { defer bg.Done(); a.sendLoop(ctx, nc) }()

	a.mu.Lock()
	seq := a.lastSeq
	a.mu.Unlock()
	a.log.Info("agent started", "platform", a.cfg.Platform.Name(), "directive_sequence", seq)
	a.refreshInfo(ctx)
	a.sense(ctx)
	a.maybeReport(true)
	jobs := a.jobs
	defer jobs.stop(a.cfg.ShutdownTimeout, a.log)
	lastInfo := a.cfg.Now()
	for {
		next := a.step(ctx, jobs)
		wait := a.cfg.SenseInterval
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(a.cfg.Now()), 10*time.Millisecond))
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case err := <-promptErr:
			timer.Stop()
			return fmt.Errorf("agent: %w", err)
		case <-a.wakeCh:
		case <-jobs.done():
		case <-timer.C:
		}
		timer.Stop()
		if a.cfg.Now().Sub(lastInfo) >= a.cfg.ReportInterval {
			a.refreshInfo(ctx)
			lastInfo = a.cfg.Now()
		}
		a.sense(ctx)
	}
}

// refreshInfo reads the SDK and time zone.
func (a *Agent) refreshInfo(ctx context.Context) {
	info, err := a.cfg.Platform.Info(ctx)
	if err != nil {
		a.log.Warn("platform info", "err", err)
		return
	}
	loc := time.Local
	if info.TimeZone != "" {
		if l, err := time.LoadLocation(info.TimeZone); err == nil {
			loc = l
		} else {
			a.log.Warn("unknown device time zone; using the host's", "time_zone", info.TimeZone)
			info.TimeZone = ""
		}
	}
	a.mu.Lock()
	a.info, a.loc = info, loc
	a.mu.Unlock()
}

// sense reads the device state and the installed apps.
func (a *Agent) sense(ctx context.Context) {
	st, err := a.cfg.Platform.State(ctx)
	if err != nil {
		a.log.Warn("sense device state", "err", err)
		return
	}
	inst, err := a.cfg.Platform.Installed(ctx)
	if err != nil {
		a.log.Warn("list installed apps", "err", err)
		return
	}
	a.mu.Lock()
	a.devState, a.installed, a.sensed = st, inst, a.cfg.Now()
	a.mu.Unlock()
}

// step evaluates every app, starts at most one install, reports changes
// and returns the earliest time an answer may change on its own.
func (a *Agent) step(ctx context.Context, j *jobs) time.Time {
	now := a.cfg.Now()
	a.mu.Lock()
	var decs []protocol.Decision
	if a.directive != nil {
		decs = a.directive.Decisions
	}
	var next time.Time
	var start *protocol.Decision
	seen := map[string]bool{}
	for i := range decs {
		dec := decs[i]
		if protocol.ValidatePackageName(dec.App) != nil || seen[dec.App] {
			continue
		}
		seen[dec.App] = true
		run := a.apps[dec.App]
		if run == nil {
			run = &appRun{app: dec.App}
			a.apps[dec.App] = run
		}
		// The user's update or cancel applies to one update: a new decision
		// about the same target (a prompt turning forced) keeps it.
		if run.decision.DecisionID != dec.DecisionID && !sameTarget(run.decision.Target, dec.Target) {
			run.userRequested, run.userCancelled = false, false
		}
		run.decision = dec
		var inst *protocol.InstalledApp
		if ia, ok := a.installed[dec.App]; ok {
			inst = &ia
		}
		run.installed = inst
		res := state.Evaluate(state.Input{
			Decision: dec, Installed: inst, Device: a.devState, Location: a.loc, Now: now,
			Retry: a.retries[dec.App], RetryBudget: a.cfg.RetryBudget, UserRequested: run.userRequested,
		})
		if res.Do == state.DoInstall && run.userCancelled {
			res = state.Result{Do: state.DoWait, WaitingFor: []string{WaitingCancelled}}
		}
		run.result = res
		if a.busy != dec.App {
			run.phase = phaseOf(res)
		}
		if !res.Recheck.IsZero() && (next.IsZero() || res.Recheck.Before(next)) {
			next = res.Recheck
		}
		if res.Do == state.DoInstall && a.busy == "" && start == nil {
			d := dec
			start = &d
		}
	}
	for app := range a.apps {
		if !seen[app] && a.busy != app {
			delete(a.apps, app)
		}
	}
	if start != nil {
		a.busy = start.App
		a.apps[start.App].phase = PhaseDownloading
	}
	sdk := a.info.SDK
	a.mu.Unlock()
	if start != nil {
		dec := *start
		j.start(ctx, dec.App, func(jctx context.Context) {
			a.installApp(jctx, dec, sdk)
			a.mu.Lock()
			a.busy = ""
			a.mu.Unlock()
		})
	}
	a.maybeReport(false)
	return next
}

// sameTarget reports whether two decisions move the app to the same
// version and file.
func sameTarget(a, b *protocol.Target) bool {
	if a == nil || b == nil || a.Artifact == nil || b.Artifact == nil {
		return false
	}
	return a.VersionCode == b.VersionCode && strings.EqualFold(a.Artifact.SHA256, b.Artifact.SHA256)
}

// WaitingCancelled is the waiting code of an update the user cancelled in
// the app; it waits until the user asks again or the decision changes.
const WaitingCancelled = "CANCELLED_BY_USER"

// jobs runs the one install at a time and lets Run wait for it.
type jobs struct {
	mu     sync.Mutex
	cancel map[string]context.CancelCauseFunc
	wg     sync.WaitGroup
	doneCh chan struct{}
}

func newJobs() *jobs {
	return &jobs{cancel: map[string]context.CancelCauseFunc{}, doneCh: make(chan struct{}, 1)}
}

// done receives after a job ends.
func (j *jobs) done() <-chan struct{} { return j.doneCh }

func (j *jobs) start(ctx context.Context, app string, fn func(context.Context)) {
	jctx, cancel := context.WithCancelCause(ctx)
	j.mu.Lock()
	j.cancel[app] = cancel
	j.mu.Unlock()
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		fn(jctx)
		j.mu.Lock()
		delete(j.cancel, app)
		j.mu.Unlock()
		cancel(nil)
		signal(j.doneCh)
	}()
}

// cancelApp stops the job of app with cause, reporting whether one ran.
func (j *jobs) cancelApp(app string, cause error) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	c, ok := j.cancel[app]
	if ok {
		c(cause)
	}
	return ok
}

func (j *jobs) stop(timeout time.Duration, log *slog.Logger) {
	j.mu.Lock()
	for _, c := range j.cancel {
		c(errShutdown)
	}
	j.mu.Unlock()
	done := make(chan struct{})
	go func() { j.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		log.Warn("in-flight install abandoned at shutdown", "timeout", timeout)
	}
}

var (
	errShutdown   = errors.New("agent: shutting down")
	errUserCancel = errors.New("agent: cancelled by the user")
)

// sortedApps lists the apps with a run, sorted.
func (a *Agent) sortedApps() []string {
	apps := make([]string, 0, len(a.apps))
	for app := range a.apps {
		apps = append(apps, app)
	}
	slices.Sort(apps)
	return apps
}
