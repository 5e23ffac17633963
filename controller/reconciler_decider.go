package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

var _ Decider = (*Reconciler)(nil)

// Explain evaluates the device's decisions now (one app, or every app
// when app is empty) and gathers its groups, its agent's last reported
// status and its last directive. An unknown device is a *NotFoundError.
func (r *Reconciler) Explain(ctx context.Context, deviceID, app string) (*Explanation, error) {
	snap, err := r.current()
	if err != nil {
		return nil, err
	}
	if app != "" {
		if err := protocol.ValidatePackageName(app); err != nil {
			return nil, &ValidationError{Kind: "explain", Name: deviceID, Field: "app", Value: app, Allowed: "an Android package name: " + err.Error()}
		}
	}
	rec, err := r.store.Devices().Get(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	dev := rec.Value.Device
	now := r.now()
	var decs []Decision
	if app == "" {
		decs, err = snap.cat.DecideAll(ctx, snap.eng, dev, now)
	} else {
		var d Decision
		d, err = snap.cat.Decide(ctx, snap.eng, dev, app, now)
		decs = []Decision{d}
	}
	if err != nil {
		return nil, fmt.Errorf("explain %s: %w", deviceID, err)
	}
	ex := &Explanation{
		Device:    dev,
		Groups:    snap.cat.Index.Groups(dev.ID, dev.Labels),
		Decisions: make([]policy.Decision, len(decs)),
		LastSeen:  dev.LastSeen,
	}
	if ex.Groups == nil {
		ex.Groups = []string{}
	}
	// A fresh evaluation whose outcome equals the issued decision is that
	// decision: show it with the id the device reports back.
	issuedDecs := []policy.Decision(nil)
	if is := r.dirs.get(deviceID); is != nil {
		issuedDecs = is.decisions
	}
	for i, d := range decs {
		ex.Decisions[i] = d.Decision
		if prev, ok := findDecision(issuedDecs, d.App); ok && policy.SameOutcome(prev, d.Decision) == "" {
			ex.Decisions[i] = prev
		}
	}
	if rep := rec.Value.LastReport; rep != nil && len(rep.Status) > 0 {
		ex.Status = make(map[string]protocol.AppStatus, len(rep.Status))
		for pkg, st := range rep.Status {
			if app == "" || pkg == app {
				ex.Status[pkg] = st
			}
		}
	}
	drec, err := r.store.Directives().Get(ctx, deviceID)
	switch {
	case err == nil:
		ex.Directive = &DirectiveInfo{Sequence: drec.Value.Sequence, IssuedAt: drec.Value.IssuedAt, ExpiresAt: drec.Value.ExpiresAt}
		if rep := rec.Value.LastReport; rep != nil {
			ex.Directive.Acknowledged = rep.DirectiveSequence
		}
	case !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("explain %s: %w", deviceID, err)
	}
	return ex, nil
}

// maxImpactSample is how many changed decisions an Impact lists.
const maxImpactSample = 20

// DryRun evaluates every device in the inventory against the current
// catalog and against the catalog as it would be with changes applied and
// deletions removed, at the same instant, on the evaluation workers'
// share of cores. Nothing is stored. Decisions are compared by outcome,
// ignoring policy revisions (which only a real write assigns). Devices in
// changes replace or join the inventory for the comparison.
func (r *Reconciler) DryRun(ctx context.Context, changes *manifest.Set, deletions []ObjectRef) (*Impact, error) {
	snap, err := r.current()
	if err != nil {
		return nil, err
	}
	next, err := r.overlay(ctx, snap, changes, deletions)
	if err != nil {
		return nil, err
	}
	devs := r.inv.devices()
	if changes != nil {
		for _, md := range changes.Devices {
			dev := md.Spec
			dev.ID = md.Meta.Name
			if i := slices.IndexFunc(devs, func(d policy.Device) bool { return d.ID == dev.ID }); i >= 0 {
				devs[i] = dev
			} else {
				devs = append(devs, dev)
			}
		}
	}
	at := r.now()
	results := make([][]ImpactChange, len(devs))
	err = parallel(ctx, r.workers, len(devs), func(i int) error {
		dev := devs[i]
		before, err := snap.cat.DecideAll(ctx, snap.eng, dev, at)
		if err != nil {
			return err
		}
		after, err := next.cat.DecideAll(ctx, next.eng, dev, at)
		if err != nil {
			return err
		}
		results[i] = compareDecisions(dev.ID, before, after)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dry run: %w", err)
	}
	imp := &Impact{Devices: len(devs), Sample: []ImpactChange{}}
	for _, changed := range results {
		imp.Changed += len(changed)
		for _, c := range changed {
			if len(imp.Sample) < maxImpactSample {
				imp.Sample = append(imp.Sample, c)
			}
		}
	}
	return imp, nil
}

// compareDecisions lists the apps whose decision differs in outcome.
func compareDecisions(device string, before, after []Decision) []ImpactChange {
	var out []ImpactChange
	apps := map[string]bool{}
	for _, d := range before {
		apps[d.App] = true
	}
	for _, d := range after {
		apps[d.App] = true
	}
	sorted := make([]string, 0, len(apps))
	for app := range apps {
		sorted = append(sorted, app)
	}
	slices.Sort(sorted)
	for _, app := range sorted {
		b, inB := findDecisionOf(before, app)
		a, inA := findDecisionOf(after, app)
		if inB && inA && policy.SameOutcome(withoutRevision(b), withoutRevision(a)) == "" {
			continue
		}
		c := ImpactChange{Device: device, App: app, From: protocol.ActionNone, To: protocol.ActionNone}
		if inB {
			c.From = b.Action
		}
		if inA {
			c.To = a.Action
			c.Reason = a.Reasons[0].Code
		} else {
			c.Reason = "NOT_DECIDED"
		}
		out = append(out, c)
	}
	return out
}

func findDecisionOf(decs []Decision, app string) (policy.Decision, bool) {
	for _, d := range decs {
		if d.App == app {
			return d.Decision, true
		}
	}
	return policy.Decision{}, false
}

func withoutRevision(d policy.Decision) policy.Decision {
	if d.Policy != nil {
		p := *d.Policy
		p.Revision = 0
		d.Policy = &p
	}
	return d
}

// overlay builds the snapshot the store would give with changes applied.
func (r *Reconciler) overlay(ctx context.Context, snap *snapshot, changes *manifest.Set, deletions []ObjectRef) (*snapshot, error) {
	d := snap.d.clone()
	rulesChanged := false
	for _, del := range deletions {
		switch del.Kind {
		case KindPolicy:
			delete(d.policies, del.Name)
		case KindRelease:
			delete(d.releases, del.Name)
		case KindGroup:
			delete(d.groups, del.Name)
		case KindAssignment:
			delete(d.assignments, del.Name)
		case KindRule:
			delete(d.rules, del.Name)
			rulesChanged = true
		case KindDevice:
		default:
			return nil, &ValidationError{Kind: "dry run", Field: "deletions.kind", Value: string(del.Kind), Allowed: "policy, release, group, assignment, rule or device"}
		}
	}
	if changes != nil {
		for _, p := range changes.Policies {
			rec := d.policies[p.Meta.Name]
			rec.Name, rec.Value = p.Meta.Name, p.Spec
			d.policies[p.Meta.Name] = rec
		}
		for _, rel := range changes.Releases {
			d.releases[ReleaseName(rel.Spec.App, rel.Spec.VersionCode)] = rel.Spec
		}
		for _, g := range changes.Groups {
			spec := g.Spec
			spec.Name = g.Meta.Name
			d.groups[spec.Name] = spec
		}
		for _, a := range changes.Assignments {
			spec := a.Spec
			spec.Name = a.Meta.Name
			d.assignments[spec.Name] = spec
		}
		for _, ru := range changes.Rules {
			spec := ru.Spec
			spec.Name = ru.Meta.Name
			d.rules[spec.Name] = spec
			rulesChanged = true
		}
	}
	cat, indexed, err := buildCatalog(d, true, r.log)
	if err != nil {
		return nil, fmt.Errorf("dry run: %w", err)
	}
	next := &snapshot{cat: cat, d: d, indexed: indexed, eng: snap.eng}
	if rulesChanged {
		if next.eng, err = r.engineFor(ctx, d.ruleList()); err != nil {
			return nil, fmt.Errorf("dry run: %w", err)
		}
	}
	return next, nil
}

// Replay evaluates a logged input again with the current engine.
func (r *Reconciler) Replay(ctx context.Context, in policy.Input) (policy.Decision, error) {
	snap, err := r.current()
	if err != nil {
		return policy.Decision{}, err
	}
	return snap.eng.Evaluate(ctx, in)
}

// DecideFor evaluates one app, now, for a device description that need
// not be in the inventory (an app checking for itself).
func (r *Reconciler) DecideFor(ctx context.Context, dev policy.Device, app string) (policy.Decision, error) {
	snap, err := r.current()
	if err != nil {
		return policy.Decision{}, err
	}
	if strings.TrimSpace(dev.ID) == "" {
		return policy.Decision{}, &ValidationError{Kind: "decision request", Field: "device.id", Value: dev.ID, Allowed: "a device id (the app's installation id when the device has no agent)"}
	}
	start := time.Now()
	d, err := snap.cat.Decide(ctx, snap.eng, dev, app, r.now())
	if err != nil {
		return policy.Decision{}, err
	}
	r.metrics.Decisions.WithLabelValues(string(d.Action)).Inc()
	r.metrics.DecisionSeconds.Observe(time.Since(start).Seconds())
	return d.Decision, nil
}

// parallel calls f(0..n-1) on up to workers goroutines and returns the
// first error, after which the remaining calls are skipped.
func parallel(ctx context.Context, workers, n int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if first != nil || next >= n || ctx.Err() != nil {
			return 0, false
		}
		next++
		return next - 1, true
	}
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i, ok := take()
				if !ok {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
