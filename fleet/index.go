package fleet

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrTie is wrapped by [TieError]: two assignments for the same app with
// the same priority could apply to the same device.
var ErrTie = errors.New("fleet: assignments tie")

// TieError names two assignments that tie when indexed. First sorts before
// Second by name.
type TieError struct {
	App      string
	Priority int
	First    string
	Second   string
	// Why says how they can meet on one device.
	Why string
}

func (e *TieError) Error() string {
	return fmt.Sprintf("fleet: assignments %q and %q both assign app %q at priority %d: %s; give one of them a different priority",
		e.First, e.Second, e.App, e.Priority, e.Why)
}

func (e *TieError) Unwrap() error { return ErrTie }

// ErrAmbiguous is wrapped by [AmbiguousError]: at resolve time, two
// assignments with the same, highest priority apply to a device.
var ErrAmbiguous = errors.New("fleet: ambiguous assignment")

// AmbiguousError names the two assignments that apply to one device and
// app at the same priority. First sorts before Second by name.
type AmbiguousError struct {
	DeviceID string
	App      string
	Priority int
	First    string
	Second   string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("fleet: device %q, app %q: assignments %q and %q both apply at priority %d",
		e.DeviceID, e.App, e.First, e.Second, e.Priority)
}

func (e *AmbiguousError) Unwrap() error { return ErrAmbiguous }

// Index answers, for a device and an app, which assignment applies. It is
// immutable once built and safe for concurrent use.
type Index struct {
	groups     map[string]*Group
	groupNames []string // sorted
	// byApp holds each app's assignments by descending priority, then name.
	byApp map[string][]indexed
	apps  []string // sorted
}

type indexed struct {
	a      Assignment
	groups []*Group
}

func (x indexed) applies(deviceID string, labels map[string]string) bool {
	for _, g := range x.groups {
		if g.Contains(deviceID, labels) {
			return true
		}
	}
	return false
}

// NewIndex compiles the groups and checks the assignments: every
// assignment has a unique name, a Policy, an App (callers fill it in from
// the policy) and at least one group, and every group it names exists.
//
// Ties are refused with a *TieError: two assignments for the same app with
// the same priority that could apply to the same device, because they
// include the same group, their groups list the same device, or their
// groups' selectors can match a common label set (see [Selector.Overlaps]:
// "store=a" and "store=b" cannot, "store=a" and "model=x" can). What cannot
// be known in advance, a device listed in one group whose labels match the
// other's selector, is reported by [Index.Resolve] as an *AmbiguousError.
//
// Nothing is kept from a failed call; the error names the first problem.
func NewIndex(groups []DeviceGroup, assignments []Assignment) (*Index, error) {
	x := &Index{groups: make(map[string]*Group, len(groups)), byApp: make(map[string][]indexed)}
	for _, dg := range groups {
		g, err := CompileGroup(dg)
		if err != nil {
			return nil, err
		}
		if _, dup := x.groups[g.name]; dup {
			return nil, &ValidationError{Kind: "group", Name: g.name, Field: "name", Value: g.name, Reason: "is defined twice; group names must be unique"}
		}
		x.groups[g.name] = g
		x.groupNames = append(x.groupNames, g.name)
	}
	slices.Sort(x.groupNames)

	seen := make(map[string]bool, len(assignments))
	for _, a := range assignments {
		ix, err := x.compileAssignment(a)
		if err != nil {
			return nil, err
		}
		if seen[a.Name] {
			return nil, &ValidationError{Kind: "assignment", Name: a.Name, Field: "name", Value: a.Name, Reason: "is defined twice; assignment names must be unique"}
		}
		seen[a.Name] = true
		x.byApp[a.App] = append(x.byApp[a.App], ix)
	}
	for app, list := range x.byApp {
		slices.SortFunc(list, func(a, b indexed) int {
			if c := cmp.Compare(b.a.Priority, a.a.Priority); c != 0 {
				return c
			}
			return strings.Compare(a.a.Name, b.a.Name)
		})
		if err := checkTies(app, list); err != nil {
			return nil, err
		}
		x.apps = append(x.apps, app)
	}
	slices.Sort(x.apps)
	return x, nil
}

func (x *Index) compileAssignment(a Assignment) (indexed, error) {
	bad := func(field, value, reason string) error {
		return &ValidationError{Kind: "assignment", Name: a.Name, Field: field, Value: value, Reason: reason}
	}
	if err := checkName("assignment", a.Name); err != nil {
		return indexed{}, err
	}
	if a.Policy == "" {
		return indexed{}, bad("policy", a.Policy, "is empty; want the name of an UpdatePolicy")
	}
	if a.App == "" {
		return indexed{}, bad("app", a.App, fmt.Sprintf("is empty; want the package governed by policy %q", a.Policy))
	}
	if len(a.Groups) == 0 {
		return indexed{}, bad("groups", "", "is empty; want at least one group name")
	}
	ix := indexed{a: a}
	ix.a.Groups = slices.Clone(a.Groups)
	for i, name := range a.Groups {
		g, ok := x.groups[name]
		if !ok {
			known := "none are defined"
			if len(x.groupNames) > 0 {
				known = "known groups: " + strings.Join(x.groupNames, ", ")
			}
			return indexed{}, bad(fmt.Sprintf("groups[%d]", i), name, "is not a known group; "+known)
		}
		if !slices.Contains(ix.groups, g) {
			ix.groups = append(ix.groups, g)
		}
	}
	return ix, nil
}

// checkTies looks for two assignments of equal priority that can meet on a
// device. list is sorted by descending priority, then name.
func checkTies(app string, list []indexed) error {
	for i := range list {
		for j := i + 1; j < len(list) && list[j].a.Priority == list[i].a.Priority; j++ {
			if why := assignmentsOverlap(list[i], list[j]); why != "" {
				return &TieError{App: app, Priority: list[i].a.Priority, First: list[i].a.Name, Second: list[j].a.Name, Why: why}
			}
		}
	}
	return nil
}

func assignmentsOverlap(a, b indexed) string {
	for _, ga := range a.groups {
		for _, gb := range b.groups {
			if why := ga.overlap(gb); why != "" {
				return why
			}
		}
	}
	return ""
}

// Resolve returns the assignment that applies to the device for app: the
// applicable one with the highest priority. ok is false when none applies.
// If two applicable assignments share the highest priority, Resolve
// returns an *AmbiguousError naming both, so that no policy is chosen by
// accident.
func (x *Index) Resolve(deviceID string, labels map[string]string, app string) (a Assignment, ok bool, err error) {
	list := x.byApp[app]
	for i, cand := range list {
		if !cand.applies(deviceID, labels) {
			continue
		}
		for _, other := range list[i+1:] {
			if other.a.Priority != cand.a.Priority {
				break
			}
			if other.applies(deviceID, labels) {
				return Assignment{}, false, &AmbiguousError{DeviceID: deviceID, App: app, Priority: cand.a.Priority, First: cand.a.Name, Second: other.a.Name}
			}
		}
		out := cand.a
		out.Groups = slices.Clone(cand.a.Groups)
		return out, true, nil
	}
	return Assignment{}, false, nil
}

// Apps returns, sorted, the apps for which some assignment applies to the
// device.
func (x *Index) Apps(deviceID string, labels map[string]string) []string {
	var out []string
	for _, app := range x.apps {
		for _, cand := range x.byApp[app] {
			if cand.applies(deviceID, labels) {
				out = append(out, app)
				break
			}
		}
	}
	return out
}

// Groups returns, sorted, the names of the groups the device belongs to.
func (x *Index) Groups(deviceID string, labels map[string]string) []string {
	var out []string
	for _, name := range x.groupNames {
		if x.groups[name].Contains(deviceID, labels) {
			out = append(out, name)
		}
	}
	return out
}

// Group returns the compiled group with this name. A controller uses it to
// find the devices a changed group touches: those for which Contains holds
// before or after the change.
func (x *Index) Group(name string) (*Group, bool) {
	g, ok := x.groups[name]
	return g, ok
}

// Assignments returns, sorted by name, the assignments that include the
// named group: the ones whose outcome may change when the group does.
func (x *Index) Assignments(group string) []Assignment {
	var out []Assignment
	for _, app := range x.apps {
		for _, cand := range x.byApp[app] {
			if slices.Contains(cand.a.Groups, group) {
				a := cand.a
				a.Groups = slices.Clone(cand.a.Groups)
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b Assignment) int { return strings.Compare(a.Name, b.Name) })
	return out
}
