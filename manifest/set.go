package manifest

import (
	"fmt"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/policy"
)

// Kinds lists the manifest kinds in the order a [Set] holds and writes
// them.
var Kinds = []string{
	policy.KindRelease,
	policy.KindUpdatePolicy,
	policy.KindDeviceGroup,
	policy.KindAssignment,
	policy.KindDevice,
	policy.KindRule,
}

// Meta is a manifest's metadata.
type Meta struct {
	// Name identifies the object among those of its kind. For a Device it is
	// the device id.
	Name string `json:"name"`
	// Labels and Annotations are free key/value pairs for the admin's own
	// tooling; label keys and values, and annotation keys, follow the
	// Kubernetes label rules.
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Source says where an object was read from. It is empty for objects built
// in code or read from a store.
type Source struct {
	File string
	// Document is the object's 1-based position among the non-empty
	// documents of File; Documents is how many File holds.
	Document  int
	Documents int
}

// String names the file, and the document when the file holds several:
// "policy.yaml" or "policy.yaml (document 2)".
func (s Source) String() string {
	if s.Documents > 1 {
		return fmt.Sprintf("%s (document %d)", s.File, s.Document)
	}
	return s.File
}

// Release is a Release manifest.
type Release struct {
	Meta   Meta
	Source Source
	Spec   policy.Release
}

// Policy is an UpdatePolicy manifest.
type Policy struct {
	Meta   Meta
	Source Source
	Spec   policy.UpdatePolicy
}

// Group is a DeviceGroup manifest. Spec.Name is Meta.Name.
type Group struct {
	Meta   Meta
	Source Source
	Spec   fleet.DeviceGroup
}

// Assignment is an Assignment manifest. Spec.Name is Meta.Name; Spec.App is
// the app of the named policy once that policy is known (it is filled in
// from the set when loading, and by [Set.Validate]).
type Assignment struct {
	Meta   Meta
	Source Source
	Spec   fleet.Assignment
}

// Device is a Device manifest. Spec.ID is Meta.Name.
type Device struct {
	Meta   Meta
	Source Source
	Spec   policy.Device
}

// Rule is a Rule manifest or a .rego file. Spec.Name is Meta.Name.
type Rule struct {
	Meta   Meta
	Source Source
	Spec   policy.Rule
}

// Set is what a load produced: the objects of each kind in the order they
// were read.
type Set struct {
	Releases    []Release
	Policies    []Policy
	Groups      []Group
	Assignments []Assignment
	Devices     []Device
	Rules       []Rule
}

// Len is the number of objects in the set.
func (s *Set) Len() int {
	return len(s.Releases) + len(s.Policies) + len(s.Groups) + len(s.Assignments) + len(s.Devices) + len(s.Rules)
}

// add appends every object of o to s.
func (s *Set) add(o *Set) {
	s.Releases = append(s.Releases, o.Releases...)
	s.Policies = append(s.Policies, o.Policies...)
	s.Groups = append(s.Groups, o.Groups...)
	s.Assignments = append(s.Assignments, o.Assignments...)
	s.Devices = append(s.Devices, o.Devices...)
	s.Rules = append(s.Rules, o.Rules...)
}

// Policy returns the UpdatePolicy named name.
func (s *Set) Policy(name string) (*Policy, bool) {
	for i := range s.Policies {
		if s.Policies[i].Meta.Name == name {
			return &s.Policies[i], true
		}
	}
	return nil, false
}

// Device returns the Device whose id is id.
func (s *Set) Device(id string) (*Device, bool) {
	for i := range s.Devices {
		if s.Devices[i].Meta.Name == id {
			return &s.Devices[i], true
		}
	}
	return nil, false
}

// ReleaseSpecs returns the releases' specs, in order.
func (s *Set) ReleaseSpecs() []policy.Release {
	out := make([]policy.Release, len(s.Releases))
	for i, r := range s.Releases {
		out[i] = r.Spec
	}
	return out
}

// RuleSpecs returns the Rego rules, in order.
func (s *Set) RuleSpecs() []policy.Rule {
	out := make([]policy.Rule, len(s.Rules))
	for i, r := range s.Rules {
		out[i] = r.Spec
	}
	return out
}

// FleetIndex builds fleet's assignment index over the set's groups and
// assignments (see [fleet.NewIndex]). Call it on a set that passed
// [Set.Validate], which fills in each assignment's app.
func (s *Set) FleetIndex() (*fleet.Index, error) {
	groups := make([]fleet.DeviceGroup, len(s.Groups))
	for i, g := range s.Groups {
		groups[i] = g.Spec
	}
	assignments := make([]fleet.Assignment, len(s.Assignments))
	for i, a := range s.Assignments {
		assignments[i] = a.Spec
	}
	x, err := fleet.NewIndex(groups, assignments)
	if err != nil {
		return nil, fmt.Errorf("manifest: index assignments: %w", err)
	}
	return x, nil
}

// fillApps sets each assignment's App from the policy it names, where that
// policy is in s or in base.
func (s *Set) fillApps(base *Set) {
	for i := range s.Assignments {
		a := &s.Assignments[i]
		if p, ok := s.Policy(a.Spec.Policy); ok {
			a.Spec.App = p.Spec.App
		} else if base != nil {
			if p, ok := base.Policy(a.Spec.Policy); ok {
				a.Spec.App = p.Spec.App
			}
		}
	}
}
