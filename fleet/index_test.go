package fleet

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testGroups is a small fleet: stores in Berlin and Paris, two models, a
// pilot group by explicit members.
var testGroups = []DeviceGroup{
	{Name: "all-pos", Selector: "kind=pos"},
	{Name: "berlin", Selector: "store in (berlin-01,berlin-02)"},
	{Name: "paris", Selector: "store=paris-01"},
	{Name: "p2", Selector: "model=P2"},
	{Name: "pilot", Members: []string{"pilot-1", "pilot-2"}},
	{Name: "vip", Members: []string{"pilot-2", "vip-1"}},
	{Name: "nobody"},
}

func TestResolve(t *testing.T) {
	assignments := []Assignment{
		{Name: "pos-stable", Policy: "stable", App: "com.pos.app", Groups: []string{"all-pos"}, Priority: 0},
		{Name: "pos-berlin", Policy: "berlin-fast", App: "com.pos.app", Groups: []string{"berlin"}, Priority: 10},
		{Name: "pos-paris", Policy: "paris-slow", App: "com.pos.app", Groups: []string{"paris"}, Priority: 10},
		{Name: "pos-pilot", Policy: "beta", App: "com.pos.app", Groups: []string{"pilot", "nobody"}, Priority: 100},
		{Name: "pay-p2", Policy: "pay-p2", App: "com.pay", Groups: []string{"p2"}, Priority: 5},
		{Name: "pay-all", Policy: "pay", App: "com.pay", Groups: []string{"all-pos", "all-pos"}, Priority: 1},
	}
	x, err := NewIndex(testGroups, assignments)
	if err != nil {
		t.Fatalf("NewIndex: %v", err)
	}
	type result struct {
		Name string
		OK   bool
	}
	tests := []struct {
		name   string
		device string
		labels map[string]string
		app    string
		want   result
	}{
		{name: "only the base applies", device: "d1", labels: map[string]string{"kind": "pos", "store": "munich-01"}, app: "com.pos.app", want: result{"pos-stable", true}},
		{name: "store beats base", device: "d2", labels: map[string]string{"kind": "pos", "store": "berlin-02"}, app: "com.pos.app", want: result{"pos-berlin", true}},
		{name: "other store at same priority", device: "d3", labels: map[string]string{"kind": "pos", "store": "paris-01"}, app: "com.pos.app", want: result{"pos-paris", true}},
		{name: "pilot member beats labels", device: "pilot-1", labels: map[string]string{"kind": "pos", "store": "berlin-01"}, app: "com.pos.app", want: result{"pos-pilot", true}},
		{name: "pilot member without labels", device: "pilot-2", labels: nil, app: "com.pos.app", want: result{"pos-pilot", true}},
		{name: "group selector without base", device: "d4", labels: map[string]string{"store": "berlin-01"}, app: "com.pos.app", want: result{"pos-berlin", true}},
		{name: "nothing applies", device: "d5", labels: map[string]string{"kind": "kiosk"}, app: "com.pos.app", want: result{"", false}},
		{name: "unknown app", device: "d1", labels: map[string]string{"kind": "pos"}, app: "com.other", want: result{"", false}},
		{name: "second app, model group wins", device: "d6", labels: map[string]string{"kind": "pos", "model": "P2"}, app: "com.pay", want: result{"pay-p2", true}},
		{name: "second app, base", device: "d7", labels: map[string]string{"kind": "pos", "model": "V2"}, app: "com.pay", want: result{"pay-all", true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok, err := x.Resolve(tt.device, tt.labels, tt.app)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if diff := cmp.Diff(tt.want, result{a.Name, ok}); diff != "" {
				t.Errorf("Resolve(%q, %v, %q) (-want +got):\n%s", tt.device, tt.labels, tt.app, diff)
			}
		})
	}

	// The whole assignment comes back, and callers cannot change the index
	// through it.
	a, _, _ := x.Resolve("pilot-1", nil, "com.pos.app")
	if diff := cmp.Diff(assignments[3], a); diff != "" {
		t.Errorf("resolved assignment (-want +got):\n%s", diff)
	}
	a.Groups[0] = "changed"
	again, _, _ := x.Resolve("pilot-1", nil, "com.pos.app")
	if diff := cmp.Diff(assignments[3], again); diff != "" {
		t.Errorf("assignment after caller changed a copy (-want +got):\n%s", diff)
	}
}

func TestResolveAmbiguous(t *testing.T) {
	// pilot-1 is listed in "pilot" and its labels put it in "berlin": this
	// cannot be seen when indexing, so Resolve must refuse to choose.
	x, err := NewIndex(testGroups, []Assignment{
		{Name: "z-berlin", Policy: "berlin-fast", App: "com.pos.app", Groups: []string{"berlin"}, Priority: 10},
		{Name: "a-pilot", Policy: "beta", App: "com.pos.app", Groups: []string{"pilot"}, Priority: 10},
		{Name: "base", Policy: "stable", App: "com.pos.app", Groups: []string{"all-pos"}, Priority: 0},
	})
	if err != nil {
		t.Fatalf("NewIndex: %v", err)
	}
	_, ok, err := x.Resolve("pilot-1", map[string]string{"kind": "pos", "store": "berlin-01"}, "com.pos.app")
	if !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("Resolve = ok %v, err %v; want ErrAmbiguous", ok, err)
	}
	var ae *AmbiguousError
	if !errors.As(err, &ae) {
		t.Fatalf("error %T is not an *AmbiguousError", err)
	}
	want := AmbiguousError{DeviceID: "pilot-1", App: "com.pos.app", Priority: 10, First: "a-pilot", Second: "z-berlin"}
	if diff := cmp.Diff(want, *ae); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	wantMsg := `fleet: device "pilot-1", app "com.pos.app": assignments "a-pilot" and "z-berlin" both apply at priority 10`
	if diff := cmp.Diff(wantMsg, err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}

	// The same device elsewhere, and other devices, resolve normally.
	tests := []struct {
		name   string
		device string
		labels map[string]string
		want   string
	}{
		{name: "pilot member outside berlin", device: "pilot-1", labels: map[string]string{"kind": "pos", "store": "paris-01"}, want: "a-pilot"},
		{name: "berlin device not in pilot", device: "d1", labels: map[string]string{"kind": "pos", "store": "berlin-01"}, want: "z-berlin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, err := x.Resolve(tt.device, tt.labels, "com.pos.app")
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if diff := cmp.Diff(tt.want, a.Name); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewIndexTies(t *testing.T) {
	groups := append([]DeviceGroup{
		{Name: "berlin-p2", Selector: "store in (berlin-01,berlin-02),model=P2"},
		{Name: "not-berlin", Selector: "store notin (berlin-01,berlin-02)"},
		{Name: "no-store", Selector: "!store"},
		{Name: "labelled-store", Selector: "store"},
	}, testGroups...)
	tests := []struct {
		name string
		a, b Assignment
		want *TieError // nil: no tie
	}{
		{
			name: "same group",
			a:    Assignment{Name: "one", Policy: "p1", App: "com.x", Groups: []string{"berlin"}, Priority: 5},
			b:    Assignment{Name: "two", Policy: "p2", App: "com.x", Groups: []string{"paris", "berlin"}, Priority: 5},
			want: &TieError{App: "com.x", Priority: 5, First: "one", Second: "two", Why: `both include group "berlin"`},
		},
		{
			name: "shared explicit member",
			a:    Assignment{Name: "b-pilot", Policy: "p1", App: "com.x", Groups: []string{"pilot"}, Priority: 5},
			b:    Assignment{Name: "a-vip", Policy: "p2", App: "com.x", Groups: []string{"vip"}, Priority: 5},
			want: &TieError{App: "com.x", Priority: 5, First: "a-vip", Second: "b-pilot", Why: `groups "vip" and "pilot" both list device "pilot-2"`},
		},
		{
			name: "selectors on different keys overlap",
			a:    Assignment{Name: "by-store", Policy: "p1", App: "com.x", Groups: []string{"berlin"}, Priority: 5},
			b:    Assignment{Name: "by-model", Policy: "p2", App: "com.x", Groups: []string{"p2"}, Priority: 5},
			want: &TieError{App: "com.x", Priority: 5, First: "by-model", Second: "by-store", Why: `the selectors of groups "p2" (model=P2) and "berlin" (store in (berlin-01,berlin-02)) can match the same device`},
		},
		{
			name: "narrower selector inside wider one",
			a:    Assignment{Name: "one", Policy: "p1", App: "com.x", Groups: []string{"berlin-p2"}, Priority: -3},
			b:    Assignment{Name: "two", Policy: "p2", App: "com.x", Groups: []string{"berlin"}, Priority: -3},
			want: &TieError{App: "com.x", Priority: -3, First: "one", Second: "two", Why: `the selectors of groups "berlin-p2" (model=P2,store in (berlin-01,berlin-02)) and "berlin" (store in (berlin-01,berlin-02)) can match the same device`},
		},
		{
			name: "absent label and negative selector overlap",
			a:    Assignment{Name: "one", Policy: "p1", App: "com.x", Groups: []string{"no-store"}, Priority: 1},
			b:    Assignment{Name: "two", Policy: "p2", App: "com.x", Groups: []string{"not-berlin"}, Priority: 1},
			want: &TieError{App: "com.x", Priority: 1, First: "one", Second: "two", Why: `the selectors of groups "no-store" (!store) and "not-berlin" (store notin (berlin-01,berlin-02)) can match the same device`},
		},
		{name: "contradicting values", a: Assignment{Name: "one", Policy: "p1", App: "com.x", Groups: []string{"berlin"}, Priority: 5}, b: Assignment{Name: "two", Policy: "p2", App: "com.x", Groups: []string{"paris"}, Priority: 5}},
		{name: "in versus notin", a: Assignment{Name: "one", Policy: "p1", App: "com.x", Groups: []string{"berlin"}, Priority: 5}, b: Assignment{Name: "two", Policy: "p2", App: "com.x", Groups: []string{"not-berlin"}, Priority: 5}},
		{name: "exists versus not exists", a: Assignment{Name: "one", Policy: "p1", App: "com.x", Groups: []string{"no-store"}, Priority: 5}, b: Assignment{Name: "two", Policy: "p2", App: "com.x", Groups: []string{"labelled-store"}, Priority: 5}},
		{name: "different priorities", a: Assignment{Name: "one", Policy: "p1", App: "com.x", Groups: []string{"berlin"}, Priority: 5}, b: Assignment{Name: "two", Policy: "p2", App: "com.x", Groups: []string{"berlin"}, Priority: 6}},
		{name: "different apps", a: Assignment{Name: "one", Policy: "p1", App: "com.x", Groups: []string{"berlin"}, Priority: 5}, b: Assignment{Name: "two", Policy: "p2", App: "com.y", Groups: []string{"berlin"}, Priority: 5}},
		{name: "disjoint members", a: Assignment{Name: "one", Policy: "p1", App: "com.x", Groups: []string{"pilot"}, Priority: 5}, b: Assignment{Name: "two", Policy: "p2", App: "com.x", Groups: []string{"nobody"}, Priority: 5}},
		{name: "members versus selector is left to Resolve", a: Assignment{Name: "one", Policy: "p1", App: "com.x", Groups: []string{"pilot"}, Priority: 5}, b: Assignment{Name: "two", Policy: "p2", App: "com.x", Groups: []string{"berlin"}, Priority: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := NewIndex(groups, []Assignment{tt.a, tt.b})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("NewIndex: %v", err)
				}
				if x == nil {
					t.Fatal("NewIndex returned no index")
				}
				return
			}
			if !errors.Is(err, ErrTie) {
				t.Fatalf("NewIndex error = %v, want ErrTie", err)
			}
			var te *TieError
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not a *TieError", err)
			}
			if diff := cmp.Diff(tt.want, te); diff != "" {
				t.Errorf("tie (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTieErrorMessage(t *testing.T) {
	_, err := NewIndex(testGroups, []Assignment{
		{Name: "one", Policy: "p1", App: "com.x", Groups: []string{"berlin"}, Priority: 5},
		{Name: "two", Policy: "p2", App: "com.x", Groups: []string{"berlin"}, Priority: 5},
	})
	want := `fleet: assignments "one" and "two" both assign app "com.x" at priority 5: both include group "berlin"; give one of them a different priority`
	if err == nil {
		t.Fatal("NewIndex accepted a tie")
	}
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

func TestNewIndexErrors(t *testing.T) {
	ok := Assignment{Name: "ok", Policy: "p", App: "com.x", Groups: []string{"berlin"}}
	tests := []struct {
		name        string
		groups      []DeviceGroup
		assignments []Assignment
		want        string
	}{
		{name: "bad group", groups: []DeviceGroup{{Name: "g", Selector: "a in"}}, want: `fleet: group "g": selector: selector "a in": at column 5: found end of input; want '('`},
		{name: "duplicate group", groups: []DeviceGroup{{Name: "g", Selector: "a=b"}, {Name: "g", Members: []string{"d"}}}, want: `fleet: group "g": name: "g" is defined twice; group names must be unique`},
		{name: "empty assignment name", assignments: []Assignment{{Policy: "p", App: "com.x", Groups: []string{"berlin"}}}, want: `fleet: assignment "": name: "" is empty; want 1 to 253 bytes`},
		{name: "duplicate assignment", assignments: []Assignment{ok, ok}, want: `fleet: assignment "ok": name: "ok" is defined twice; assignment names must be unique`},
		{name: "no policy", assignments: []Assignment{{Name: "a", App: "com.x", Groups: []string{"berlin"}}}, want: `fleet: assignment "a": policy: "" is empty; want the name of an UpdatePolicy`},
		{name: "no app", assignments: []Assignment{{Name: "a", Policy: "p", Groups: []string{"berlin"}}}, want: `fleet: assignment "a": app: "" is empty; want the package governed by policy "p"`},
		{name: "no groups", assignments: []Assignment{{Name: "a", Policy: "p", App: "com.x"}}, want: `fleet: assignment "a": groups: "" is empty; want at least one group name`},
		{name: "unknown group", assignments: []Assignment{{Name: "a", Policy: "p", App: "com.x", Groups: []string{"berlin", "munich"}}}, want: `fleet: assignment "a": groups[1]: "munich" is not a known group; known groups: berlin, paris`},
		{name: "no groups defined", groups: []DeviceGroup{}, assignments: []Assignment{ok}, want: `fleet: assignment "ok": groups[0]: "berlin" is not a known group; none are defined`},
	}
	defaultGroups := []DeviceGroup{{Name: "paris", Selector: "store=paris-01"}, {Name: "berlin", Selector: "store=berlin-01"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			groups := tt.groups
			if groups == nil {
				groups = defaultGroups
			}
			x, err := NewIndex(groups, tt.assignments)
			if err == nil {
				t.Fatalf("NewIndex = %v, want an error", x)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIndexAppsAndGroups(t *testing.T) {
	x, err := NewIndex(testGroups, []Assignment{
		{Name: "pos-berlin", Policy: "p1", App: "com.pos.app", Groups: []string{"berlin"}, Priority: 10},
		{Name: "pos-pilot", Policy: "p2", App: "com.pos.app", Groups: []string{"pilot"}, Priority: 20},
		{Name: "pay-all", Policy: "p3", App: "com.pay", Groups: []string{"all-pos"}},
		{Name: "kiosk-p2", Policy: "p4", App: "com.kiosk", Groups: []string{"p2"}},
	})
	if err != nil {
		t.Fatalf("NewIndex: %v", err)
	}
	type view struct {
		Apps, Groups []string
	}
	tests := []struct {
		name   string
		device string
		labels map[string]string
		want   view
	}{
		{name: "berlin pos P2", device: "d1", labels: map[string]string{"kind": "pos", "store": "berlin-01", "model": "P2"}, want: view{Apps: []string{"com.kiosk", "com.pay", "com.pos.app"}, Groups: []string{"all-pos", "berlin", "p2"}}},
		{name: "pilot member only", device: "pilot-2", labels: nil, want: view{Apps: []string{"com.pos.app"}, Groups: []string{"pilot", "vip"}}},
		{name: "paris pos", device: "d2", labels: map[string]string{"kind": "pos", "store": "paris-01"}, want: view{Apps: []string{"com.pay"}, Groups: []string{"all-pos", "paris"}}},
		{name: "nowhere", device: "d3", labels: map[string]string{"kind": "kiosk"}, want: view{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := view{Apps: x.Apps(tt.device, tt.labels), Groups: x.Groups(tt.device, tt.labels)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	g, ok := x.Group("berlin")
	if !ok || g.Name() != "berlin" || !g.Contains("d", map[string]string{"store": "berlin-02"}) {
		t.Errorf("Group(berlin) = %v, %v; want the berlin group", g, ok)
	}
	if g, ok := x.Group("munich"); ok {
		t.Errorf("Group(munich) = %v, want none", g)
	}
	var names []string
	for _, a := range x.Assignments("all-pos") {
		names = append(names, a.Name)
	}
	if diff := cmp.Diff([]string{"pay-all"}, names); diff != "" {
		t.Errorf("Assignments(all-pos) (-want +got):\n%s", diff)
	}
	if got := x.Assignments("nobody"); got != nil {
		t.Errorf("Assignments(nobody) = %v, want none", got)
	}
}

// benchIndex builds n assignments for one app, each on its own store
// group, with the device matching only the lowest-priority one: Resolve
// has to test every assignment.
func benchIndex(b *testing.B, n int) *Index {
	b.Helper()
	var groups []DeviceGroup
	var assignments []Assignment
	for i := range n {
		g := fmt.Sprintf("store-%02d", i)
		groups = append(groups, DeviceGroup{Name: g, Selector: fmt.Sprintf("kind=pos,store=s%02d,model in (P2,V2,A8)", i), Members: []string{fmt.Sprintf("pilot-%02d", i)}})
		assignments = append(assignments, Assignment{Name: "a-" + g, Policy: "p-" + g, App: "com.pos.app", Groups: []string{g}, Priority: n - i})
	}
	x, err := NewIndex(groups, assignments)
	if err != nil {
		b.Fatalf("NewIndex: %v", err)
	}
	return x
}

func BenchmarkResolve(b *testing.B) {
	for _, n := range []int{1, 50} {
		b.Run(fmt.Sprintf("assignments=%d", n), func(b *testing.B) {
			x := benchIndex(b, n)
			labels := map[string]string{"kind": "pos", "store": fmt.Sprintf("s%02d", n-1), "model": "V2", "region": "eu"}
			want := fmt.Sprintf("a-store-%02d", n-1)
			b.ReportAllocs()
			for b.Loop() {
				a, ok, err := x.Resolve("device-1", labels, "com.pos.app")
				if err != nil || !ok || a.Name != want {
					b.Fatalf("Resolve = %v, %v, %v; want %s", a.Name, ok, err, want)
				}
			}
		})
	}
}
