package controller

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/policy"
)

// privilegedFields lists the fields of p that only admins may set: force,
// prompt.forceAfter, excludedVersions and target pins, with their values.
func privilegedFields(p policy.UpdatePolicy) map[string]string {
	out := map[string]string{}
	if p.Force {
		out["spec.force"] = "true"
	}
	if p.Prompt != nil && p.Prompt.ForceAfter != "" {
		out["spec.prompt.forceAfter"] = p.Prompt.ForceAfter
	}
	if len(p.ExcludedVersions) > 0 {
		out["spec.excludedVersions"] = strings.Join(p.ExcludedVersions, ",")
	}
	if p.Target != nil && p.Target.Version != "" {
		out["spec.target.version"] = p.Target.Version
	}
	if p.Target != nil && p.Target.VersionPrefix != "" {
		out["spec.target.versionPrefix"] = p.Target.VersionPrefix
	}
	return out
}

// privilegedChanges lists, sorted, the privileged fields that make a change
// of a policy from old (nil when it is new) to p an admin's business: every
// privileged field p carries (an operator must not re-target or re-scope a
// forced or pinned update either), and every one old carried that p drops
// or changes (taking a force or pin away is an admin's decision too).
func privilegedChanges(old *policy.UpdatePolicy, p policy.UpdatePolicy) []string {
	now := privilegedFields(p)
	var fields []string
	for f := range now {
		fields = append(fields, f)
	}
	if old != nil {
		for f, v := range privilegedFields(*old) {
			if now[f] != v && !slices.Contains(fields, f) {
				fields = append(fields, f)
			}
		}
	}
	slices.Sort(fields)
	return fields
}

// authorizeApply checks the caller's role against every object of an
// apply: rules need superadmin, policies with privileged fields (set,
// changed or removed) and new or changed assignments of such policies need
// admin, the rest operator (checked by the route).
// Each refused object is audited; the answer names the first.
func (a *API) authorizeApply(r *http.Request, set *manifest.Set, st *stored) error {
	var first error
	deny := func(p permission, what string, kind Kind, name string) {
		if err := a.require(r, p, what, auditTarget{Action: "apply", Kind: string(kind), Name: name}); err != nil && first == nil {
			first = err
		}
	}
	for _, rule := range set.Rules {
		deny(permSuper, fmt.Sprintf("applying Rule %q (Rego)", rule.Meta.Name), KindRule, rule.Meta.Name)
	}
	for _, p := range set.Policies {
		var old *policy.UpdatePolicy
		if prev, ok := st.policies[p.Meta.Name]; ok {
			old = &prev
		}
		if fields := privilegedChanges(old, p.Spec); len(fields) > 0 {
			deny(permPrivileged, fmt.Sprintf("UpdatePolicy %q with %s", p.Meta.Name, strings.Join(fields, ", ")), KindPolicy, p.Meta.Name)
		}
	}
	// An assignment decides where a policy applies: assigning a forced or
	// pinned policy, widening, narrowing or re-pointing its assignment
	// would start, spread or lift an admin's update.
	privileged := func(name string) []string {
		var fields []string
		for _, p := range set.Policies {
			if p.Meta.Name == name {
				fields = slices.Collect(maps.Keys(privilegedFields(p.Spec)))
			}
		}
		if prev, ok := st.policies[name]; ok {
			for f := range privilegedFields(prev) {
				if !slices.Contains(fields, f) {
					fields = append(fields, f)
				}
			}
		}
		slices.Sort(fields)
		return fields
	}
	for _, as := range set.Assignments {
		key := storedKey(policy.KindAssignment, as.Meta.Name)
		if data, err := json.Marshal(as.Spec); err == nil && bytes.Equal(data, st.values[key]) {
			continue // unchanged: it decides nothing new
		}
		names := []string{as.Spec.Policy}
		for _, old := range st.set.Assignments {
			if old.Meta.Name == as.Meta.Name && old.Spec.Policy != as.Spec.Policy {
				names = append(names, old.Spec.Policy)
			}
		}
		for _, pn := range names {
			if fields := privileged(pn); len(fields) > 0 {
				deny(permPrivileged, fmt.Sprintf("Assignment %q of UpdatePolicy %q with %s", as.Meta.Name, pn, strings.Join(fields, ", ")), KindAssignment, as.Meta.Name)
				break
			}
		}
	}
	return first
}
