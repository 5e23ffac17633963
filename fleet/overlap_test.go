package fleet

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSelectorOverlaps(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{name: "equal selectors", a: "store=a", b: "store=a", want: true},
		{name: "different values of one key", a: "store=a", b: "store=b", want: false},
		{name: "different keys", a: "store=a", b: "model=x", want: true},
		{name: "in lists share a value", a: "store in (a,b)", b: "store in (b,c)", want: true},
		{name: "in lists disjoint", a: "store in (a,b)", b: "store in (c,d)", want: false},
		{name: "in versus notin covering it", a: "store in (a,b)", b: "store notin (a,b)", want: false},
		{name: "in versus notin leaving one", a: "store in (a,b)", b: "store notin (a)", want: true},
		{name: "equals versus not equals", a: "store=a", b: "store!=a", want: false},
		{name: "not equals both", a: "store!=a", b: "store!=b", want: true},
		{name: "exists versus does not exist", a: "store", b: "!store", want: false},
		{name: "equals versus does not exist", a: "store=a", b: "!store", want: false},
		{name: "notin versus does not exist", a: "store notin (a)", b: "!store", want: true},
		{name: "exists versus notin", a: "store", b: "store notin (a,b,c)", want: true},
		{name: "empty versus anything", a: "", b: "store=a,model in (x)", want: true},
		{name: "empty versus unsatisfiable", a: "", b: "store=a,store=b", want: false},
		{name: "contradiction on a second key", a: "store=a,model=x", b: "store=a,model=y", want: false},
		{name: "three keys agree", a: "store=a,model in (x,y),!beta", b: "model=y,region=eu", want: true},
		{name: "combined three-way contradiction", a: "store in (a,b),store!=a", b: "store notin (b)", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := MustParseSelector(tt.a), MustParseSelector(tt.b)
			if diff := cmp.Diff(tt.want, a.Overlaps(b)); diff != "" {
				t.Errorf("%q.Overlaps(%q) (-want +got):\n%s", tt.a, tt.b, diff)
			}
			if diff := cmp.Diff(tt.want, b.Overlaps(a)); diff != "" {
				t.Errorf("%q.Overlaps(%q) (-want +got):\n%s", tt.b, tt.a, diff)
			}
		})
	}
}

func TestSelectorSatisfiable(t *testing.T) {
	tests := []struct {
		name     string
		selector string
		want     bool
	}{
		{name: "empty", selector: "", want: true},
		{name: "typical", selector: "store=a,model in (x,y)", want: true},
		{name: "two values", selector: "store=a,store=b", want: false},
		{name: "exists and not", selector: "store,!store", want: false},
		{name: "in emptied by notin", selector: "store in (a),store notin (a)", want: false},
		{name: "absent satisfies negatives", selector: "!store,store!=a,store notin (b)", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, MustParseSelector(tt.selector).Satisfiable()); diff != "" {
				t.Errorf("%q.Satisfiable() (-want +got):\n%s", tt.selector, diff)
			}
		})
	}
}
