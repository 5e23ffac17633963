package policy

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Request asks the engine what one device should do about one app.
type Request struct {
	Device Device
	App    string
	// Policy is the applicable policy; nil means none applies (the decision
	// is action none with reason NO_POLICY).
	Policy         *UpdatePolicy
	PolicyName     string
	PolicyRevision uint64
	// Releases lists every known release of App, on any track; the engine
	// filters them.
	Releases []Release
	// At is the evaluation time: decisions depend on no other clock. Zero
	// means the engine's Config.Now.
	At time.Time
}

// Input is the exact, self-contained document the decision Rego evaluates.
// The decision log stores it, and [Engine.Evaluate] replays it: the same
// Input always gives the same [Decision], with the same DecisionID. Times are
// in UTC; the JSON form is the document the Rego sees.
type Input struct {
	At  time.Time `json:"at"`
	App string    `json:"app"`
	// RolloutBucket is the device's stable place, 0 to 9999, in the
	// policy's rollout; see [RolloutBucket].
	RolloutBucket int          `json:"rolloutBucket"`
	Device        InputDevice  `json:"device"`
	Policy        *InputPolicy `json:"policy,omitempty"`
	// Releases are the known releases of App, highest versionCode first.
	Releases []Release `json:"releases"`
	// Facts are derived from the fields above; see [InputFacts].
	Facts InputFacts `json:"facts"`
}

// InputDevice holds the device facts a decision may use. Sensed state
// (network, charging, ...) is left out on purpose: the agent enforces it,
// and a decision must not change every time the device is unplugged.
type InputDevice struct {
	ID           string            `json:"id"`
	Platform     string            `json:"platform"`
	SDK          int               `json:"sdk"`
	AgentVersion string            `json:"agentVersion,omitempty"`
	Channel      string            `json:"channel,omitempty"`
	TimeZone     string            `json:"timeZone,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	EnrolledAt   time.Time         `json:"enrolledAt,omitzero"`
	// Installed is the app as installed; nil when it is not.
	Installed *InputApp `json:"installed,omitempty"`
}

// InputApp is the installed app decided about.
type InputApp struct {
	VersionName string `json:"versionName"`
	VersionCode int64  `json:"versionCode"`
	// UpdatedAt is when the device last installed or updated the app; zero
	// when unknown.
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// InputPolicy is the applicable policy, as written, with its name and
// revision.
type InputPolicy struct {
	Name     string       `json:"name"`
	Revision uint64       `json:"revision"`
	Spec     UpdatePolicy `json:"spec"`
}

// ErrInvalidInput is returned, wrapped in an [*InputError], for a request or
// input the engine cannot evaluate.
var ErrInvalidInput = errors.New("policy: invalid decision input")

// InputError names the field of a request or input that cannot be
// evaluated, its value, and what is allowed.
type InputError struct {
	Field   string // path such as "policy.spec.rollout.percent"
	Value   string // the offending value, quoted as in the input
	Allowed string // what the field may hold
}

func (e *InputError) Error() string {
	return fmt.Sprintf("policy: input: %s: %s is not allowed; want %s", e.Field, e.Value, e.Allowed)
}

// Is reports whether target is [ErrInvalidInput].
func (e *InputError) Is(target error) bool { return target == ErrInvalidInput }

// The range of times the Rego can represent (nanoseconds in an int64).
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// BuildInput turns a request into the engine's input document. It does not
// modify the request. Request.At must be set.
func BuildInput(req Request) (Input, error) {
	in := Input{
		At:            utc(req.At),
		App:           req.App,
		RolloutBucket: RolloutBucket(req.PolicyName, req.Device.ID),
		Device: InputDevice{
			ID:           req.Device.ID,
			Platform:     req.Device.Platform,
			SDK:          req.Device.SDK,
			AgentVersion: req.Device.AgentVersion,
			Channel:      req.Device.Channel,
			TimeZone:     req.Device.TimeZone,
			Labels:       req.Device.Labels,
			EnrolledAt:   utc(req.Device.EnrolledAt),
		},
		Releases: make([]Release, len(req.Releases)),
	}
	if app, ok := req.Device.Apps[req.App]; ok {
		in.Device.Installed = &InputApp{VersionName: app.VersionName, VersionCode: app.VersionCode, UpdatedAt: utc(app.UpdatedAt)}
	}
	if req.Policy != nil {
		spec := *req.Policy
		if spec.Effective != nil {
			eff := Effective{}
			if spec.Effective.Start != nil {
				t := utc(*spec.Effective.Start)
				eff.Start = &t
			}
			if spec.Effective.End != nil {
				t := utc(*spec.Effective.End)
				eff.End = &t
			}
			spec.Effective = &eff
		}
		in.Policy = &InputPolicy{Name: req.PolicyName, Revision: req.PolicyRevision, Spec: spec}
	}
	for i, r := range req.Releases {
		r.PublishedAt = utc(r.PublishedAt)
		in.Releases[i] = r
	}
	slices.SortStableFunc(in.Releases, compareReleases)
	if err := in.Check(); err != nil {
		return Input{}, err
	}
	in.deriveFacts()
	return in, nil
}

// compareReleases orders releases highest versionCode first, then by
// versionName, track and publication, so that the order is canonical.
func compareReleases(a, b Release) int {
	return cmp.Or(
		cmp.Compare(b.VersionCode, a.VersionCode),
		strings.Compare(a.VersionName, b.VersionName),
		strings.Compare(a.Track, b.Track),
		a.PublishedAt.Compare(b.PublishedAt),
	)
}

// utc drops the monotonic clock reading and the location, so that an Input
// survives a JSON round trip unchanged.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Round(0).UTC()
}

// RolloutBucket is a device's stable place in a policy's rollout, 0 to
// 9999: the first 8 bytes of SHA-256(policyName + "/" + deviceID), big
// endian, modulo 10000. A device is in a rollout of p percent when its
// bucket is below p*100, so raising the percentage only ever adds devices.
func RolloutBucket(policyName, deviceID string) int {
	sum := sha256.Sum256([]byte(policyName + "/" + deviceID))
	return int(binary.BigEndian.Uint64(sum[:8]) % 10000)
}

// Check reports the first part of the input the engine cannot evaluate. It
// checks what the Rego relies on (times it can represent, releases in order,
// durations it can parse, numbers in range), not every rule of a valid
// policy.
func (in *Input) Check() error {
	if in.At.IsZero() {
		return &InputError{Field: "at", Value: "zero", Allowed: "the evaluation time"}
	}
	if err := checkTime("at", in.At); err != nil {
		return err
	}
	if in.App == "" {
		return &InputError{Field: "app", Value: `""`, Allowed: "a package name"}
	}
	if in.Device.ID == "" {
		return &InputError{Field: "device.id", Value: `""`, Allowed: "a device id"}
	}
	if in.RolloutBucket < 0 || in.RolloutBucket > 9999 {
		return &InputError{Field: "rolloutBucket", Value: strconv.Itoa(in.RolloutBucket), Allowed: "0 to 9999"}
	}
	if err := checkTime("device.enrolledAt", in.Device.EnrolledAt); err != nil {
		return err
	}
	if app := in.Device.Installed; app != nil {
		if err := checkTime("device.installed.updatedAt", app.UpdatedAt); err != nil {
			return err
		}
	}
	for i, r := range in.Releases {
		if r.PublishedAt.IsZero() {
			return &InputError{Field: fmt.Sprintf("releases[%d].publishedAt", i), Value: "zero", Allowed: "the release's publication time"}
		}
		if r.PublishedAt.Before(minTime) || r.PublishedAt.After(maxTime) {
			return checkTime(fmt.Sprintf("releases[%d].publishedAt", i), r.PublishedAt)
		}
		if i > 0 && compareReleases(in.Releases[i-1], r) > 0 {
			return &InputError{
				Field:   fmt.Sprintf("releases[%d].versionCode", i),
				Value:   strconv.FormatInt(r.VersionCode, 10),
				Allowed: fmt.Sprintf("releases sorted highest versionCode first (the previous one is %d)", in.Releases[i-1].VersionCode),
			}
		}
	}
	if in.Policy != nil {
		return checkSpec(&in.Policy.Spec)
	}
	return nil
}

func checkSpec(p *UpdatePolicy) error {
	if p.PostponeDays < 0 || p.PostponeDays > 36500 {
		return &InputError{Field: "policy.spec.postponeDays", Value: strconv.Itoa(p.PostponeDays), Allowed: "0 (90 days) to 36500"}
	}
	if p.Effective != nil {
		if p.Effective.Start != nil {
			if err := checkTime("policy.spec.effective.start", *p.Effective.Start); err != nil {
				return err
			}
		}
		if p.Effective.End != nil {
			if err := checkTime("policy.spec.effective.end", *p.Effective.End); err != nil {
				return err
			}
		}
	}
	if r := p.Rollout; r != nil && (math.IsNaN(r.Percent) || r.Percent < 0 || r.Percent > 100) {
		return &InputError{Field: "policy.spec.rollout.percent", Value: strconv.FormatFloat(r.Percent, 'g', -1, 64), Allowed: "0 to 100"}
	}
	if pr := p.Prompt; pr != nil {
		if pr.DailyFrequency < 0 {
			return &InputError{Field: "policy.spec.prompt.dailyFrequency", Value: strconv.Itoa(pr.DailyFrequency), Allowed: "0 (once a day) or more"}
		}
		if pr.ForceAfter != "" {
			if _, err := ParseForceAfter(pr.ForceAfter); err != nil {
				return &InputError{Field: "policy.spec.prompt.forceAfter", Value: strconv.Quote(pr.ForceAfter), Allowed: `a positive Go duration such as "72h" or a number of days such as "7d"`}
			}
		}
	}
	if e := p.Eligible; e != nil && (e.MinVersionCode < 0 || e.MaxVersionCode < 0) {
		return &InputError{Field: "policy.spec.eligible", Value: fmt.Sprintf("minVersionCode %d, maxVersionCode %d", e.MinVersionCode, e.MaxVersionCode), Allowed: "version codes of 0 (unbounded) or more"}
	}
	return nil
}

func checkTime(field string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return &InputError{Field: field, Value: t.Format(time.RFC3339), Allowed: "a time between 1678 and 2262"}
	}
	return nil
}
