package policy

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/Masterminds/semver/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/types"
)

// Semantic versions are not native to Rego, so the decision modules call
// three custom builtins backed by github.com/Masterminds/semver/v3. They are
// pure functions of their arguments (no clock, no I/O), so a replayed input
// gives the same answers:
//
//	sluice.version.satisfies(constraint, version) -> {"satisfied": bool, "error": string}
//	sluice.version.compare(a, b)                  -> {"result": -1 | 0 | 1, "error": string}
//	sluice.version.listed(version, list)          -> bool
//
// A value that is not a version, or a constraint that does not parse, is not
// a Rego error: it comes back in "error" as a phrase (`"abc" is not a
// version`) so that the decision can explain it. listed is true when version
// equals an entry as a string, or as a semantic version ("5.0" and "5.0.0").

const (
	builtinSatisfies = "sluice.version.satisfies"
	builtinCompare   = "sluice.version.compare"
	builtinListed    = "sluice.version.listed"
)

// versionBuiltin pairs a builtin's declaration with its implementation.
type versionBuiltin struct {
	decl   *rego.Function
	option func(*rego.Rego)
	fn     rego.Builtin2
}

// astBuiltin is the declaration the compiler type-checks calls against.
func (b versionBuiltin) astBuiltin() *ast.Builtin {
	return &ast.Builtin{Name: b.decl.Name, Description: b.decl.Description, Decl: b.decl.Decl}
}

// topdownBuiltin is the implementation the evaluator calls.
func (b versionBuiltin) topdownBuiltin() *topdown.Builtin {
	return &topdown.Builtin{
		Decl: b.astBuiltin(),
		Func: func(bctx topdown.BuiltinContext, operands []*ast.Term, iter func(*ast.Term) error) error {
			t, err := b.fn(bctx, operands[0], operands[1])
			if err != nil {
				return &topdown.Error{Code: topdown.BuiltinErr, Message: err.Error(), Location: bctx.Location}
			}
			return iter(t)
		},
	}
}

var (
	resultError     = types.NewStaticProperty("error", types.S)
	satisfiesResult = types.NewObject([]*types.StaticProperty{types.NewStaticProperty("satisfied", types.B), resultError}, nil)
	compareResult   = types.NewObject([]*types.StaticProperty{types.NewStaticProperty("result", types.N), resultError}, nil)

	keySatisfied = ast.StringTerm("satisfied")
	keyResult    = ast.StringTerm("result")
	keyError     = ast.StringTerm("error")
	emptyString  = ast.StringTerm("")
)

// versionBuiltins returns the custom builtins of the decision modules.
func versionBuiltins() []versionBuiltin {
	satisfies := &rego.Function{
		Name:        builtinSatisfies,
		Description: "Reports whether a version satisfies a semantic version constraint.",
		Decl:        types.NewFunction(types.Args(types.Named("constraint", types.S), types.Named("version", types.S)), satisfiesResult),
	}
	compare := &rego.Function{
		Name:        builtinCompare,
		Description: "Compares two semantic versions.",
		Decl:        types.NewFunction(types.Args(types.Named("a", types.S), types.Named("b", types.S)), compareResult),
	}
	listed := &rego.Function{
		Name:        builtinListed,
		Description: "Reports whether a version is in a list of versions.",
		Decl:        types.NewFunction(types.Args(types.Named("version", types.S), types.Named("list", types.NewArray(nil, types.A))), types.B),
	}
	return []versionBuiltin{
		{decl: satisfies, option: rego.Function2(satisfies, satisfiesBuiltin), fn: satisfiesBuiltin},
		{decl: compare, option: rego.Function2(compare, compareBuiltin), fn: compareBuiltin},
		{decl: listed, option: rego.Function2(listed, listedBuiltin), fn: listedBuiltin},
	}
}

func satisfiesBuiltin(_ rego.BuiltinContext, constraintTerm, versionTerm *ast.Term) (*ast.Term, error) {
	constraint, ok1 := constraintTerm.Value.(ast.String)
	version, ok2 := versionTerm.Value.(ast.String)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%s: want two strings, got %s and %s", builtinSatisfies, ast.ValueName(constraintTerm.Value), ast.ValueName(versionTerm.Value))
	}
	c, err := parseConstraint(string(constraint))
	if err != nil {
		return satisfiesTerm(false, fmt.Sprintf("%q is not a valid version constraint", string(constraint))), nil
	}
	v, err := parseVersion(string(version))
	if err != nil {
		return satisfiesTerm(false, fmt.Sprintf("%q is not a version", string(version))), nil
	}
	return satisfiesTerm(c.Check(v), ""), nil
}

func satisfiesTerm(ok bool, problem string) *ast.Term {
	msg := emptyString
	if problem != "" {
		msg = ast.StringTerm(problem)
	}
	return ast.ObjectTerm(ast.Item(keySatisfied, ast.InternedTerm(ok)), ast.Item(keyError, msg))
}

func compareBuiltin(_ rego.BuiltinContext, aTerm, bTerm *ast.Term) (*ast.Term, error) {
	a, ok1 := aTerm.Value.(ast.String)
	b, ok2 := bTerm.Value.(ast.String)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%s: want two strings, got %s and %s", builtinCompare, ast.ValueName(aTerm.Value), ast.ValueName(bTerm.Value))
	}
	va, err := parseVersion(string(a))
	if err != nil {
		return compareTerm(0, fmt.Sprintf("%q is not a version", string(a))), nil
	}
	vb, err := parseVersion(string(b))
	if err != nil {
		return compareTerm(0, fmt.Sprintf("%q is not a version", string(b))), nil
	}
	return compareTerm(va.Compare(vb), ""), nil
}

func compareTerm(result int, problem string) *ast.Term {
	msg := emptyString
	if problem != "" {
		msg = ast.StringTerm(problem)
	}
	return ast.ObjectTerm(ast.Item(keyResult, ast.InternedTerm(result)), ast.Item(keyError, msg))
}

func listedBuiltin(_ rego.BuiltinContext, versionTerm, listTerm *ast.Term) (*ast.Term, error) {
	version, ok := versionTerm.Value.(ast.String)
	if !ok {
		return nil, fmt.Errorf("%s: version: want a string, got %s", builtinListed, ast.ValueName(versionTerm.Value))
	}
	list, ok := listTerm.Value.(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("%s: list: want an array, got %s", builtinListed, ast.ValueName(listTerm.Value))
	}
	found := listedAt(string(version), list.Len(), func(i int) (string, bool) {
		s, ok := list.Elem(i).Value.(ast.String)
		return string(s), ok
	})
	return ast.InternedTerm(found), nil
}

// The parse caches keep the hot path free of regular expressions. Versions
// and constraints come from policies, releases and device reports, a small
// set in practice; the caches stop growing at maxCached entries each so that
// odd device reports cannot grow them without bound.
const maxCached = 4096

type parseCache[T any] struct {
	m     sync.Map // string -> cached[T]
	count atomic.Int64
	parse func(string) (T, error)
}

type cached[T any] struct {
	value T
	err   error
}

func (c *parseCache[T]) get(s string) (T, error) {
	if hit, ok := c.m.Load(s); ok {
		e := hit.(cached[T])
		return e.value, e.err
	}
	v, err := c.parse(s)
	if c.count.Load() < maxCached {
		if _, loaded := c.m.LoadOrStore(s, cached[T]{v, err}); !loaded {
			c.count.Add(1)
		}
	}
	return v, err
}

// semverVersion is a parsed semantic version.
type semverVersion = semver.Version

var (
	versionCache    = &parseCache[*semver.Version]{parse: semver.NewVersion}
	constraintCache = &parseCache[*semver.Constraints]{parse: semver.NewConstraint}
)

func parseVersion(s string) (*semver.Version, error) { return versionCache.get(s) }

func parseConstraint(s string) (*semver.Constraints, error) { return constraintCache.get(s) }
