package policy

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Releases and policies change far less often than decisions are taken:
// the same few are part of every decision about an app. Their ast terms,
// and the canonical encodings the decision id digests, are built once and
// kept here. An entry is found by identity (app, versions, track and time
// of a release; name and revision of a policy) and used only when the
// release or policy is equal to the one it was built from, so that a
// caller who reuses a revision number for a changed policy still gets the
// right document. Entries are immutable; the caches are cleared when they
// reach maxCached entries.

type termCache[K comparable, V any] struct {
	m     sync.Map // K -> *cachedTerm[V]
	count atomic.Int64
}

type cachedTerm[V any] struct {
	of    V // a deep copy of what term was built from
	term  *ast.Term
	canon []byte // appendCanonical of term
}

// get returns the term of v, building it with build on a miss.
func (c *termCache[K, V]) get(k K, v *V, equal func(a, b *V) bool, clone func(V) V, build func(*V) *ast.Term) *cachedTerm[V] {
	if hit, ok := c.m.Load(k); ok {
		e := hit.(*cachedTerm[V])
		if equal(&e.of, v) {
			return e
		}
	}
	t := build(v)
	e := &cachedTerm[V]{of: clone(*v), term: t, canon: appendCanonical(nil, t.Value, nil)}
	if c.count.Add(1) > maxCached {
		c.m.Clear()
		c.count.Store(1)
	}
	c.m.Store(k, e)
	return e
}

type releaseKey struct {
	app, versionName, track string
	versionCode, published  int64
}

type policyKey struct {
	name     string
	revision uint64
}

var (
	releaseTerms termCache[releaseKey, Release]
	policyTerms  termCache[policyKey, InputPolicy]
)

func cachedReleaseTerm(r *Release) *cachedTerm[Release] {
	k := releaseKey{app: r.App, versionName: r.VersionName, track: r.Track, versionCode: r.VersionCode, published: r.PublishedAt.UnixNano()}
	return releaseTerms.get(k, r, releaseEqual, cloneRelease, releaseTerm)
}

func cachedPolicyTerm(p *InputPolicy) *cachedTerm[InputPolicy] {
	return policyTerms.get(policyKey{p.Name, p.Revision}, p, policyEqual, clonePolicy, policyTerm)
}

func releaseEqual(a, b *Release) bool {
	return a.App == b.App && a.VersionName == b.VersionName && a.VersionCode == b.VersionCode && a.Track == b.Track &&
		a.PublishedAt.Equal(b.PublishedAt) && a.PublishedAt.Location() == b.PublishedAt.Location() &&
		a.ReleaseNotes == b.ReleaseNotes && a.AppStoreID == b.AppStoreID &&
		a.Artifact.SHA256 == b.Artifact.SHA256 && a.Artifact.Size == b.Artifact.Size && a.Artifact.MinSDK == b.Artifact.MinSDK &&
		nilEqual(a.Artifact.URLs, b.Artifact.URLs) && nilEqual(a.Artifact.SignerSHA256, b.Artifact.SignerSHA256)
}

// nilEqual is slices.Equal that tells nil from empty, as JSON does.
func nilEqual(a, b []string) bool {
	return (a == nil) == (b == nil) && slices.Equal(a, b)
}

func cloneRelease(r Release) Release {
	r.Artifact.URLs = slices.Clone(r.Artifact.URLs)
	r.Artifact.SignerSHA256 = slices.Clone(r.Artifact.SignerSHA256)
	return r
}

// policyEqual compares every field, telling nil from empty slices as JSON
// does.
func policyEqual(a, b *InputPolicy) bool {
	x, y := &a.Spec, &b.Spec
	return a.Name == b.Name && a.Revision == b.Revision &&
		x.App == y.App && nilEqual(x.Platforms, y.Platforms) && nilEqual(x.Channels, y.Channels) &&
		x.Track == y.Track && x.Mode == y.Mode && x.PostponeDays == y.PostponeDays &&
		ptrEqual(x.Eligible, y.Eligible) && nilEqual(x.ExcludedVersions, y.ExcludedVersions) &&
		ptrEqual(x.Target, y.Target) && x.MinClientVersion == y.MinClientVersion &&
		effectiveEqual(x.Effective, y.Effective) && constraintsEqual(x.Constraints, y.Constraints) &&
		ptrEqual(x.MaintenanceWindow, y.MaintenanceWindow) && ptrEqual(x.Prompt, y.Prompt) &&
		x.Force == y.Force && ptrEqual(x.Rollout, y.Rollout) && x.InstallType == y.InstallType
}

// ptrEqual compares two pointers to comparable structs by value.
func ptrEqual[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func effectiveEqual(a, b *Effective) bool {
	if a == nil || b == nil {
		return a == b
	}
	return timePtrEqual(a.Start, b.Start) && timePtrEqual(a.End, b.End)
}

func timePtrEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b) && a.Location() == b.Location()
}

func constraintsEqual(a, b *ConstraintOverrides) bool {
	if a == nil || b == nil {
		return a == b
	}
	return ptrEqual(a.UnmeteredNetwork, b.UnmeteredNetwork) && ptrEqual(a.Charging, b.Charging) &&
		ptrEqual(a.Idle, b.Idle) && ptrEqual(a.NotForeground, b.NotForeground)
}

func clonePolicy(p InputPolicy) InputPolicy {
	s := &p.Spec
	s.Platforms = slices.Clone(s.Platforms)
	s.Channels = slices.Clone(s.Channels)
	s.ExcludedVersions = slices.Clone(s.ExcludedVersions)
	s.Eligible = clonePtr(s.Eligible)
	s.Target = clonePtr(s.Target)
	if e := s.Effective; e != nil {
		s.Effective = &Effective{Start: clonePtr(e.Start), End: clonePtr(e.End)}
	}
	if c := s.Constraints; c != nil {
		s.Constraints = &ConstraintOverrides{
			UnmeteredNetwork: clonePtr(c.UnmeteredNetwork), Charging: clonePtr(c.Charging),
			Idle: clonePtr(c.Idle), NotForeground: clonePtr(c.NotForeground),
		}
	}
	s.MaintenanceWindow = clonePtr(s.MaintenanceWindow)
	s.Prompt = clonePtr(s.Prompt)
	s.Rollout = clonePtr(s.Rollout)
	return p
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}
