package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sluice-mdm/sluice/protocol"
)

func TestSelector(t *testing.T) {
	tests := []struct {
		name   string
		target *TargetSpec
		names  []string
		want   []bool
	}{
		{name: "prefix is dotted", target: &TargetSpec{VersionPrefix: "5.1"}, names: []string{"5.1.7", "5.1", "5.10.0", "5.2.0"}, want: []bool{true, true, false, false}},
		{name: "trailing dot", target: &TargetSpec{VersionPrefix: "5.1."}, names: []string{"5.1", "5.1.7", "5.10.0"}, want: []bool{true, true, false}},
		{name: "pinned version", target: &TargetSpec{Version: "5.1.0"}, names: []string{"5.1.0", "5.1.0.1", "5.1"}, want: []bool{true, false, false}},
		{name: "latest", target: nil, names: []string{"5.1.0", "anything"}, want: []bool{true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSelector(tc.target)
			var got []bool
			for _, n := range tc.names {
				got = append(got, s.selects(n))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("selects %v (-want +got):\n%s", tc.names, diff)
			}
		})
	}
}

func TestSDKOK(t *testing.T) {
	// [minSdk, device sdk]: minSdk is checked only when both are known.
	cases := [][2]int{{30, 30}, {31, 30}, {0, 30}, {99, 0}}
	var got []bool
	for _, c := range cases {
		got = append(got, sdkOK(c[0], c[1]))
	}
	if diff := cmp.Diff([]bool{true, false, true, true}, got); diff != "" {
		t.Errorf("sdkOK of %v (-want +got):\n%s", cases, diff)
	}
}

func TestForceAfterInDaysAndHours(t *testing.T) {
	var got []time.Duration
	for _, s := range []string{"7d", "36h"} {
		d, err := ParseForceAfter(s)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d)
	}
	if diff := cmp.Diff([]time.Duration{7 * 24 * time.Hour, 36 * time.Hour}, got); diff != "" {
		t.Errorf("ParseForceAfter of 7d, 36h (-want +got):\n%s", diff)
	}
}

// TestFacts checks the facts of the benchmark request, which sets most of
// the policy.
func TestFacts(t *testing.T) {
	in, err := BuildInput(benchRequest())
	if err != nil {
		t.Fatal(err)
	}
	ns := func(t time.Time) int64 { return t.UnixNano() }
	day := func(m time.Month, d int) int64 { return ns(time.Date(2025, m, d, 9, 30, 0, 0, time.UTC)) }
	week := int64(7 * 24 * time.Hour)
	updated, enrolled := day(3, 1), day(1, 10)
	want := InputFacts{
		At: day(5, 27), UpdatedAt: &updated, EnrolledAt: &enrolled,
		Policy: true, Mode: string(protocol.ModeDefault), Track: DefaultTrack, InstallType: InstallUpdateOnly,
		PostponeDays: DefaultPostponeDays, DailyFrequency: 2, PromptText: "A new version is ready.", Button: ButtonUpdateApp, ForceAfter: &week,
		PlatformMatches: true, ChannelMatches: true, Installed: true,
		EligibleName: factSatisfied, AgentVersion: factSatisfied,
		// releases, highest first: 5.2.0-rc1 (beta), 5.1.1, 5.1.0, 5.0.0, 4.5.0
		Published:  []int64{day(5, 20), day(5, 25), day(5, 2), day(4, 2), day(3, 1)},
		Pool:       []int{1, 2, 3, 4},
		Candidates: []int{1, 2, 3, 4},
		SDKBlocked: []int{},
		Newer:      []int{1, 2, 3},
	}
	if diff := cmp.Diff(want, in.Facts); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
}
