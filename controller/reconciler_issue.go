package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// Actors recorded as UpdatedBy on what the reconciler writes.
const (
	actorReconciler = "reconciler"
	actorReports    = "reports"
)

// decisionPath is the "path" of decision-log entries: the Rego document
// the decision comes from, as OPA names it in its own decision logs.
const decisionPath = "sluice/decision/decision"

// maxIssueAttempts bounds the compare-and-set retries of one directive.
const maxIssueAttempts = 8

// reconcile evaluates every app of a device against the current snapshot
// and issues a new directive if its decisions changed, its directive nears
// expiry, or minSeq asks for a sequence above the stored one. It returns
// the device's current directive (nil for a device not in the inventory).
func (r *Reconciler) reconcile(ctx context.Context, id string, minSeq uint64) (*issued, error) {
	unlock, err := r.locks.lock(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	snap, err := r.current()
	if err != nil {
		return nil, err
	}
	rec, ok := r.inv.get(id)
	if !ok {
		return nil, nil
	}
	now := r.now()
	start := time.Now()
	decs, err := snap.cat.DecideAll(ctx, snap.eng, rec.Value.Device, now)
	if err != nil {
		return nil, err
	}
	if n := len(decs); n > 0 {
		per := time.Since(start).Seconds() / float64(n)
		for _, d := range decs {
			r.metrics.Decisions.WithLabelValues(string(d.Action)).Inc()
			r.metrics.DecisionSeconds.Observe(per)
		}
	}
	return r.issue(ctx, id, decs, now, minSeq)
}

// issue compares decs with the device's last directive and, if needed,
// logs the changed decisions, signs the next directive, stores it with
// compare-and-set and publishes it to the device.
func (r *Reconciler) issue(ctx context.Context, id string, decs []Decision, now time.Time, minSeq uint64) (*issued, error) {
	last := r.dirs.get(id)
	logged := make(map[string]bool)
	for attempt := 1; ; attempt++ {
		if last != nil && staleCatalog(last.decisions, decs) {
			// Another replica issued from a newer policy revision than this
			// process has loaded: its watch will catch up and queue the
			// device again, rather than step the device back.
			r.log.Debug("directive not issued: catalog behind the stored directive", "device_id", id, "sequence", last.seq)
			return last, nil
		}
		merged, changed, setChanged := mergeDecisions(last, decs)
		renew := last == nil || last.expiresAt.Sub(now) < r.ttl/3 || minSeq > last.seq
		if !setChanged && !renew {
			return last, nil
		}
		for _, d := range changed {
			if logged[d.DecisionID] {
				continue
			}
			if err := r.logDecision(ctx, d, now); err != nil {
				return nil, err
			}
			logged[d.DecisionID] = true
		}
		seq, expected := uint64(1), CreateOnly
		if last != nil {
			seq, expected = last.seq+1, last.rev
		}
		seq = max(seq, minSeq+1)
		dir := &protocol.Directive{
			Version: protocol.Version, DeviceID: id, Sequence: seq,
			IssuedAt: now.UTC(), ExpiresAt: now.Add(r.ttl).UTC(), Decisions: merged,
		}
		env, err := r.signer.SignDirective(dir)
		if err != nil {
			return nil, fmt.Errorf("sign directive %d for %s: %w", seq, id, err)
		}
		stored, err := r.store.Directives().Put(ctx, id, DirectiveRecord{
			Sequence: seq, IssuedAt: dir.IssuedAt, ExpiresAt: dir.ExpiresAt, Envelope: env,
		}, expected, actorReconciler)
		if errors.Is(err, ErrConflict) && attempt < maxIssueAttempts {
			// Another replica issued first: compare against what it issued.
			if last, err = r.loadDirective(ctx, id); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store directive %d for %s: %w", seq, id, err)
		}
		is := &issued{rev: stored.Revision, seq: seq, issuedAt: dir.IssuedAt, expiresAt: dir.ExpiresAt, decisions: merged, env: env}
		r.dirs.set(id, is)
		if err := r.publish(id, env); err != nil {
			// Stored all the same: the device gets it on its next sync.
			r.log.Warn("publish directive", "device_id", id, "sequence", seq, "err", err)
		}
		r.log.Debug("directive issued", "device_id", id, "sequence", seq, "changed", len(changed))
		return is, nil
	}
}

// mergeDecisions keeps each previous decision whose outcome is unchanged
// (with its decision id, which the device reports back) and takes the new
// one otherwise. setChanged reports whether the directive's decisions
// differ at all, including apps no longer decided.
func mergeDecisions(last *issued, decs []Decision) (merged []policy.Decision, changed []Decision, setChanged bool) {
	merged = make([]policy.Decision, 0, len(decs))
	for _, d := range decs {
		if last != nil {
			if prev, ok := findDecision(last.decisions, d.App); ok && policy.SameOutcome(prev, d.Decision) == "" {
				merged = append(merged, prev)
				continue
			}
		}
		merged = append(merged, d.Decision)
		changed = append(changed, d)
	}
	setChanged = last == nil || len(changed) > 0 || len(last.decisions) != len(merged)
	return merged, changed, setChanged
}

// staleCatalog reports whether some new decision comes from an older
// revision of the policy that made the stored decision for the same app.
func staleCatalog(stored []policy.Decision, decs []Decision) bool {
	for _, d := range decs {
		prev, ok := findDecision(stored, d.App)
		if ok && prev.Policy != nil && d.Policy != nil && prev.Policy.Name == d.Policy.Name && prev.Policy.Revision > d.Policy.Revision {
			return true
		}
	}
	return false
}

func findDecision(decs []policy.Decision, app string) (policy.Decision, bool) {
	i := slices.IndexFunc(decs, func(d policy.Decision) bool { return d.App == app })
	if i < 0 {
		return policy.Decision{}, false
	}
	return decs[i], true
}

// logDecision appends one decision, with the input it was made from, to
// the decision log.
func (r *Reconciler) logDecision(ctx context.Context, d Decision, now time.Time) error {
	input := []byte("null")
	if d.Input != nil {
		var err error
		if input, err = json.Marshal(d.Input); err != nil {
			return fmt.Errorf("log decision %s: encode input: %w", d.DecisionID, err)
		}
	}
	result, err := json.Marshal(d.Decision)
	if err != nil {
		return fmt.Errorf("log decision %s: encode result: %w", d.DecisionID, err)
	}
	_, err = r.store.AppendDecision(ctx, DecisionLogEntry{
		DecisionID: d.DecisionID,
		Timestamp:  now,
		Path:       decisionPath,
		Input:      input,
		Result:     result,
		Labels:     map[string]string{"id": r.replica, "app": decisionLabelApp},
		Device:     d.Device,
		App:        d.App,
		Policy:     d.Policy,
	})
	return err
}

// decisionLabelApp names the program in decision-log labels, as OPA's
// labels name the OPA instance.
const decisionLabelApp = "sluice-controller"

// loadDirective reads a device's directive from the store into the cache.
func (r *Reconciler) loadDirective(ctx context.Context, id string) (*issued, error) {
	rec, err := r.store.Directives().Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	is, err := issuedFrom(rec)
	if err != nil {
		return nil, err
	}
	r.dirs.set(id, is)
	return is, nil
}

// publish pushes a signed directive to the device's directive subject.
func (r *Reconciler) publish(id string, env *protocol.Envelope) error {
	subject, err := protocol.DirectiveSubject(id)
	if err != nil {
		return err
	}
	data, err := json.Marshal(env)
	if err != nil {
		return err
	}
	if err := r.nc.Publish(subject, data); err != nil {
		return err
	}
	r.metrics.DirectivesPublished.Inc()
	return nil
}

// watchDevices keeps the inventory cache current with every replica's
// writes and queues devices changed by someone other than a report
// consumer (which queues the devices it updates itself).
func (r *Reconciler) watchDevices(ctx context.Context, ch <-chan Change[DeviceRecord], synced chan<- Kind, fail func(error)) {
	for ev := range ch {
		switch ev.Op {
		case ChangeSynced:
			synced <- KindDevice
		case ChangeDelete:
			r.inv.remove(ev.Name, ev.Revision)
		case ChangePut:
			if ev.Err != nil {
				r.log.Error("stored device ignored", "device_id", ev.Name, "revision", ev.Revision, "err", ev.Err)
				continue
			}
			old, had, applied := r.inv.set(ev.Record)
			if applied && ev.Record.UpdatedBy != actorReports && (!had || decisionRelevant(old.Value.Device, ev.Record.Value.Device)) {
				r.queue.add(ev.Name)
			}
		}
	}
	if ctx.Err() == nil {
		fail(errors.New("controller: reconciler: watch of devices ended"))
	}
}

// watchDirectives keeps the directive cache current with every replica's
// writes.
func (r *Reconciler) watchDirectives(ctx context.Context, ch <-chan Change[DirectiveRecord], synced chan<- Kind, fail func(error)) {
	for ev := range ch {
		switch ev.Op {
		case ChangeSynced:
			synced <- KindDirective
		case ChangeDelete:
			r.dirs.remove(ev.Name, ev.Revision)
		case ChangePut:
			if r.dirs.current(ev.Name, ev.Revision) {
				continue // this process's own write, cached when made
			}
			is, err := issuedFrom(ev.Record)
			if ev.Err != nil || err != nil {
				r.log.Error("stored directive ignored", "device_id", ev.Name, "revision", ev.Revision, "err", errors.Join(ev.Err, err))
				continue
			}
			r.dirs.set(ev.Name, is)
		}
	}
	if ctx.Err() == nil {
		fail(errors.New("controller: reconciler: watch of directives ended"))
	}
}
