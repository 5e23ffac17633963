package fleet

import "slices"

// Satisfiable reports whether some label set matches the selector. A
// selector such as "store=a,store=b" or "store,!store" matches nothing.
func (s Selector) Satisfiable() bool { return satisfiable(s.reqs, nil) }

// Overlaps reports whether some label set matches both selectors, that is
// whether one device could be selected by both. The answer is exact:
// requirements on different keys never contradict each other, so the
// selectors overlap unless, for some key, their combined requirements
// cannot hold together ("store=a" and "store=b"; "store in (a,b)" and
// "store notin (a,b)"; "store" and "!store"). The empty selector overlaps
// every satisfiable selector.
func (s Selector) Overlaps(o Selector) bool { return satisfiable(s.reqs, o.reqs) }

// keyConstraint gathers every requirement on one key.
type keyConstraint struct {
	present bool     // the label must exist
	absent  bool     // the label must not exist
	allowed []string // when restricted: the values it may take; nil means any
	limited bool     // allowed is in force
	exclude []string // values it may not take
}

func (c *keyConstraint) add(r Requirement) {
	switch r.Operator {
	case OpExists:
		c.present = true
	case OpDoesNotExist:
		c.absent = true
	case OpEquals, OpIn:
		c.present = true
		if !c.limited {
			c.allowed, c.limited = slices.Clone(r.Values), true
			return
		}
		c.allowed = slices.DeleteFunc(c.allowed, func(v string) bool { return !slices.Contains(r.Values, v) })
	case OpNotEquals, OpNotIn:
		c.exclude = append(c.exclude, r.Values...)
	}
}

func (c *keyConstraint) ok() bool {
	if c.absent {
		// An absent label satisfies "!=" and "notin", nothing positive.
		return !c.present
	}
	if !c.present || !c.limited {
		// Either the label may be absent, or it may take any of the
		// unbounded set of valid values outside the finite exclusions.
		return true
	}
	for _, v := range c.allowed {
		if !slices.Contains(c.exclude, v) {
			return true
		}
	}
	return false
}

func satisfiable(a, b []Requirement) bool {
	byKey := make(map[string]*keyConstraint, len(a)+len(b))
	for _, reqs := range [][]Requirement{a, b} {
		for _, r := range reqs {
			c := byKey[r.Key]
			if c == nil {
				c = &keyConstraint{}
				byKey[r.Key] = c
			}
			c.add(r)
		}
	}
	for _, c := range byKey {
		if !c.ok() {
			return false
		}
	}
	return true
}
