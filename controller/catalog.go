package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// Catalog is the desired state decisions are made from: the policies with
// their revisions, the releases of each app and the assignment index. A
// Catalog is immutable once built; the reconciler swaps in a new one on
// every change, so evaluations never see half an update.
type Catalog struct {
	Policies map[string]PolicyVersion
	// Releases holds every release of each app, keyed by package.
	Releases map[string][]policy.Release
	Index    *fleet.Index
}

// PolicyVersion is one revision of a named policy.
type PolicyVersion struct {
	Spec     policy.UpdatePolicy
	Revision uint64
}

// CatalogFromSet builds a catalog from manifests loaded offline (sluice
// eval). Policies have revision 0 there: they are not stored anywhere yet.
func CatalogFromSet(s *manifest.Set) (*Catalog, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	idx, err := s.FleetIndex()
	if err != nil {
		return nil, err
	}
	c := &Catalog{
		Policies: make(map[string]PolicyVersion, len(s.Policies)),
		Releases: make(map[string][]policy.Release),
		Index:    idx,
	}
	for _, p := range s.Policies {
		c.Policies[p.Meta.Name] = PolicyVersion{Spec: p.Spec}
	}
	for _, r := range s.Releases {
		c.Releases[r.Spec.App] = append(c.Releases[r.Spec.App], r.Spec)
	}
	return c, nil
}

// Apps returns, sorted, the apps to decide for dev: those an assignment
// applies to, plus installed apps that some policy governs (so that a
// managed app outside the device's groups shows up as NO_POLICY instead of
// silently missing). Other installed packages are not Sluice's business.
func (c *Catalog) Apps(dev policy.Device) []string {
	apps := c.Index.Apps(dev.ID, dev.Labels)
	governed := make(map[string]bool, len(c.Policies))
	for _, p := range c.Policies {
		governed[p.Spec.App] = true
	}
	for app := range dev.Apps {
		if governed[app] && !slices.Contains(apps, app) {
			apps = append(apps, app)
		}
	}
	slices.Sort(apps)
	return apps
}

// Decision is one evaluated decision with the input it was made from
// (nil when no evaluation was possible, such as an ambiguous assignment).
type Decision struct {
	policy.Decision
	Input *policy.Input
}

// Decide evaluates the decision for dev and app at the given time.
func (c *Catalog) Decide(ctx context.Context, eng *policy.Engine, dev policy.Device, app string, at time.Time) (Decision, error) {
	req := policy.Request{Device: dev, App: app, Releases: c.Releases[app], At: at}
	a, ok, err := c.Index.Resolve(dev.ID, dev.Labels, app)
	var amb *fleet.AmbiguousError
	switch {
	case errors.As(err, &amb):
		return ambiguous(dev.ID, app, at, amb), nil
	case err != nil:
		return Decision{}, fmt.Errorf("resolve %s on %s: %w", app, dev.ID, err)
	case ok:
		p, found := c.Policies[a.Policy]
		if !found {
			return Decision{}, fmt.Errorf("resolve %s on %s: assignment %q names policy %q, which does not exist", app, dev.ID, a.Name, a.Policy)
		}
		spec := p.Spec
		req.Policy, req.PolicyName, req.PolicyRevision = &spec, a.Policy, p.Revision
	}
	in, err := policy.BuildInput(req)
	if err != nil {
		return Decision{}, fmt.Errorf("evaluate %s on %s: %w", app, dev.ID, err)
	}
	d, err := eng.Evaluate(ctx, in)
	if err != nil {
		return Decision{}, fmt.Errorf("evaluate %s on %s: %w", app, dev.ID, err)
	}
	return Decision{Decision: d, Input: &in}, nil
}

// DecideAll evaluates every app of dev (see [Catalog.Apps]).
func (c *Catalog) DecideAll(ctx context.Context, eng *policy.Engine, dev policy.Device, at time.Time) ([]Decision, error) {
	apps := c.Apps(dev)
	out := make([]Decision, 0, len(apps))
	for _, app := range apps {
		d, err := c.Decide(ctx, eng, dev, app, at)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// ambiguous is the decision for a device two equal-priority assignments
// reach at once: nothing happens until an admin breaks the tie.
func ambiguous(device, app string, at time.Time, e *fleet.AmbiguousError) Decision {
	msg := fmt.Sprintf("Assignments %q and %q both apply to this device for %s with priority %d; nothing is updated until an admin gives one of them a higher priority.",
		e.First, e.Second, app, e.Priority)
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%s", device, app, at.UTC().Format(time.RFC3339Nano), msg))
	return Decision{Decision: policy.Decision{
		DecisionID:  hex.EncodeToString(sum[:16]),
		Device:      device,
		App:         app,
		Action:      protocol.ActionNone,
		Reasons:     []protocol.Reason{{Code: protocol.ReasonAmbiguousAssignment, Message: msg}},
		EvaluatedAt: at,
	}}
}
