package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluice-mdm/sluice/protocol"
)

// InputFacts are plain functions of the rest of an [Input] that the
// decision modules read instead of computing them in Rego, where parsing and
// scanning cost far more than in Go: times in nanoseconds, the policy's
// defaults filled in, semantic version comparisons, and predicates over the
// releases as lists of release indexes. No fact chooses between outcomes;
// rego/facts.rego documents each one. [BuildInput] computes them and
// [Engine.Evaluate] computes them again, so a logged input replays to the
// same decision whatever facts it carries.
type InputFacts struct {
	At             int64  `json:"at"`
	EffectiveStart *int64 `json:"effectiveStart,omitempty"`
	EffectiveEnd   *int64 `json:"effectiveEnd,omitempty"`
	UpdatedAt      *int64 `json:"updatedAt,omitempty"`
	EnrolledAt     *int64 `json:"enrolledAt,omitempty"`

	Policy         bool   `json:"policy"`
	Mode           string `json:"mode"`
	Track          string `json:"track"`
	InstallType    string `json:"installType"`
	PostponeDays   int    `json:"postponeDays"`
	DailyFrequency int    `json:"dailyFrequency"`
	PromptText     string `json:"promptText"`
	Button         string `json:"button"`
	ForceAfter     *int64 `json:"forceAfter,omitempty"`

	PlatformMatches   bool   `json:"platformMatches"`
	ChannelMatches    bool   `json:"channelMatches"`
	Installed         bool   `json:"installed"`
	EligibleName      string `json:"eligibleName"`
	EligibleNameError string `json:"eligibleNameError"`
	InstalledExcluded bool   `json:"installedExcluded"`
	AgentVersion      string `json:"agentVersion"`
	AgentVersionError string `json:"agentVersionError"`

	Published  []int64 `json:"published"`
	Pool       []int   `json:"pool"`
	Candidates []int   `json:"candidates"`
	SDKBlocked []int   `json:"sdkBlocked"`
	Newer      []int   `json:"newer"`
}

// Values of InputFacts.EligibleName and InputFacts.AgentVersion.
const (
	factSatisfied    = "satisfied"
	factUnsatisfied  = "unsatisfied"
	factUnchecked    = "unchecked"
	factOlder        = "older"
	factUnreported   = "unreported"
	factIncomparable = "incomparable"
)

// deriveFacts computes in.Facts from the rest of the input. The input must
// have passed Check: times are in range and forceAfter parses.
func (in *Input) deriveFacts() {
	f := InputFacts{
		At:         in.At.UnixNano(),
		EnrolledAt: nsOrNil(in.Device.EnrolledAt),
		Published:  make([]int64, len(in.Releases)),
		Pool:       []int{},
		Candidates: []int{},
		SDKBlocked: []int{},
		Newer:      []int{},
	}
	for i := range in.Releases {
		f.Published[i] = in.Releases[i].PublishedAt.UnixNano()
	}
	app := in.Device.Installed
	f.Installed = app != nil
	if app != nil {
		f.UpdatedAt = nsOrNil(app.UpdatedAt)
	}
	if in.Policy == nil {
		in.Facts = f
		return
	}
	spec := &in.Policy.Spec
	f.Policy = true
	f.Mode = cmp.Or(string(spec.Mode), string(protocol.ModeDefault))
	f.Track = cmp.Or(spec.Track, DefaultTrack)
	f.InstallType = cmp.Or(spec.InstallType, InstallUpdateOnly)
	f.PostponeDays = cmp.Or(spec.PostponeDays, DefaultPostponeDays)
	f.DailyFrequency = 1
	f.Button = ButtonUpdateApp
	if p := spec.Prompt; p != nil {
		f.DailyFrequency = cmp.Or(p.DailyFrequency, 1)
		f.PromptText = p.Text
		f.Button = cmp.Or(p.Button, ButtonUpdateApp)
		if p.ForceAfter != "" {
			d, _ := ParseForceAfter(p.ForceAfter) // Check has parsed it
			ns := int64(d)
			f.ForceAfter = &ns
		}
	}
	if e := spec.Effective; e != nil {
		if e.Start != nil {
			f.EffectiveStart = nsOrNil(*e.Start)
		}
		if e.End != nil {
			f.EffectiveEnd = nsOrNil(*e.End)
		}
	}
	f.PlatformMatches = len(spec.Platforms) == 0 || slices.Contains(spec.Platforms, in.Device.Platform)
	f.ChannelMatches = len(spec.Channels) == 0 || (in.Device.Channel != "" && slices.Contains(spec.Channels, in.Device.Channel))
	if app != nil {
		if e := spec.Eligible; e != nil && e.VersionName != "" {
			f.EligibleName, f.EligibleNameError = satisfies(e.VersionName, app.VersionName)
		}
		f.InstalledExcluded = listed(app.VersionName, spec.ExcludedVersions)
	}
	if spec.MinClientVersion != "" {
		f.AgentVersion, f.AgentVersionError = agentFact(in.Device.AgentVersion, spec.MinClientVersion)
	}
	in.releaseFacts(&f)
	in.Facts = f
}

// releaseFacts fills the lists of release indexes.
func (in *Input) releaseFacts(f *InputFacts) {
	spec := &in.Policy.Spec
	sel := newSelector(spec.Target)
	sdk := in.Device.SDK
	app := in.Device.Installed
	for i := range in.Releases {
		r := &in.Releases[i]
		if r.App != in.App || f.Published[i] > f.At || cmp.Or(r.Track, DefaultTrack) != f.Track ||
			!sel.selects(r.VersionName) || listed(r.VersionName, spec.ExcludedVersions) {
			continue
		}
		f.Pool = append(f.Pool, i)
		newer := app == nil || r.VersionCode > app.VersionCode
		if !sdkOK(r.Artifact.MinSDK, sdk) {
			if newer {
				f.SDKBlocked = append(f.SDKBlocked, i)
			}
			continue
		}
		f.Candidates = append(f.Candidates, i)
		if app != nil && newer {
			f.Newer = append(f.Newer, i)
		}
	}
}

// selector says which versionNames a policy's target selects: one pinned
// versionName, the versionNames under a dotted prefix ("5.1" selects 5.1
// and 5.1.7, not 5.10.0), or every one.
type selector struct {
	version string // pinned versionName; "" when none
	prefix  string // versionPrefix without a trailing dot; "" when none
	dotted  string // prefix + "."
}

func newSelector(t *TargetSpec) selector {
	if t == nil {
		return selector{}
	}
	s := selector{version: t.Version}
	if t.Version == "" && t.VersionPrefix != "" {
		s.prefix = strings.TrimSuffix(t.VersionPrefix, ".")
		s.dotted = s.prefix + "."
	}
	return s
}

func (s selector) selects(name string) bool {
	switch {
	case s.version != "":
		return name == s.version
	case s.dotted != "":
		return name == s.prefix || strings.HasPrefix(name, s.dotted)
	default:
		return true
	}
}

// sdkOK reports whether a device can run a release: its minSdk is checked
// only when both it and the device's SDK are known.
func sdkOK(minSDK, sdk int) bool {
	return minSDK <= sdk || minSDK <= 0 || sdk <= 0
}

// satisfies checks a versionName against a semver constraint.
func satisfies(constraint, version string) (result, problem string) {
	c, err := parseConstraint(constraint)
	if err != nil {
		return factUnchecked, fmt.Sprintf("%q is not a valid version constraint", constraint)
	}
	v, err := parseVersion(version)
	if err != nil {
		return factUnchecked, fmt.Sprintf("%q is not a version", version)
	}
	if c.Check(v) {
		return factSatisfied, ""
	}
	return factUnsatisfied, ""
}

// agentFact compares an agent's version with a policy's minClientVersion.
func agentFact(agent, minimum string) (result, problem string) {
	if agent == "" {
		return factUnreported, ""
	}
	a, err := parseVersion(agent)
	if err != nil {
		return factIncomparable, fmt.Sprintf("%q is not a version", agent)
	}
	m, err := parseVersion(minimum)
	if err != nil {
		return factIncomparable, fmt.Sprintf("%q is not a version", minimum)
	}
	if a.Compare(m) < 0 {
		return factOlder, ""
	}
	return factSatisfied, ""
}

// listed reports whether version is in list, equal as a string or as a
// semantic version ("5.0" and "5.0.0").
func listed(version string, list []string) bool {
	return listedAt(version, len(list), func(i int) (string, bool) { return list[i], true })
}

// listedAt is listed over any indexable list; entry reports false for an
// entry that is not a string.
func listedAt(version string, n int, entry func(int) (string, bool)) bool {
	var parsed *semverVersion // parsed lazily: most lists match as strings or not at all
	versionOK := true
	for i := range n {
		e, ok := entry(i)
		if !ok {
			continue
		}
		if e == version {
			return true
		}
		if !versionOK {
			continue
		}
		if parsed == nil {
			v, err := parseVersion(version)
			if err != nil {
				versionOK = false // only exact strings can match
				continue
			}
			parsed = v
		}
		if ev, err := parseVersion(e); err == nil && ev.Equal(parsed) {
			return true
		}
	}
	return false
}

func nsOrNil(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ns := t.UnixNano()
	return &ns
}
