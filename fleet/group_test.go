package fleet

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGroupContains(t *testing.T) {
	berlin := map[string]string{"store": "berlin-01", "model": "P2"}
	tests := []struct {
		name   string
		group  DeviceGroup
		device string
		labels map[string]string
		want   bool
	}{
		{name: "selector match", group: DeviceGroup{Name: "g", Selector: "store=berlin-01"}, device: "d1", labels: berlin, want: true},
		{name: "selector miss", group: DeviceGroup{Name: "g", Selector: "store=paris-01"}, device: "d1", labels: berlin, want: false},
		{name: "member whatever its labels", group: DeviceGroup{Name: "g", Selector: "store=paris-01", Members: []string{"d1"}}, device: "d1", labels: berlin, want: true},
		{name: "member with no selector", group: DeviceGroup{Name: "g", Members: []string{"d1", "d2"}}, device: "d2", labels: nil, want: true},
		{name: "non-member with no selector", group: DeviceGroup{Name: "g", Members: []string{"d1"}}, device: "d3", labels: berlin, want: false},
		{name: "neither selector nor members matches nothing", group: DeviceGroup{Name: "g"}, device: "d1", labels: berlin, want: false},
		{name: "blank selector is no selector", group: DeviceGroup{Name: "g", Selector: "   "}, device: "d1", labels: berlin, want: false},
		{name: "negative-only selector matches unlabelled", group: DeviceGroup{Name: "g", Selector: "!beta"}, device: "d9", labels: nil, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := CompileGroup(tt.group)
			if err != nil {
				t.Fatalf("CompileGroup: %v", err)
			}
			if diff := cmp.Diff(tt.want, g.Contains(tt.device, tt.labels)); diff != "" {
				t.Errorf("Contains(%q, %v) (-want +got):\n%s", tt.device, tt.labels, diff)
			}
		})
	}
}

func TestCompileGroupAccessors(t *testing.T) {
	g, err := CompileGroup(DeviceGroup{Name: "pilot", Selector: "model in (V2,P2), store=a", Members: []string{"d2", "d1", "d2"}})
	if err != nil {
		t.Fatalf("CompileGroup: %v", err)
	}
	type view struct {
		Name, Selector string
		Members        []string
	}
	want := view{Name: "pilot", Selector: "model in (P2,V2),store=a", Members: []string{"d1", "d2"}}
	got := view{Name: g.Name(), Selector: g.Selector().String(), Members: g.Members()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("group (-want +got):\n%s", diff)
	}
}

func TestCompileGroupErrors(t *testing.T) {
	long := strings.Repeat("g", 254)
	tests := []struct {
		name  string
		group DeviceGroup
		want  string
	}{
		{name: "empty name", group: DeviceGroup{Selector: "a=b"}, want: `fleet: group "": name: "" is empty; want 1 to 253 bytes`},
		{name: "long name", group: DeviceGroup{Name: long}, want: `fleet: group "` + long + `": name: "` + long + `" is 254 bytes long; want 1 to 253 bytes`},
		{name: "bad selector", group: DeviceGroup{Name: "berlin", Selector: "store in (a,"}, want: `fleet: group "berlin": selector: selector "store in (a,": at column 13: found end of input; want a label value`},
		{name: "contradictory selector", group: DeviceGroup{Name: "berlin", Selector: "store=a,store=b"}, want: `fleet: group "berlin": selector: "store=a,store=b" can never match: its requirements on one key contradict each other; use 'key in (a,b)' to select either value`},
		{name: "empty member", group: DeviceGroup{Name: "pilot", Members: []string{"d1", ""}}, want: `fleet: group "pilot": members[1]: "" is not a device id; want a non-empty id without surrounding white space`},
		{name: "padded member", group: DeviceGroup{Name: "pilot", Members: []string{" d1"}}, want: `fleet: group "pilot": members[0]: " d1" is not a device id; want a non-empty id without surrounding white space`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := CompileGroup(tt.group)
			if err == nil {
				t.Fatalf("CompileGroup = %v, want an error", g)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
	_, err := CompileGroup(DeviceGroup{Name: "g", Selector: "a="})
	if !errors.Is(err, ErrInvalidSelector) {
		t.Errorf("selector error %v does not wrap ErrInvalidSelector", err)
	}
}
