package manifest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/policy"
)

const (
	// maxListedNames bounds the names an error lists as allowed.
	maxListedNames = 10
	// maxReportedTies bounds the ties reported, each of which costs an
	// index build.
	maxReportedTies = 20
)

// Validate checks the references between the set's objects, as if nothing
// else existed: see [Set.ValidateAgainst].
func (s *Set) Validate() error { return s.ValidateAgainst(nil) }

// ValidateAgainst checks s as it would stand once applied over existing
// (objects already stored, such as the controller's; nil for none): each
// object of s replaces the object of existing with the same kind and name.
// It checks that
//
//   - every Assignment of s names an existing UpdatePolicy and existing
//     DeviceGroups;
//   - no Release of s repeats the versionCode of another release of the
//     same app;
//   - no two assignments for the same app with the same priority can apply
//     to the same device (fleet's tie check, see [fleet.NewIndex]).
//
// It fills in each assignment's App from its policy. Every problem is
// reported, as [*Error]s joined with errors.Join; objects of existing are
// trusted and only named when s conflicts with them.
func (s *Set) ValidateAgainst(existing *Set) error {
	merged := overlay(existing, s)
	s.fillApps(merged)
	merged.fillApps(nil)
	own := ownership(s)
	var errs []error
	policies := namesOf(merged.Policies, func(p Policy) string { return p.Meta.Name })
	groups := namesOf(merged.Groups, func(g Group) string { return g.Meta.Name })
	for _, a := range s.Assignments {
		r := report{src: a.Source, kind: policy.KindAssignment, name: a.Meta.Name, errs: &errs}
		if !slices.Contains(policies, a.Spec.Policy) {
			r.field("spec.policy", strconv.Quote(a.Spec.Policy), "is not a known UpdatePolicy", known(policies))
		}
		for i, g := range a.Spec.Groups {
			if !slices.Contains(groups, g) {
				r.field(fmt.Sprintf("spec.groups[%d]", i), strconv.Quote(g), "is not a known DeviceGroup", known(groups))
			}
		}
	}
	checkVersionCodes(merged, own, &errs)
	checkTies(merged, own, policies, groups, &errs)
	return errors.Join(errs...)
}

func known(names []string) string {
	if len(names) == 0 {
		return "none are defined"
	}
	sorted := slices.Sorted(slices.Values(names))
	if len(sorted) > maxListedNames {
		return "one of " + strings.Join(sorted[:maxListedNames], ", ") + fmt.Sprintf(" (and %d more)", len(sorted)-maxListedNames)
	}
	return "one of " + strings.Join(sorted, ", ")
}

func namesOf[T any](objs []T, name func(T) string) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = name(o)
	}
	return out
}

// overlay returns existing with every object of s added, replacing those of
// the same kind and name.
func overlay(existing, s *Set) *Set {
	if existing == nil {
		existing = &Set{}
	}
	return &Set{
		Releases:    overlayKind(existing.Releases, s.Releases, func(o Release) string { return o.Meta.Name }),
		Policies:    overlayKind(existing.Policies, s.Policies, func(o Policy) string { return o.Meta.Name }),
		Groups:      overlayKind(existing.Groups, s.Groups, func(o Group) string { return o.Meta.Name }),
		Assignments: overlayKind(existing.Assignments, s.Assignments, func(o Assignment) string { return o.Meta.Name }),
		Devices:     overlayKind(existing.Devices, s.Devices, func(o Device) string { return o.Meta.Name }),
		Rules:       overlayKind(existing.Rules, s.Rules, func(o Rule) string { return o.Meta.Name }),
	}
}

func overlayKind[T any](base, over []T, name func(T) string) []T {
	replaced := make(map[string]bool, len(over))
	for _, o := range over {
		replaced[name(o)] = true
	}
	out := make([]T, 0, len(base)+len(over))
	for _, b := range base {
		if !replaced[name(b)] {
			out = append(out, b)
		}
	}
	return append(out, over...)
}

// owned records which objects (kind and name) come from the set being
// validated, as opposed to the existing ones.
type owned map[string]bool

func ownership(s *Set) owned {
	o := owned{}
	for _, r := range s.Releases {
		o[policy.KindRelease+"/"+r.Meta.Name] = true
	}
	for _, a := range s.Assignments {
		o[policy.KindAssignment+"/"+a.Meta.Name] = true
	}
	return o
}

// checkVersionCodes refuses two releases of one app with one versionCode.
func checkVersionCodes(merged *Set, own owned, errs *[]error) {
	type key struct {
		app  string
		code int64
	}
	first := map[key]Release{}
	// Existing releases first, so that a conflict is blamed on the new one.
	ordered := slices.Clone(merged.Releases)
	slices.SortStableFunc(ordered, func(a, b Release) int {
		return boolCmp(own[policy.KindRelease+"/"+a.Meta.Name], own[policy.KindRelease+"/"+b.Meta.Name])
	})
	for _, rel := range ordered {
		k := key{rel.Spec.App, rel.Spec.VersionCode}
		prev, dup := first[k]
		if !dup {
			first[k] = rel
			continue
		}
		r := report{src: rel.Source, kind: policy.KindRelease, name: rel.Meta.Name, errs: errs}
		r.field("spec.versionCode", strconv.FormatInt(rel.Spec.VersionCode, 10),
			fmt.Sprintf("is already used for %s by Release %q%s", rel.Spec.App, prev.Meta.Name, where(prev.Source)),
			"one release per app and versionCode")
	}
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// checkTies runs fleet's index over the merged groups and the assignments
// whose references resolve, and reports every tie, blaming an assignment of
// the set being validated where it can.
func checkTies(merged *Set, own owned, policies, groups []string, errs *[]error) {
	specs := make([]fleet.DeviceGroup, len(merged.Groups))
	for i, g := range merged.Groups {
		specs[i] = g.Spec
	}
	byName := map[string]Assignment{}
	order := map[string]int{}
	var candidates []fleet.Assignment
	for i, a := range merged.Assignments {
		order[a.Meta.Name] = i
		if !slices.Contains(policies, a.Spec.Policy) || slices.ContainsFunc(a.Spec.Groups, func(g string) bool { return !slices.Contains(groups, g) }) {
			continue // reported above
		}
		byName[a.Meta.Name] = a
		candidates = append(candidates, a.Spec)
	}
	for reported := 0; ; reported++ {
		_, err := fleet.NewIndex(specs, candidates)
		if err == nil {
			return
		}
		if reported == maxReportedTies {
			*errs = append(*errs, &Error{Err: fmt.Errorf("more assignments tie; %d are listed above", maxReportedTies)})
			return
		}
		var tie *fleet.TieError
		if !errors.As(err, &tie) {
			*errs = append(*errs, &Error{Err: fmt.Errorf("index assignments: %w", err)})
			return
		}
		// Blame an assignment being validated over an existing one, and the
		// later of two.
		blamed, other := tie.Second, tie.First
		ownB, ownO := own[policy.KindAssignment+"/"+blamed], own[policy.KindAssignment+"/"+other]
		if ownO && !ownB || ownO == ownB && order[other] > order[blamed] {
			blamed, other = other, blamed
		}
		a, o := byName[blamed], byName[other]
		r := report{src: a.Source, kind: policy.KindAssignment, name: blamed, errs: errs}
		r.field("spec.priority", strconv.Itoa(tie.Priority),
			fmt.Sprintf("ties with Assignment %q%s for app %s: %s", other, where(o.Source), tie.App, tie.Why),
			fmt.Sprintf("a priority other than %d, or groups that cannot share a device", tie.Priority))
		candidates = slices.DeleteFunc(candidates, func(c fleet.Assignment) bool { return c.Name == blamed })
	}
}
