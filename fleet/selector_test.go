package fleet

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSelector(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		want       []Requirement
		wantString string
	}{
		{name: "empty", in: "", want: []Requirement{}, wantString: ""},
		{name: "blank", in: " \t\n", want: []Requirement{}, wantString: ""},
		{name: "equals", in: "store=berlin-01", want: []Requirement{{Key: "store", Operator: OpEquals, Values: []string{"berlin-01"}}}, wantString: "store=berlin-01"},
		{name: "double equals", in: "store==berlin-01", want: []Requirement{{Key: "store", Operator: OpEquals, Values: []string{"berlin-01"}}}, wantString: "store=berlin-01"},
		{name: "not equals", in: "tier!=gold", want: []Requirement{{Key: "tier", Operator: OpNotEquals, Values: []string{"gold"}}}, wantString: "tier!=gold"},
		{name: "in sorted and distinct", in: "model in (V2,P2,V2)", want: []Requirement{{Key: "model", Operator: OpIn, Values: []string{"P2", "V2"}}}, wantString: "model in (P2,V2)"},
		{name: "notin", in: "model notin (x)", want: []Requirement{{Key: "model", Operator: OpNotIn, Values: []string{"x"}}}, wantString: "model notin (x)"},
		{name: "exists", in: "pilot", want: []Requirement{{Key: "pilot", Operator: OpExists}}, wantString: "pilot"},
		{name: "does not exist", in: "!pilot", want: []Requirement{{Key: "pilot", Operator: OpDoesNotExist}}, wantString: "!pilot"},
		{
			name: "design example",
			in:   "store=berlin-01,model in (P2,V2)",
			want: []Requirement{
				{Key: "model", Operator: OpIn, Values: []string{"P2", "V2"}},
				{Key: "store", Operator: OpEquals, Values: []string{"berlin-01"}},
			},
			wantString: "model in (P2,V2),store=berlin-01",
		},
		{
			name: "white space everywhere",
			in:   "  store = a ,  model   in(  x ,y )  , ! beta , region ",
			want: []Requirement{
				{Key: "beta", Operator: OpDoesNotExist},
				{Key: "model", Operator: OpIn, Values: []string{"x", "y"}},
				{Key: "region", Operator: OpExists},
				{Key: "store", Operator: OpEquals, Values: []string{"a"}},
			},
			wantString: "!beta,model in (x,y),region,store=a",
		},
		{
			name: "same key ordered by operator, duplicates dropped",
			in:   "a notin (z),a!=y,a in (q),a=x,!a,a,a=x",
			want: []Requirement{
				{Key: "a", Operator: OpExists},
				{Key: "a", Operator: OpDoesNotExist},
				{Key: "a", Operator: OpEquals, Values: []string{"x"}},
				{Key: "a", Operator: OpNotEquals, Values: []string{"y"}},
				{Key: "a", Operator: OpIn, Values: []string{"q"}},
				{Key: "a", Operator: OpNotIn, Values: []string{"z"}},
			},
			wantString: "a,!a,a=x,a!=y,a in (q),a notin (z)",
		},
		{name: "prefixed key", in: "sluice.dev/ring=canary", want: []Requirement{{Key: "sluice.dev/ring", Operator: OpEquals, Values: []string{"canary"}}}, wantString: "sluice.dev/ring=canary"},
		{name: "keywords as values", in: "k in (in,notin),j=in", want: []Requirement{
			{Key: "j", Operator: OpEquals, Values: []string{"in"}},
			{Key: "k", Operator: OpIn, Values: []string{"in", "notin"}},
		}, wantString: "j=in,k in (in,notin)"},
		{name: "dots dashes underscores inside", in: "a.b_c-d=1.2_3-4", want: []Requirement{{Key: "a.b_c-d", Operator: OpEquals, Values: []string{"1.2_3-4"}}}, wantString: "a.b_c-d=1.2_3-4"},
		{name: "63-byte name and value", in: strings.Repeat("k", 63) + "=" + strings.Repeat("v", 63), want: []Requirement{{Key: strings.Repeat("k", 63), Operator: OpEquals, Values: []string{strings.Repeat("v", 63)}}}, wantString: strings.Repeat("k", 63) + "=" + strings.Repeat("v", 63)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := ParseSelector(tt.in)
			if err != nil {
				t.Fatalf("ParseSelector(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, sel.Requirements()); diff != "" {
				t.Errorf("requirements (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantString, sel.String()); diff != "" {
				t.Errorf("String() (-want +got):\n%s", diff)
			}
			again, err := ParseSelector(sel.String())
			if err != nil {
				t.Fatalf("re-parse %q: %v", sel.String(), err)
			}
			if !again.Equal(sel) {
				t.Errorf("re-parsed %q = %q, want equal", sel.String(), again.String())
			}
		})
	}
}

func TestParseSelectorErrors(t *testing.T) {
	long := strings.Repeat("x", 64)
	tests := []struct {
		name string
		in   string
		want SelectorError
	}{
		{name: "unclosed list after comma", in: "store in (a,", want: SelectorError{Column: 13, Found: "end of input", Want: wantValue}},
		{name: "empty list", in: "store in ()", want: SelectorError{Column: 11, Found: `")"`, Want: wantValue}},
		{name: "unclosed list", in: "store in (a", want: SelectorError{Column: 12, Found: "end of input", Want: wantListNext}},
		{name: "in without parenthesis", in: "store in a", want: SelectorError{Column: 10, Found: `"a"`, Want: wantOpenParen}},
		{name: "space inside list value", in: "store in (a b)", want: SelectorError{Column: 13, Found: `"b"`, Want: wantListNext}},
		{name: "missing value", in: "store=", want: SelectorError{Column: 7, Found: "end of input", Want: wantValue}},
		{name: "missing value before comma", in: "store=,a", want: SelectorError{Column: 7, Found: `","`, Want: wantValue}},
		{name: "missing key", in: "=a", want: SelectorError{Column: 1, Found: `"="`, Want: wantRequirement}},
		{name: "trailing comma", in: "a=b,", want: SelectorError{Column: 5, Found: "end of input", Want: wantRequirement}},
		{name: "leading comma", in: ",a", want: SelectorError{Column: 1, Found: `","`, Want: wantRequirement}},
		{name: "double comma", in: "a,,b", want: SelectorError{Column: 3, Found: `","`, Want: wantRequirement}},
		{name: "two words", in: "store berlin", want: SelectorError{Column: 7, Found: `"berlin"`, Want: wantOperator}},
		{name: "triple equals", in: "a===b", want: SelectorError{Column: 4, Found: `"="`, Want: wantValue}},
		{name: "bang without key", in: "!", want: SelectorError{Column: 2, Found: "end of input", Want: wantRequirement}},
		{name: "bang with operator", in: "!a=b", want: SelectorError{Column: 3, Found: `"="`, Want: wantSeparator}},
		{name: "keyword as key", in: "in (a)", want: SelectorError{Column: 1, Found: `"in"`, Want: wantRequirement}},
		{name: "greater than", in: "a>1", want: SelectorError{Column: 1, Found: `"a>1"`, Want: wantKeyRule, Reason: `has a name that has '>' at byte 1`}},
		{name: "key starts with dash", in: "-a=b", want: SelectorError{Column: 1, Found: `"-a"`, Want: wantKeyRule, Reason: `has a name that has '-' at byte 0, where a letter or digit is needed`}},
		{name: "key too long", in: long + "=b", want: SelectorError{Column: 1, Found: `"` + long + `"`, Want: wantKeyRule, Reason: "has a name that is 64 bytes long"}},
		{name: "value too long", in: "a=" + long, want: SelectorError{Column: 3, Found: `"` + long + `"`, Want: wantValueRule, Reason: "is 64 bytes long"}},
		{name: "value ends with dot", in: "a in (x,y.)", want: SelectorError{Column: 9, Found: `"y."`, Want: wantValueRule, Reason: `has '.' at byte 1, where a letter or digit is needed`}},
		{name: "uppercase prefix", in: "Example.com/a", want: SelectorError{Column: 1, Found: `"Example.com/a"`, Want: wantKeyRule, Reason: `has a prefix that has 'E'; want lowercase letters, digits, '-' and '.'`}},
		{name: "empty name after prefix", in: "example.com/", want: SelectorError{Column: 1, Found: `"example.com/"`, Want: wantKeyRule, Reason: "has an empty name"}},
		{name: "empty prefix", in: "/a", want: SelectorError{Column: 1, Found: `"/a"`, Want: wantKeyRule, Reason: "has a prefix that is empty"}},
		{name: "two slashes", in: "a.b/c/d", want: SelectorError{Column: 1, Found: `"a.b/c/d"`, Want: wantKeyRule, Reason: `has a name that has '/' at byte 1`}},
		{name: "unicode key", in: "störe=a", want: SelectorError{Column: 1, Found: `"störe"`, Want: wantKeyRule, Reason: `has a name that has 'ö' at byte 2`}},
		{name: "control character", in: "a=b,\x00", want: SelectorError{Column: 5, Found: `"\x00"`, Want: wantRequirement}},
		{name: "unbalanced close", in: "a)", want: SelectorError{Column: 2, Found: `")"`, Want: wantOperator}},
		{name: "notin missing parenthesis at end", in: "a notin", want: SelectorError{Column: 8, Found: "end of input", Want: wantOpenParen}},
	}
	if len(tests) < 15 {
		t.Fatalf("only %d malformed selectors", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := ParseSelector(tt.in)
			if err == nil {
				t.Fatalf("ParseSelector(%q) = %q, want an error", tt.in, sel.String())
			}
			if !errors.Is(err, ErrInvalidSelector) {
				t.Errorf("error %v does not wrap ErrInvalidSelector", err)
			}
			var se *SelectorError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SelectorError", err)
			}
			tt.want.Selector = tt.in
			if diff := cmp.Diff(tt.want, *se); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSelectorErrorMessage(t *testing.T) {
	_, err := ParseSelector("store in (a,")
	want := `fleet: selector "store in (a,": at column 13: found end of input; want a label value`
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	_, err = ParseSelector("-a=b")
	want = `fleet: selector "-a=b": at column 1: found "-a", which has a name that has '-' at byte 0, where a letter or digit is needed; want ` + wantKeyRule
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

func TestSelectorMatches(t *testing.T) {
	berlinP2 := map[string]string{"store": "berlin-01", "model": "P2"}
	tests := []struct {
		name     string
		selector string
		labels   map[string]string
		want     bool
	}{
		{name: "empty matches nil labels", selector: "", labels: nil, want: true},
		{name: "empty matches anything", selector: "", labels: berlinP2, want: true},
		{name: "equals hit", selector: "store=berlin-01", labels: berlinP2, want: true},
		{name: "equals miss", selector: "store=berlin-02", labels: berlinP2, want: false},
		{name: "equals absent", selector: "region=eu", labels: berlinP2, want: false},
		{name: "not equals other value", selector: "store!=berlin-02", labels: berlinP2, want: true},
		{name: "not equals same value", selector: "store!=berlin-01", labels: berlinP2, want: false},
		{name: "not equals absent label matches", selector: "region!=eu", labels: berlinP2, want: true},
		{name: "in hit", selector: "model in (P2,V2)", labels: berlinP2, want: true},
		{name: "in miss", selector: "model in (V2,A8)", labels: berlinP2, want: false},
		{name: "in absent", selector: "region in (eu)", labels: berlinP2, want: false},
		{name: "notin hit", selector: "model notin (P2)", labels: berlinP2, want: false},
		{name: "notin miss", selector: "model notin (V2)", labels: berlinP2, want: true},
		{name: "notin absent matches", selector: "region notin (eu)", labels: berlinP2, want: true},
		{name: "exists", selector: "model", labels: berlinP2, want: true},
		{name: "exists absent", selector: "region", labels: berlinP2, want: false},
		{name: "exists with empty value", selector: "beta", labels: map[string]string{"beta": ""}, want: true},
		{name: "does not exist", selector: "!region", labels: berlinP2, want: true},
		{name: "does not exist present", selector: "!model", labels: berlinP2, want: false},
		{name: "and all hold", selector: "store=berlin-01,model in (P2,V2),!beta", labels: berlinP2, want: true},
		{name: "and one fails", selector: "store=berlin-01,model in (V2)", labels: berlinP2, want: false},
		{name: "values are case sensitive", selector: "model=p2", labels: berlinP2, want: false},
		{name: "nil labels and negative requirement", selector: "a!=b,!c,d notin (e)", labels: nil, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel := MustParseSelector(tt.selector)
			if diff := cmp.Diff(tt.want, sel.Matches(tt.labels)); diff != "" {
				t.Errorf("%q.Matches(%v) (-want +got):\n%s", tt.selector, tt.labels, diff)
			}
		})
	}
}

func TestMustParseSelectorPanics(t *testing.T) {
	defer func() {
		r := recover()
		err, _ := r.(error)
		if !errors.Is(err, ErrInvalidSelector) {
			t.Errorf("recovered %v, want an ErrInvalidSelector", r)
		}
	}()
	MustParseSelector("a in")
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{
		"", "a", "!a", "a=b", "a==b", "a!=b", "a in (x,y)", "a notin (x)", "store=berlin-01,model in (P2,V2)",
		"example.com/a=b", "a in (", "a=b,", "=", "!", "a in (in)", "a,!a", " a = b ", "störe=a", "a\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			var se *SelectorError
			if !errors.As(err, &se) {
				t.Fatalf("ParseSelector(%q): error %T is not a *SelectorError", s, err)
			}
			if se.Column < 1 || se.Column > len(s)+1 {
				t.Fatalf("ParseSelector(%q): column %d outside 1..%d", s, se.Column, len(s)+1)
			}
			return
		}
		canon := sel.String()
		again, err := ParseSelector(canon)
		if err != nil {
			t.Fatalf("ParseSelector(%q) accepted, but its String() %q does not parse: %v", s, canon, err)
		}
		if !again.Equal(sel) {
			t.Fatalf("ParseSelector(%q).String() = %q re-parses to %q", s, canon, again.String())
		}
		if again.String() != canon {
			t.Fatalf("String() is not stable: %q then %q", canon, again.String())
		}
		if got, want := sel.Overlaps(again), sel.Satisfiable(); got != want {
			t.Fatalf("%q overlaps itself: %v, but Satisfiable() = %v", canon, got, want)
		}
	})
}
