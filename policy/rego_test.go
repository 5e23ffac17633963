package policy

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/types"
)

// TestRegoUnitTests runs the _test.rego files next to the decision modules
// with OPA's tester, the embedded modules and the custom builtins.
func TestRegoUnitTests(t *testing.T) {
	files, err := fs.Glob(regoFS, "rego/*.rego")
	if err != nil {
		t.Fatal(err)
	}
	modules := map[string]*ast.Module{}
	for _, name := range files {
		src, err := regoFS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatal(err)
		}
		modules[name] = m
	}
	var builtins []*tester.Builtin
	for _, b := range versionBuiltins() {
		builtins = append(builtins, &tester.Builtin{Decl: &ast.Builtin{Name: b.decl.Name, Decl: b.decl.Decl}, Func: b.option})
	}
	builtins = append(builtins, preparedInputBuiltin())
	results, err := tester.NewRunner().AddCustomBuiltins(builtins).RaiseBuiltinErrors(true).Run(t.Context(), modules)
	if err != nil {
		t.Fatalf("run Rego tests: %v", err)
	}
	ran := 0
	for r := range results {
		ran++
		switch {
		case r.Error != nil:
			t.Errorf("%s: %s: error: %v", r.Location, r.Name, r.Error)
		case r.Fail:
			t.Errorf("%s: %s: failed\n%s", r.Location, r.Name, strings.TrimSpace(string(r.Output)))
		case r.Skip:
			t.Errorf("%s: %s: skipped; skipped tests are not allowed", r.Location, r.Name)
		}
	}
	if ran < 15 {
		t.Errorf("ran %d Rego tests, want at least 15", ran)
	}
	t.Logf("ran %d Rego tests", ran)
}

// preparedInputBuiltin is sluice.test.input(doc), for the Rego unit tests
// only: the input document doc as the engine evaluates it, read into an
// Input, checked, and given its facts as BuildInput gives them.
func preparedInputBuiltin() *tester.Builtin {
	decl := &rego.Function{
		Name: "sluice.test.input",
		Decl: types.NewFunction(types.Args(types.Named("doc", types.NewObject(nil, types.NewDynamicProperty(types.S, types.A)))), types.NewObject(nil, types.NewDynamicProperty(types.S, types.A))),
	}
	return &tester.Builtin{
		Decl: &ast.Builtin{Name: decl.Name, Decl: decl.Decl},
		Func: rego.Function1(decl, func(_ rego.BuiltinContext, doc *ast.Term) (*ast.Term, error) {
			v, err := ast.JSON(doc.Value)
			if err != nil {
				return nil, err
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			var in Input
			if err := json.Unmarshal(b, &in); err != nil {
				return nil, fmt.Errorf("read input: %w", err)
			}
			if err := in.Check(); err != nil {
				return nil, err
			}
			in.deriveFacts()
			return ast.NewTerm(in.value()), nil
		}),
	}
}
