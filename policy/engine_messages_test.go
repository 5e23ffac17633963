package policy

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/sluice-mdm/sluice/protocol"
)

// regoReasons evaluates data.sluice.decision.decision, the decision with
// the sentences the Rego writes, and returns its reasons.
func regoReasons(t *testing.T, e *Engine, in *Input) []protocol.Reason {
	t.Helper()
	ctx := context.Background()
	q := e.query
	body, err := q.compiler.QueryCompiler().Compile(ast.MustParseBody("x = data.sluice.decision.decision.reasons"))
	if err != nil {
		t.Fatal(err)
	}
	txn, err := q.store.NewTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer q.store.Abort(ctx, txn)
	var got []protocol.Reason
	err = topdown.NewQuery(body).WithCompiler(q.compiler).WithStore(q.store).WithTransaction(txn).WithBuiltins(q.builtins).
		WithInput(ast.NewTerm(in.value())).WithStrictBuiltinErrors(true).
		Iter(ctx, func(qr topdown.QueryResult) error {
			return ast.As(qr[ast.Var("x")].Value, &got)
		})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestMessagesAgreeWithRego checks that the engine's sentences (written in
// Go) are the ones rego/messages.rego writes, for every case of the
// decision table, the replay requests and the extension rule cases.
func TestMessagesAgreeWithRego(t *testing.T) {
	plain := newTestEngine(t)
	ruled := newTestEngine(t, Rule{Name: "freeze.rego", Module: freezeRule})
	type named struct {
		name string
		req  Request
	}
	var reqs []named
	for _, tc := range decideCases() {
		r := baseRequest()
		tc.req(&r)
		reqs = append(reqs, named{tc.name, r})
	}
	for name, r := range replayRequests() {
		reqs = append(reqs, named{"replay " + name, r})
	}
	for _, tc := range reqs {
		for _, e := range []*Engine{plain, ruled} {
			in, err := BuildInput(tc.req)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			got := decide(t, e, tc.req)
			want := regoReasons(t, e, &in)
			if len(want) == 0 {
				t.Fatalf("%s: the Rego gave no reasons", tc.name)
			}
			if diff := cmp.Diff(want, got.Reasons); diff != "" {
				t.Errorf("%s: reasons (-rego +go):\n%s", tc.name, diff)
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
