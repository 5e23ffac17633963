package fleet

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalid is wrapped by every error about a malformed group or
// assignment.
var ErrInvalid = errors.New("fleet: invalid definition")

// MaxNameLen is the longest group or assignment name, in bytes.
const MaxNameLen = 253

// ValidationError names the group or assignment, the field and the value
// that are wrong, and says what is allowed.
type ValidationError struct {
	// Kind is "group" or "assignment".
	Kind string
	Name string
	// Field is the path of the offending field: "name", "selector",
	// "members[2]", "groups[0]", "policy", "app".
	Field string
	Value string
	// Reason says what is wrong and what is allowed.
	Reason string
	// Err is the underlying error, such as a *SelectorError, if any.
	Err error
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fleet: %s %q: %s: ", e.Kind, e.Name, e.Field)
	if e.Err != nil {
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "fleet: "))
		if e.Reason != "" {
			b.WriteString(": " + e.Reason)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "%q %s", e.Value, e.Reason)
	return b.String()
}

// Unwrap returns ErrInvalid and the underlying error.
func (e *ValidationError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalid, e.Err}
	}
	return []error{ErrInvalid}
}

func checkName(kind, name string) error {
	switch {
	case name == "":
		return &ValidationError{Kind: kind, Name: name, Field: "name", Value: name, Reason: fmt.Sprintf("is empty; want 1 to %d bytes", MaxNameLen)}
	case len(name) > MaxNameLen:
		return &ValidationError{Kind: kind, Name: name, Field: "name", Value: name, Reason: fmt.Sprintf("is %d bytes long; want 1 to %d bytes", len(name), MaxNameLen)}
	}
	return nil
}

// Group is a compiled [DeviceGroup], ready to test membership.
type Group struct {
	name     string
	selector Selector
	members  map[string]struct{}
	sorted   []string
}

// CompileGroup parses the group's selector and indexes its members.
//
// A device belongs to the group when it is an explicit member or, if the
// selector is not empty, when its labels match the selector. Unlike a bare
// [Selector], an empty selector here selects nobody: a group with an empty
// selector holds only its members, and one with neither holds no device.
// A selector that can match nothing ("store=a,store=b") is refused, since
// it is almost always a mistake for "store in (a,b)".
func CompileGroup(g DeviceGroup) (*Group, error) {
	if err := checkName("group", g.Name); err != nil {
		return nil, err
	}
	sel, err := ParseSelector(g.Selector)
	if err != nil {
		return nil, &ValidationError{Kind: "group", Name: g.Name, Field: "selector", Value: g.Selector, Err: err}
	}
	if !sel.Satisfiable() {
		return nil, &ValidationError{Kind: "group", Name: g.Name, Field: "selector", Value: g.Selector,
			Reason: "can never match: its requirements on one key contradict each other; use 'key in (a,b)' to select either value"}
	}
	out := &Group{name: g.Name, selector: sel, members: make(map[string]struct{}, len(g.Members))}
	for i, m := range g.Members {
		if m == "" || strings.TrimSpace(m) != m {
			return nil, &ValidationError{Kind: "group", Name: g.Name, Field: fmt.Sprintf("members[%d]", i), Value: m,
				Reason: "is not a device id; want a non-empty id without surrounding white space"}
		}
		if _, dup := out.members[m]; dup {
			continue
		}
		out.members[m] = struct{}{}
		out.sorted = append(out.sorted, m)
	}
	slices.Sort(out.sorted)
	return out, nil
}

// Name returns the group's name.
func (g *Group) Name() string { return g.name }

// Selector returns the group's parsed selector; it is empty when the group
// selects by members only.
func (g *Group) Selector() Selector { return g.selector }

// Members returns the explicit members, sorted and distinct.
func (g *Group) Members() []string { return slices.Clone(g.sorted) }

// Contains reports whether the device with this id and these labels
// belongs to the group.
func (g *Group) Contains(deviceID string, labels map[string]string) bool {
	if _, ok := g.members[deviceID]; ok {
		return true
	}
	return !g.selector.Empty() && g.selector.Matches(labels)
}

// overlap says why some device is known to belong to both groups, or
// returns "" when no device can be in both whatever its labels. A device
// listed in one group whose labels happen to match the other's selector is
// not reported: labels change after the fact, so [Index.Resolve] catches
// that case.
func (g *Group) overlap(o *Group) string {
	if g == o {
		return fmt.Sprintf("both include group %q", g.name)
	}
	small, large := g, o
	if len(small.sorted) > len(large.sorted) {
		small, large = large, small
	}
	for _, m := range small.sorted {
		if _, ok := large.members[m]; ok {
			return fmt.Sprintf("groups %q and %q both list device %q", g.name, o.name, m)
		}
	}
	if !g.selector.Empty() && !o.selector.Empty() && g.selector.Overlaps(o.selector) {
		return fmt.Sprintf("the selectors of groups %q (%s) and %q (%s) can match the same device",
			g.name, g.selector, o.name, o.selector)
	}
	return ""
}
