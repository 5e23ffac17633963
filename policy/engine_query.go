package policy

import (
	"context"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// The document the engine evaluates: result, the outcome of the procedure
// unless an extension rule denies it. Without extension rules nothing can
// deny, result is outcome, and the engine evaluates outcome directly,
// sparing a rule evaluation and a copy of the decision per call.
var (
	resultRef  = ast.MustParseRef("data.sluice.decision.result")
	outcomeRef = ast.MustParseRef("data.sluice.decision.outcome")
)

// query is the decision document compiled once and evaluated with OPA's
// evaluator (topdown) directly: the rego package's per-evaluation set-up
// (metrics, a cancellation goroutine, result conversion) costs as much as a
// small policy, and none of it is needed here. The store holds no data:
// every fact comes from the input.
type query struct {
	compiler *ast.Compiler
	body     ast.Body
	result   ast.Var
	store    storage.Store
	builtins map[string]*topdown.Builtin
}

// newQuery compiles the modules, type-checked against the deterministic
// builtins plus the sluice.version builtins, and the query of ref.
func newQuery(modules map[string]*ast.Module, ref ast.Ref) (*query, error) {
	decls := map[string]*ast.Builtin{}
	impls := map[string]*topdown.Builtin{}
	for _, b := range versionBuiltins() {
		decls[b.decl.Name] = b.astBuiltin()
		impls[b.decl.Name] = b.topdownBuiltin()
	}
	c := ast.NewCompiler().
		WithCapabilities(deterministicCapabilities()).
		WithBuiltins(decls).
		WithUseTypeCheckAnnotations(true).
		WithDefaultRegoVersion(ast.RegoV1)
	c.Compile(modules)
	if c.Failed() {
		return nil, c.Errors
	}
	result := ast.Var("decision")
	body, err := c.QueryCompiler().Compile(ast.NewBody(ast.Equality.Expr(ast.NewTerm(ref), ast.NewTerm(result))))
	if err != nil {
		return nil, err
	}
	return &query{compiler: c, body: body, result: result, store: inmem.New(), builtins: impls}, nil
}

// eval evaluates the decision document for one input at one time. A
// context already done stops it before it starts; an evaluation itself is
// short and bounded (no I/O, no unbounded iteration).
func (q *query) eval(ctx context.Context, input ast.Value, at time.Time) (*ast.Term, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	txn, err := q.store.NewTransaction(ctx)
	if err != nil {
		return nil, fmt.Errorf("open store transaction: %w", err)
	}
	defer q.store.Abort(ctx, txn)
	var out *ast.Term
	err = topdown.NewQuery(q.body).
		WithCompiler(q.compiler).
		WithStore(q.store).
		WithTransaction(txn).
		WithBuiltins(q.builtins).
		WithInput(ast.NewTerm(input)).
		WithTime(at).
		WithMetrics(metrics.NoOp()).
		Iter(ctx, func(qr topdown.QueryResult) error {
			out = qr[q.result]
			return nil
		})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, ErrNoDecision
	}
	return out, nil
}
