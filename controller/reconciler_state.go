package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/policy"
)

// desired is the stored desired state, as the watches deliver it.
type desired struct {
	policies    map[string]Record[policy.UpdatePolicy]
	releases    map[string]policy.Release
	groups      map[string]fleet.DeviceGroup
	assignments map[string]fleet.Assignment
	rules       map[string]policy.Rule
}

func newDesired() *desired {
	return &desired{
		policies:    make(map[string]Record[policy.UpdatePolicy]),
		releases:    make(map[string]policy.Release),
		groups:      make(map[string]fleet.DeviceGroup),
		assignments: make(map[string]fleet.Assignment),
		rules:       make(map[string]policy.Rule),
	}
}

func (d *desired) clone() *desired {
	return &desired{
		policies:    maps.Clone(d.policies),
		releases:    maps.Clone(d.releases),
		groups:      maps.Clone(d.groups),
		assignments: maps.Clone(d.assignments),
		rules:       maps.Clone(d.rules),
	}
}

func (d *desired) ruleList() []policy.Rule {
	out := slices.Collect(maps.Values(d.rules))
	slices.SortFunc(out, func(a, b policy.Rule) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// snapshot is one consistent view the workers evaluate against. It is
// never modified once published.
type snapshot struct {
	cat *Catalog
	eng *policy.Engine
	d   *desired
	// indexed holds the assignments in the index, with App filled in.
	indexed map[string]fleet.Assignment
}

// buildCatalog turns desired state into a catalog. Assignments naming a
// missing policy are left out. With strict, an index that cannot be built
// (an unknown group, a tie) is an error; otherwise the offending
// assignments or groups are left out and logged, so that one bad object
// does not stop the fleet's other decisions.
func buildCatalog(d *desired, strict bool, log *slog.Logger) (*Catalog, map[string]fleet.Assignment, error) {
	c := &Catalog{Policies: make(map[string]PolicyVersion, len(d.policies)), Releases: make(map[string][]policy.Release)}
	for name, rec := range d.policies {
		c.Policies[name] = PolicyVersion{Spec: rec.Value, Revision: rec.Revision}
	}
	for _, rel := range d.releases {
		c.Releases[rel.App] = append(c.Releases[rel.App], rel)
	}
	for _, list := range c.Releases {
		slices.SortFunc(list, func(a, b policy.Release) int { return int(min(max(a.VersionCode-b.VersionCode, -1), 1)) })
	}
	groups := slices.Collect(maps.Values(d.groups))
	slices.SortFunc(groups, func(a, b fleet.DeviceGroup) int { return strings.Compare(a.Name, b.Name) })
	var assigned []fleet.Assignment
	for _, a := range d.assignments {
		p, ok := d.policies[a.Policy]
		if !ok {
			if strict {
				return nil, nil, &ValidationError{Kind: string(KindAssignment), Name: a.Name, Field: "policy", Value: a.Policy, Allowed: "the name of an existing UpdatePolicy"}
			}
			log.Warn("assignment left out: its policy does not exist", "assignment", a.Name, "policy", a.Policy)
			continue
		}
		a.App = p.Value.App
		assigned = append(assigned, a)
	}
	slices.SortFunc(assigned, func(a, b fleet.Assignment) int { return strings.Compare(a.Name, b.Name) })
	for {
		idx, err := fleet.NewIndex(groups, assigned)
		if err == nil {
			c.Index = idx
			break
		}
		if strict {
			return nil, nil, err
		}
		var ng []fleet.DeviceGroup
		var na []fleet.Assignment
		if ng, na = dropOffender(err, groups, assigned); len(ng) == len(groups) && len(na) == len(assigned) {
			return nil, nil, fmt.Errorf("controller: index assignments: %w", err)
		}
		log.Error("left out of the assignment index until fixed", "err", err)
		groups, assigned = ng, na
	}
	indexed := make(map[string]fleet.Assignment, len(assigned))
	for _, a := range assigned {
		indexed[a.Name] = a
	}
	return c, indexed, nil
}

// dropOffender removes what err names: the invalid group or assignment,
// or both assignments of a tie (so that neither is chosen by accident).
func dropOffender(err error, groups []fleet.DeviceGroup, assigned []fleet.Assignment) ([]fleet.DeviceGroup, []fleet.Assignment) {
	var drop []string
	var ve *fleet.ValidationError
	var te *fleet.TieError
	switch {
	case errors.As(err, &te):
		drop = []string{te.First, te.Second}
	case errors.As(err, &ve) && ve.Kind == "group":
		return slices.DeleteFunc(slices.Clone(groups), func(g fleet.DeviceGroup) bool { return g.Name == ve.Name }), assigned
	case errors.As(err, &ve):
		drop = []string{ve.Name}
	}
	return groups, slices.DeleteFunc(slices.Clone(assigned), func(a fleet.Assignment) bool { return slices.Contains(drop, a.Name) })
}

// catalogChange is one change to the desired state.
type catalogChange struct {
	kind Kind
	name string
	// apply updates the desired state; nil for a synced marker.
	apply func(d *desired)
}

// watches are the reconciler's running store watches.
type watches struct {
	changes chan catalogChange
	synced  chan Kind
}

// watchedKinds are what must be loaded before the reconciler is ready.
var watchedKinds = []Kind{KindPolicy, KindRelease, KindGroup, KindAssignment, KindRule, KindDevice, KindDirective}

func (r *Reconciler) startWatches(ctx context.Context, wg *sync.WaitGroup, fail func(error)) (*watches, error) {
	w := &watches{changes: make(chan catalogChange, 256), synced: make(chan Kind, len(watchedKinds))}
	s := r.store
	if err := forward(ctx, wg, r, w, fail, s.Policies(),
		func(d *desired, rec Record[policy.UpdatePolicy]) { d.policies[rec.Name] = rec },
		func(d *desired, name string) { delete(d.policies, name) }); err != nil {
		return nil, err
	}
	if err := forward(ctx, wg, r, w, fail, s.Releases(),
		func(d *desired, rec Record[policy.Release]) { d.releases[rec.Name] = rec.Value },
		func(d *desired, name string) { delete(d.releases, name) }); err != nil {
		return nil, err
	}
	if err := forward(ctx, wg, r, w, fail, s.Groups(),
		func(d *desired, rec Record[fleet.DeviceGroup]) { d.groups[rec.Name] = rec.Value },
		func(d *desired, name string) { delete(d.groups, name) }); err != nil {
		return nil, err
	}
	if err := forward(ctx, wg, r, w, fail, s.Assignments(),
		func(d *desired, rec Record[fleet.Assignment]) { d.assignments[rec.Name] = rec.Value },
		func(d *desired, name string) { delete(d.assignments, name) }); err != nil {
		return nil, err
	}
	if err := forward(ctx, wg, r, w, fail, s.Rules(),
		func(d *desired, rec Record[policy.Rule]) { d.rules[rec.Name] = rec.Value },
		func(d *desired, name string) { delete(d.rules, name) }); err != nil {
		return nil, err
	}
	devices, err := s.Devices().Watch(ctx)
	if err != nil {
		return nil, err
	}
	wg.Go(func() { r.watchDevices(ctx, devices, w.synced, fail) })
	directives, err := s.Directives().Watch(ctx)
	if err != nil {
		return nil, err
	}
	wg.Go(func() { r.watchDirectives(ctx, directives, w.synced, fail) })
	return w, nil
}

// forward turns one collection's watch into catalog changes.
func forward[T any](ctx context.Context, wg *sync.WaitGroup, r *Reconciler, w *watches, fail func(error), c *Collection[T],
	put func(*desired, Record[T]), del func(*desired, string)) error {
	ch, err := c.Watch(ctx)
	if err != nil {
		return err
	}
	wg.Go(func() {
		for ev := range ch {
			var cc catalogChange
			switch ev.Op {
			case ChangeSynced:
				w.synced <- c.Kind()
				continue
			case ChangePut:
				if ev.Err != nil {
					r.log.Error("stored object ignored", "kind", string(c.Kind()), "name", ev.Name, "revision", ev.Revision, "err", ev.Err)
					continue
				}
				rec := ev.Record
				cc = catalogChange{kind: c.Kind(), name: ev.Name, apply: func(d *desired) { put(d, rec) }}
			case ChangeDelete:
				name := ev.Name
				cc = catalogChange{kind: c.Kind(), name: name, apply: func(d *desired) { del(d, name) }}
			}
			select {
			case w.changes <- cc:
			case <-ctx.Done():
				return
			}
		}
		if ctx.Err() == nil {
			fail(fmt.Errorf("controller: reconciler: watch of %s ended", c.Kind()))
		}
	})
	return nil
}

// waitSynced applies the initial state of every watch and builds the
// first snapshot.
func (r *Reconciler) waitSynced(ctx context.Context, w *watches, errc <-chan error) error {
	r.d = newDesired()
	pending := len(watchedKinds)
	for pending > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			return err
		case cc := <-w.changes:
			cc.apply(r.d)
		case <-w.synced:
			pending--
		}
	}
	// Changes already waiting belong to the initial state as much as any.
	for {
		select {
		case cc := <-w.changes:
			cc.apply(r.d)
			continue
		default:
		}
		break
	}
	snap, err := r.build(ctx, nil, true)
	if err != nil {
		return err
	}
	r.snap.Store(snap)
	return nil
}

// build makes a snapshot of r.d, compiling the rules again if asked to.
func (r *Reconciler) build(ctx context.Context, prev *snapshot, rulesChanged bool) (*snapshot, error) {
	d := r.d.clone()
	cat, indexed, err := buildCatalog(d, false, r.log)
	if err != nil {
		return nil, err
	}
	s := &snapshot{cat: cat, d: d, indexed: indexed}
	if prev != nil && !rulesChanged {
		s.eng = prev.eng
		return s, nil
	}
	rules := d.ruleList()
	for {
		eng, err := r.engineFor(ctx, rules)
		if err == nil {
			s.eng = eng
			return s, nil
		}
		var re *policy.RuleError
		if !errors.As(err, &re) || !slices.ContainsFunc(rules, func(x policy.Rule) bool { return x.Name == re.Name }) {
			return nil, fmt.Errorf("controller: reconciler: build engine: %w", err)
		}
		r.log.Error("rule left out until fixed", "rule", re.Name, "err", err)
		rules = slices.DeleteFunc(rules, func(x policy.Rule) bool { return x.Name == re.Name })
	}
}

// maxBatch caps how many changes are folded into one new snapshot.
const maxBatch = 1024

func (r *Reconciler) applyLoop(ctx context.Context, w *watches, fail func(error)) {
	for {
		var batch []catalogChange
		select {
		case <-ctx.Done():
			return
		case cc := <-w.changes:
			batch = append(batch, cc)
		}
	more:
		for len(batch) < maxBatch {
			select {
			case cc := <-w.changes:
				batch = append(batch, cc)
			default:
				break more
			}
		}
		if err := r.applyBatch(ctx, batch); err != nil {
			fail(err)
			return
		}
	}
}

// applyBatch folds changes into a new snapshot and queues the devices
// whose decisions they can change.
func (r *Reconciler) applyBatch(ctx context.Context, batch []catalogChange) error {
	rulesChanged := false
	for _, cc := range batch {
		cc.apply(r.d)
		rulesChanged = rulesChanged || cc.kind == KindRule
	}
	old := r.snap.Load()
	snap, err := r.build(ctx, old, rulesChanged)
	if err != nil {
		return err
	}
	r.snap.Store(snap)
	ids := r.affected(old, snap, batch)
	r.log.Debug("catalog changed", "changes", len(batch), "devices", len(ids))
	r.queue.add(ids...)
	return nil
}

// affected returns the devices whose decisions the changes can alter:
// every device when rules changed; for a release, the devices deciding its
// app; for a policy, group or assignment, the devices for which the app's
// resolution (applicable assignment, policy, policy revision, whether the
// app is decided at all) differs between the old and new catalog.
func (r *Reconciler) affected(old, cur *snapshot, batch []catalogChange) []string {
	touched := map[string]bool{} // apps whose resolution may change
	forced := map[string]bool{}  // apps whose every deciding device is affected
	for _, cc := range batch {
		switch cc.kind {
		case KindRule:
			return r.inv.ids()
		case KindPolicy:
			for _, s := range []*snapshot{old, cur} {
				if p, ok := s.d.policies[cc.name]; ok {
					touched[p.Value.App] = true
				}
			}
		case KindRelease:
			for _, s := range []*snapshot{old, cur} {
				if rel, ok := s.d.releases[cc.name]; ok {
					forced[rel.App] = true
				}
			}
		case KindGroup:
			for _, s := range []*snapshot{old, cur} {
				for _, a := range s.cat.Index.Assignments(cc.name) {
					touched[a.App] = true
				}
			}
		case KindAssignment:
			// Also an assignment left out of the index: one that ties
			// takes the other out with it, and removing it brings the
			// other back.
			for _, s := range []*snapshot{old, cur} {
				if a, ok := s.indexed[cc.name]; ok {
					touched[a.App] = true
				}
				if a, ok := s.d.assignments[cc.name]; ok {
					if p, ok := s.d.policies[a.Policy]; ok {
						touched[p.Value.App] = true
					}
				}
			}
		}
	}
	if len(touched) == 0 && len(forced) == 0 {
		return nil
	}
	var out []string
	for _, dev := range r.inv.devices() {
		oldApps, curApps := old.cat.Apps(dev), cur.cat.Apps(dev)
		hit := false
		for app := range forced {
			if slices.Contains(oldApps, app) || slices.Contains(curApps, app) {
				hit = true
				break
			}
		}
		for app := range touched {
			if hit {
				break
			}
			hit = resolve(old.cat, dev, app, oldApps) != resolve(cur.cat, dev, app, curApps)
		}
		if hit {
			out = append(out, dev.ID)
		}
	}
	return out
}

// resolution is what decides which policy, if any, governs an app on a
// device.
type resolution struct {
	decided    bool
	assignment string
	policy     string
	revision   uint64
	ambiguous  string
}

func resolve(c *Catalog, dev policy.Device, app string, apps []string) resolution {
	res := resolution{decided: slices.Contains(apps, app)}
	a, ok, err := c.Index.Resolve(dev.ID, dev.Labels, app)
	switch {
	case err != nil:
		res.ambiguous = err.Error()
	case ok:
		res.assignment, res.policy = a.Name, a.Policy
		res.revision = c.Policies[a.Policy].Revision
	}
	return res
}
