package fleet

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Operator is how a [Requirement] compares a label.
type Operator string

// Selector operators. "==" parses to OpEquals.
const (
	OpEquals       Operator = "="
	OpNotEquals    Operator = "!="
	OpIn           Operator = "in"
	OpNotIn        Operator = "notin"
	OpExists       Operator = "exists"
	OpDoesNotExist Operator = "!"
)

// opOrder orders requirements on the same key in the canonical form.
var opOrder = map[Operator]int{OpExists: 0, OpDoesNotExist: 1, OpEquals: 2, OpNotEquals: 3, OpIn: 4, OpNotIn: 5}

// Requirement is one comma-separated term of a selector.
type Requirement struct {
	Key      string
	Operator Operator
	// Values holds the one value of OpEquals and OpNotEquals, the sorted,
	// distinct values of OpIn and OpNotIn, and nothing for OpExists and
	// OpDoesNotExist.
	Values []string
}

// Matches reports whether labels satisfy the requirement. As in Kubernetes,
// "!=" and "notin" also match when the label is absent.
func (r Requirement) Matches(labels map[string]string) bool {
	v, ok := labels[r.Key]
	switch r.Operator {
	case OpEquals:
		return ok && v == r.Values[0]
	case OpNotEquals:
		return !ok || v != r.Values[0]
	case OpIn:
		return ok && slices.Contains(r.Values, v)
	case OpNotIn:
		return !ok || !slices.Contains(r.Values, v)
	case OpExists:
		return ok
	case OpDoesNotExist:
		return !ok
	}
	return false
}

// String renders the requirement in canonical selector syntax.
func (r Requirement) String() string {
	switch r.Operator {
	case OpExists:
		return r.Key
	case OpDoesNotExist:
		return "!" + r.Key
	case OpEquals, OpNotEquals:
		return r.Key + string(r.Operator) + r.Values[0]
	default:
		return r.Key + " " + string(r.Operator) + " (" + strings.Join(r.Values, ",") + ")"
	}
}

func compareRequirements(a, b Requirement) int {
	if c := strings.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	if c := opOrder[a.Operator] - opOrder[b.Operator]; c != 0 {
		return c
	}
	return slices.Compare(a.Values, b.Values)
}

// Selector is a parsed Kubernetes-style label selector: a conjunction of
// requirements. The zero Selector is empty and, as in Kubernetes, matches
// every label set; a [Group] gives the empty selector a different meaning
// (see [CompileGroup]).
type Selector struct {
	reqs []Requirement // canonical: sorted, without duplicates
}

// newSelector puts already valid requirements in canonical order.
func newSelector(reqs []Requirement) Selector {
	slices.SortFunc(reqs, compareRequirements)
	reqs = slices.CompactFunc(reqs, func(a, b Requirement) bool { return compareRequirements(a, b) == 0 })
	if len(reqs) == 0 {
		return Selector{}
	}
	return Selector{reqs: reqs}
}

// Empty reports whether the selector has no requirements.
func (s Selector) Empty() bool { return len(s.reqs) == 0 }

// Requirements returns a copy of the selector's requirements in canonical
// order: by key, then operator, then values.
func (s Selector) Requirements() []Requirement {
	out := make([]Requirement, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = Requirement{Key: r.Key, Operator: r.Operator, Values: slices.Clone(r.Values)}
	}
	return out
}

// Matches reports whether labels satisfy every requirement. The empty
// selector matches every label set, nil included.
func (s Selector) Matches(labels map[string]string) bool {
	for _, r := range s.reqs {
		if !r.Matches(labels) {
			return false
		}
	}
	return true
}

// String returns the canonical form: requirements sorted by key and
// operator, joined by ",", "==" written as "=", list values sorted and
// distinct. ParseSelector(s.String()) equals s.
func (s Selector) String() string {
	parts := make([]string, len(s.reqs))
	for i, r := range s.reqs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// Equal reports whether two selectors have the same canonical requirements.
func (s Selector) Equal(o Selector) bool {
	return slices.EqualFunc(s.reqs, o.reqs, func(a, b Requirement) bool { return compareRequirements(a, b) == 0 })
}

// ErrInvalidSelector is wrapped by every selector syntax error.
var ErrInvalidSelector = errors.New("fleet: invalid selector")

// SelectorError locates a syntax error in a selector.
type SelectorError struct {
	Selector string
	// Column is the 1-based byte position of the offending text;
	// len(Selector)+1 for the end of the input.
	Column int
	// Found describes the offending text: a quoted token or "end of input".
	Found string
	// Reason, if set, says what is wrong with a token that is in the right
	// place (an invalid label key or value).
	Reason string
	// Want says what was expected instead.
	Want string
}

func (e *SelectorError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("fleet: selector %q: at column %d: found %s, which %s; want %s", e.Selector, e.Column, e.Found, e.Reason, e.Want)
	}
	return fmt.Sprintf("fleet: selector %q: at column %d: found %s; want %s", e.Selector, e.Column, e.Found, e.Want)
}

func (e *SelectorError) Unwrap() error { return ErrInvalidSelector }

// What the parser expects, for error messages.
const (
	wantRequirement = "a label key or '!'"
	wantOperator    = "'=', '==', '!=', 'in', 'notin', ',' or end of input"
	wantSeparator   = "',' or end of input"
	wantValue       = "a label value"
	wantOpenParen   = "'('"
	wantListNext    = "',' or ')'"
	wantKeyRule     = "a label key: an optional DNS prefix and '/', then 1 to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
	wantValueRule   = "a label value: 1 to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
)

// ParseSelector parses a Kubernetes-style label selector:
//
//	key=value  key==value  key!=value
//	key in (v1,v2)  key notin (v1)
//	key        (the label exists)
//	!key       (the label does not exist)
//
// Requirements are separated by ',' and must all hold. White space around
// tokens is ignored. Keys and values follow the Kubernetes label rules;
// unlike Kubernetes, values in a selector may not be empty, since an empty
// value is nearly always a typing mistake. An empty or blank string is the
// empty selector, which matches everything.
//
// Errors are *SelectorError values giving the column, the offending text
// and what was expected.
func ParseSelector(s string) (Selector, error) {
	p := &parser{src: s}
	p.next()
	if p.tok.kind == tokEOF {
		return Selector{}, nil
	}
	var reqs []Requirement
	for {
		r, err := p.requirement()
		if err != nil {
			return Selector{}, err
		}
		reqs = append(reqs, r)
		switch p.tok.kind {
		case tokEOF:
			return newSelector(reqs), nil
		case tokComma:
			p.next()
		default:
			return Selector{}, p.fail(wantSeparator)
		}
	}
}

// MustParseSelector is like ParseSelector but panics on error; for tests
// and package-level variables with constant selectors.
func MustParseSelector(s string) Selector {
	sel, err := ParseSelector(s)
	if err != nil {
		panic(err)
	}
	return sel
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokEq      // = or ==
	tokNotEq   // !=
	tokNot     // !
	tokOpen    // (
	tokClose   // )
	tokComma   // ,
	tokIn      // in
	tokNotIn   // notin
	tokBadChar // a control character
)

type token struct {
	kind tokKind
	text string
	pos  int // byte offset
}

type parser struct {
	src string
	off int
	tok token
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isSpecial(c byte) bool {
	return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || isSpace(c) || c < 0x20 || c == 0x7f
}

// next reads the next token into p.tok.
func (p *parser) next() {
	for p.off < len(p.src) && isSpace(p.src[p.off]) {
		p.off++
	}
	start := p.off
	if start == len(p.src) {
		p.tok = token{kind: tokEOF, pos: start}
		return
	}
	c := p.src[start]
	single := func(k tokKind, n int) {
		p.off += n
		p.tok = token{kind: k, text: p.src[start:p.off], pos: start}
	}
	switch {
	case c == ',':
		single(tokComma, 1)
	case c == '(':
		single(tokOpen, 1)
	case c == ')':
		single(tokClose, 1)
	case c == '=' && strings.HasPrefix(p.src[start:], "=="):
		single(tokEq, 2)
	case c == '=':
		single(tokEq, 1)
	case c == '!' && strings.HasPrefix(p.src[start:], "!="):
		single(tokNotEq, 2)
	case c == '!':
		single(tokNot, 1)
	case c < 0x20 || c == 0x7f:
		single(tokBadChar, 1)
	default:
		for p.off < len(p.src) && !isSpecial(p.src[p.off]) {
			p.off++
		}
		text := p.src[start:p.off]
		kind := tokIdent
		switch text {
		case "in":
			kind = tokIn
		case "notin":
			kind = tokNotIn
		}
		p.tok = token{kind: kind, text: text, pos: start}
	}
}

func (p *parser) found() string {
	if p.tok.kind == tokEOF {
		return "end of input"
	}
	return fmt.Sprintf("%q", p.tok.text)
}

func (p *parser) fail(want string) *SelectorError {
	return &SelectorError{Selector: p.src, Column: p.tok.pos + 1, Found: p.found(), Want: want}
}

// key reads a label key.
func (p *parser) key() (string, error) {
	if p.tok.kind != tokIdent {
		return "", p.fail(wantRequirement)
	}
	if err := ValidateLabelKey(p.tok.text); err != nil {
		var le *LabelError
		errors.As(err, &le)
		e := p.fail(wantKeyRule)
		e.Reason = le.Reason
		return "", e
	}
	k := p.tok.text
	p.next()
	return k, nil
}

// value reads a label value; the words "in" and "notin" are values here.
func (p *parser) value(key string) (string, error) {
	if p.tok.kind != tokIdent && p.tok.kind != tokIn && p.tok.kind != tokNotIn {
		return "", p.fail(wantValue)
	}
	if err := ValidateLabelValue(key, p.tok.text); err != nil {
		var le *LabelError
		errors.As(err, &le)
		e := p.fail(wantValueRule)
		e.Reason = le.Reason
		return "", e
	}
	v := p.tok.text
	p.next()
	return v, nil
}

func (p *parser) requirement() (Requirement, error) {
	if p.tok.kind == tokNot {
		p.next()
		k, err := p.key()
		if err != nil {
			return Requirement{}, err
		}
		return Requirement{Key: k, Operator: OpDoesNotExist}, nil
	}
	k, err := p.key()
	if err != nil {
		return Requirement{}, err
	}
	switch p.tok.kind {
	case tokEOF, tokComma:
		return Requirement{Key: k, Operator: OpExists}, nil
	case tokEq, tokNotEq:
		op := OpEquals
		if p.tok.kind == tokNotEq {
			op = OpNotEquals
		}
		p.next()
		v, err := p.value(k)
		if err != nil {
			return Requirement{}, err
		}
		return Requirement{Key: k, Operator: op, Values: []string{v}}, nil
	case tokIn, tokNotIn:
		op := OpIn
		if p.tok.kind == tokNotIn {
			op = OpNotIn
		}
		p.next()
		if p.tok.kind != tokOpen {
			return Requirement{}, p.fail(wantOpenParen)
		}
		p.next()
		var vals []string
		for {
			v, err := p.value(k)
			if err != nil {
				return Requirement{}, err
			}
			vals = append(vals, v)
			switch p.tok.kind {
			case tokComma:
				p.next()
				continue
			case tokClose:
				p.next()
				slices.Sort(vals)
				return Requirement{Key: k, Operator: op, Values: slices.Compact(vals)}, nil
			default:
				return Requirement{}, p.fail(wantListNext)
			}
		}
	default:
		return Requirement{}, p.fail(wantOperator)
	}
}
