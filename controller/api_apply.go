package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/policy"
)

// RevisionAnnotation, on a manifest, makes apply write the object only if
// its stored revision still equals the annotation's value.
const RevisionAnnotation = "sluice.dev/revision"

// Apply actions.
const (
	ApplyCreated   = "created"
	ApplyUpdated   = "updated"
	ApplyUnchanged = "unchanged"
)

// ApplyResult is the answer of POST /api/v1/apply.
type ApplyResult struct {
	DryRun  bool          `json:"dryRun"`
	Objects []ApplyObject `json:"objects"`
	Impact  *Impact       `json:"impact,omitempty"`
}

// ApplyObject is what apply did (or would do) to one object.
type ApplyObject struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Action   string `json:"action"`
	Revision uint64 `json:"revision"`
}

// stored is the desired state as stored: a manifest set (for validation
// against it) and each object's revision.
type stored struct {
	set       *manifest.Set
	revisions map[string]uint64 // manifest kind + "/" + name
	values    map[string][]byte // the stored value's JSON, for "unchanged"
	policies  map[string]policy.UpdatePolicy
	releases  map[string]policy.Release
	rules     []policy.Rule
}

func storedKey(kind, name string) string { return kind + "/" + name }

func collect[T any](ctx context.Context, c *Collection[T], kind string, st *stored, add func(Record[T])) error {
	recs, err := c.List(ctx)
	if err != nil {
		return fmt.Errorf("read stored %s objects: %w", c.Kind(), err)
	}
	for _, rec := range recs {
		st.revisions[storedKey(kind, rec.Name)] = rec.Revision
		v, err := json.Marshal(rec.Value)
		if err != nil {
			return fmt.Errorf("encode stored %s %q: %w", c.Kind(), rec.Name, err)
		}
		st.values[storedKey(kind, rec.Name)] = v
		add(rec)
	}
	return nil
}

// loadStored reads every release, policy, group, assignment and rule.
func (a *API) loadStored(ctx context.Context) (*stored, error) {
	st := &stored{set: &manifest.Set{}, revisions: map[string]uint64{}, values: map[string][]byte{}, policies: map[string]policy.UpdatePolicy{}, releases: map[string]policy.Release{}}
	s, set := a.store, st.set
	err := errors.Join(
		collect(ctx, s.Releases(), policy.KindRelease, st, func(r Record[policy.Release]) {
			set.Releases = append(set.Releases, manifest.Release{Meta: manifest.Meta{Name: r.Name}, Spec: r.Value})
			st.releases[r.Name] = r.Value
		}),
		collect(ctx, s.Policies(), policy.KindUpdatePolicy, st, func(r Record[policy.UpdatePolicy]) {
			set.Policies = append(set.Policies, manifest.Policy{Meta: manifest.Meta{Name: r.Name}, Spec: r.Value})
			st.policies[r.Name] = r.Value
		}),
		collect(ctx, s.Groups(), policy.KindDeviceGroup, st, func(r Record[fleet.DeviceGroup]) {
			set.Groups = append(set.Groups, manifest.Group{Meta: manifest.Meta{Name: r.Name}, Spec: r.Value})
		}),
		collect(ctx, s.Assignments(), policy.KindAssignment, st, func(r Record[fleet.Assignment]) {
			set.Assignments = append(set.Assignments, manifest.Assignment{Meta: manifest.Meta{Name: r.Name}, Spec: r.Value})
		}),
		collect(ctx, s.Rules(), policy.KindRule, st, func(r Record[policy.Rule]) {
			set.Rules = append(set.Rules, manifest.Rule{Meta: manifest.Meta{Name: r.Name}, Spec: r.Value})
			st.rules = append(st.rules, r.Value)
		}),
	)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// applyStep is one object of an apply, ready to be written.
type applyStep struct {
	kind, name string
	// expected is the revision the write is conditional on.
	expected uint64
	// pinned is set when the manifest carried a revision annotation.
	pinned bool
	action string
	write  func(ctx context.Context, expected uint64, by string) (uint64, error)
}

func putter[T any](c *Collection[T], name string, v T) func(context.Context, uint64, string) (uint64, error) {
	return func(ctx context.Context, expected uint64, by string) (uint64, error) {
		rec, err := c.Put(ctx, name, v, expected, by)
		return rec.Revision, err
	}
}

func (a *API) apply(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r.URL.Query(), "dryRun", "file")
	if err != nil {
		return err
	}
	dryRun := false
	if v, ok := q["dryRun"]; ok {
		if dryRun, err = strconv.ParseBool(v); err != nil {
			return badParam("dryRun", v, "true or false")
		}
	}
	file, named := q["file"]
	if file == "" {
		file = "request"
	}
	set, err := a.readManifests(w, r, file, named)
	if err != nil {
		return err
	}
	if len(set.Devices) > 0 {
		return &apiError{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf(
			"Device %q cannot be applied: devices enter the inventory from their own reports, and their labels come from the agent's configuration", set.Devices[0].Meta.Name)}
	}
	if set.Len() == 0 {
		return badRequest("the body holds no manifests; want one or more YAML or JSON documents with apiVersion %s", policy.APIVersion)
	}
	// Releases are stored under "<app>.<versionCode>", whatever the
	// manifest calls them, so that one release has one name.
	for i := range set.Releases {
		set.Releases[i].Meta.Name = ReleaseName(set.Releases[i].Spec.App, set.Releases[i].Spec.VersionCode)
	}

	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	st, err := a.loadStored(ctx)
	if err != nil {
		return err
	}
	if err := set.ValidateAgainst(st.set); err != nil {
		return err
	}
	if err := a.authorizeApply(r, set, st); err != nil {
		return err
	}
	if len(set.Rules) > 0 {
		if err := compileRules(ctx, st.rules, set.RuleSpecs()); err != nil {
			return err
		}
	}
	plan, err := planApply(a.store, set, st)
	if err != nil {
		return err
	}
	impact, err := a.decider.DryRun(ctx, set, nil)
	if err != nil {
		return fmt.Errorf("evaluate the impact of the change: %w", err)
	}
	res := ApplyResult{DryRun: dryRun, Impact: impact, Objects: make([]ApplyObject, 0, len(plan))}
	if dryRun {
		for _, p := range plan {
			res.Objects = append(res.Objects, ApplyObject{Kind: p.kind, Name: p.name, Action: p.action, Revision: st.revisions[storedKey(p.kind, p.name)]})
		}
		return writeJSON(w, http.StatusOK, res)
	}
	who := principalFrom(r.Context())
	for i, p := range plan {
		rev := st.revisions[storedKey(p.kind, p.name)]
		if p.action != ApplyUnchanged {
			rev, err = p.write(ctx, p.expected, who.Name)
			a.auditResult(r, auditTarget{Action: "apply", Kind: string(storeKind(p.kind)), Name: p.name, Revision: rev}, err)
			if err != nil {
				ae := statusOf(fmt.Errorf("apply %s %q: %w", p.kind, p.name, err))
				for _, done := range res.Objects {
					ae.Errors = append(ae.Errors, fmt.Sprintf("%s %q: %s at revision %d before this failure", done.Kind, done.Name, done.Action, done.Revision))
				}
				for _, rest := range plan[i+1:] {
					ae.Errors = append(ae.Errors, fmt.Sprintf("%s %q: not applied", rest.kind, rest.name))
				}
				return ae
			}
		}
		res.Objects = append(res.Objects, ApplyObject{Kind: p.kind, Name: p.name, Action: p.action, Revision: rev})
	}
	return writeJSON(w, http.StatusOK, res)
}

// storeKind maps a manifest kind to the stored kind.
func storeKind(manifestKind string) Kind {
	for _, k := range apiKinds {
		if k.Manifest == manifestKind {
			return k.Kind
		}
	}
	return Kind(manifestKind)
}

// planApply decides, per object in dependency order (releases, rules,
// policies, groups, assignments), whether it is created, updated or
// unchanged and which revision its write expects.
func planApply(s *Store, set *manifest.Set, st *stored) ([]applyStep, error) {
	var plan []applyStep
	var errs []error
	add := func(kind string, meta manifest.Meta, value any, write func(context.Context, uint64, string) (uint64, error)) {
		p := applyStep{kind: kind, name: meta.Name, write: write}
		key := storedKey(kind, meta.Name)
		cur, exists := st.revisions[key]
		if v, ok := meta.Annotations[RevisionAnnotation]; ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				errs = append(errs, badRequest("%s %q: metadata.annotations[%s]: %q is not allowed; want the revision the change is based on, a whole number (0 to create)", kind, meta.Name, RevisionAnnotation, v))
				return
			}
			if n != cur {
				errs = append(errs, &ConflictError{Kind: storeKind(kind), Name: meta.Name, Expected: n, Current: cur})
				return
			}
			p.pinned = true
		}
		p.expected = CreateOnly
		if exists {
			p.expected = cur
		}
		data, err := json.Marshal(value)
		if err != nil {
			errs = append(errs, fmt.Errorf("encode %s %q: %w", kind, meta.Name, err))
			return
		}
		switch {
		case !exists:
			p.action = ApplyCreated
		case bytes.Equal(data, st.values[key]):
			p.action = ApplyUnchanged
		case kind == policy.KindRelease:
			stored, given := st.releases[meta.Name], value.(policy.Release)
			if stored.Artifact.SHA256 == given.Artifact.SHA256 && (given.Artifact.SHA256 != "" ||
				stored.VersionName == given.VersionName && stored.AppStoreID == given.AppStoreID) {
				p.action = ApplyUnchanged
				break
			}
			errs = append(errs, &ImmutableError{App: given.App, VersionCode: given.VersionCode, StoredSHA256: stored.Artifact.SHA256, GivenSHA256: given.Artifact.SHA256})
			return
		default:
			p.action = ApplyUpdated
		}
		plan = append(plan, p)
	}
	for _, o := range set.Releases {
		add(policy.KindRelease, o.Meta, o.Spec, putter(s.Releases(), o.Meta.Name, o.Spec))
	}
	for _, o := range set.Rules {
		add(policy.KindRule, o.Meta, o.Spec, putter(s.Rules(), o.Meta.Name, o.Spec))
	}
	for _, o := range set.Policies {
		add(policy.KindUpdatePolicy, o.Meta, o.Spec, putter(s.Policies(), o.Meta.Name, o.Spec))
	}
	for _, o := range set.Groups {
		add(policy.KindDeviceGroup, o.Meta, o.Spec, putter(s.Groups(), o.Meta.Name, o.Spec))
	}
	for _, o := range set.Assignments {
		add(policy.KindAssignment, o.Meta, o.Spec, putter(s.Assignments(), o.Meta.Name, o.Spec))
	}
	if len(errs) > 0 {
		if len(errs) == 1 {
			return nil, errs[0]
		}
		ae := statusOf(errs[0])
		for _, e := range errs {
			ae.Errors = append(ae.Errors, userMessage(e))
		}
		return nil, ae
	}
	return plan, nil
}

// compileRules compiles the stored rules with the new ones replacing those
// of the same name, so that a rule that does not compile is refused before
// anything is written.
func compileRules(ctx context.Context, storedRules, newRules []policy.Rule) error {
	byName := make(map[string]int, len(storedRules))
	all := make([]policy.Rule, 0, len(storedRules)+len(newRules))
	for _, r := range storedRules {
		byName[r.Name] = len(all)
		all = append(all, r)
	}
	for _, r := range newRules {
		if i, ok := byName[r.Name]; ok {
			all[i] = r
			continue
		}
		all = append(all, r)
	}
	if _, err := policy.NewEngine(ctx, policy.Config{Rules: all}); err != nil {
		var re *policy.RuleError
		if errors.As(err, &re) {
			return &apiError{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf("Rule %q does not compile: %v", re.Name, re.Err)}
		}
		return fmt.Errorf("compile rules: %w", err)
	}
	return nil
}
