package policy

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/sluice-mdm/sluice/protocol"
)

// evalDoc evaluates one document of the engine's modules on an input.
func evalDoc(t *testing.T, e *Engine, ref string, in *Input) *ast.Term {
	t.Helper()
	ctx := context.Background()
	q := e.query
	body, err := q.compiler.QueryCompiler().Compile(ast.MustParseBody("x = " + ref))
	if err != nil {
		t.Fatal(err)
	}
	txn, err := q.store.NewTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer q.store.Abort(ctx, txn)
	var got *ast.Term
	err = topdown.NewQuery(body).WithCompiler(q.compiler).WithStore(q.store).WithTransaction(txn).WithBuiltins(q.builtins).
		WithInput(ast.NewTerm(in.value())).WithStrictBuiltinErrors(true).
		Iter(ctx, func(qr topdown.QueryResult) error {
			got = qr[ast.Var("x")]
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatalf("%s is undefined", ref)
	}
	return got
}

// regoReasons evaluates data.sluice.decision.decision, the decision with
// the sentences the Rego writes, and returns its reasons.
func regoReasons(t *testing.T, e *Engine, in *Input) []protocol.Reason {
	t.Helper()
	var got []protocol.Reason
	if err := ast.As(evalDoc(t, e, "data.sluice.decision.decision.reasons", in).Value, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

// tableRequests are the requests of the decision table and the replay
// tests.
func tableRequests() map[string]Request {
	reqs := replayRequests()
	for _, tc := range decideCases() {
		r := baseRequest()
		tc.req(&r)
		reqs["table: "+tc.name] = r
	}
	return reqs
}

// TestOutcomeIsResultWithoutRules checks what the engine relies on when it
// has no extension rules: it evaluates outcome instead of result.
func TestOutcomeIsResultWithoutRules(t *testing.T) {
	e := newTestEngine(t)
	for name, req := range tableRequests() {
		in, err := BuildInput(req)
		if err != nil {
			t.Fatal(err)
		}
		result, outcome := evalDoc(t, e, "data.sluice.decision.result", &in), evalDoc(t, e, "data.sluice.decision.outcome", &in)
		if result.Value.Compare(outcome.Value) != 0 {
			t.Errorf("%s: result %v != outcome %v", name, result, outcome)
		}
	}
}

// TestMessagesAgreeWithRego checks that the engine's sentences (written in
// Go) are the ones rego/messages.rego writes, for every case of the
// decision table, the replay requests and the extension rule cases.
func TestMessagesAgreeWithRego(t *testing.T) {
	plain := newTestEngine(t)
	ruled := newTestEngine(t, Rule{Name: "freeze.rego", Module: freezeRule})
	for name, req := range tableRequests() {
		for _, e := range []*Engine{plain, ruled} {
			in, err := BuildInput(req)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := decide(t, e, req)
			want := regoReasons(t, e, &in)
			if len(want) == 0 {
				t.Fatalf("%s: the Rego gave no reasons", name)
			}
			if diff := cmp.Diff(want, got.Reasons); diff != "" {
				t.Errorf("%s: reasons (-rego +go):\n%s", name, diff)
			}
		}
	}
}

func TestSentence(t *testing.T) {
	tests := []struct {
		name string
		msg  *ast.Term
		want string
	}{
		{name: "plain", msg: ast.StringTerm("frozen"), want: "frozen."},
		{name: "already a sentence", msg: ast.StringTerm("Frozen!"), want: "Frozen!"},
		{name: "integer", msg: ast.IntNumberTerm(42), want: "42."},
		{name: "decimal", msg: ast.NumberTerm("12.5"), want: "12.5."},
		{name: "object", msg: ast.ObjectTerm(ast.Item(ast.StringTerm("a"), ast.IntNumberTerm(1))), want: `{"a": 1}.`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, sentence(tc.msg)); diff != "" {
				t.Errorf("sentence (-want +got):\n%s", diff)
			}
		})
	}
}
