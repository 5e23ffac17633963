package policy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/sluice-mdm/sluice/protocol"
)

// The input reaches the Rego as an ast.Value built here, field by field,
// instead of through JSON and ast.InterfaceToValue: that conversion costs
// more than the whole decision. The value is exactly the document that
// encoding/json makes of the Input (same keys, same omitempty rules, times
// in RFC 3339 UTC); a test checks the two agree for every field.

// Object keys, shared by every input (ast terms are never mutated).
var (
	kAt, kApp, kRolloutBucket, kDevice, kPolicy, kReleases = key("at"), key("app"), key("rolloutBucket"), key("device"), key("policy"), key("releases")

	kID, kPlatform, kSDK, kAgentVersion, kChannel, kTimeZone, kLabels, kEnrolledAt, kInstalled = key("id"), key("platform"), key("sdk"), key("agentVersion"), key("channel"), key("timeZone"), key("labels"), key("enrolledAt"), key("installed")

	kVersionName, kVersionCode, kUpdatedAt = key("versionName"), key("versionCode"), key("updatedAt")

	kName, kRevision, kSpec = key("name"), key("revision"), key("spec")

	kPlatforms, kChannels, kTrack, kMode, kPostponeDays, kEligible, kExcludedVersions, kTarget, kMinClientVersion, kEffective, kConstraints, kMaintenanceWindow, kPrompt, kForce, kRollout, kInstallType = key("platforms"), key("channels"), key("track"), key("mode"), key("postponeDays"), key("eligible"), key("excludedVersions"), key("target"), key("minClientVersion"), key("effective"), key("constraints"), key("maintenanceWindow"), key("prompt"), key("force"), key("rollout"), key("installType")

	kMinVersionCode, kMaxVersionCode = key("minVersionCode"), key("maxVersionCode")

	kVersion, kVersionPrefix, kAllowDowngrade = key("version"), key("versionPrefix"), key("allowDowngrade")

	kStart, kEnd = key("start"), key("end")

	kUnmeteredNetwork, kCharging, kIdle, kNotForeground = key("unmeteredNetwork"), key("charging"), key("idle"), key("notForeground")

	kClosable, kDailyFrequency, kText, kButton, kForceAfter = key("closable"), key("dailyFrequency"), key("text"), key("button"), key("forceAfter")

	kPercent = key("percent")

	kPublishedAt, kArtifact, kReleaseNotes, kAppStoreID = key("publishedAt"), key("artifact"), key("releaseNotes"), key("appStoreId")

	kURLs, kSHA256, kSize, kSignerSHA256, kMinSDK = key("urls"), key("sha256"), key("size"), key("signerSha256"), key("minSdk")
)

// Keys of the input's facts.
var (
	kFacts = key("facts")

	kfAt, kfEffectiveStart, kfEffectiveEnd, kfUpdatedAt, kfEnrolledAt = key("at"), key("effectiveStart"), key("effectiveEnd"), key("updatedAt"), key("enrolledAt")

	kfPolicy, kfMode, kfTrack, kfInstallType, kfPostponeDays, kfDailyFrequency, kfPromptText, kfButton, kfForceAfter = key("policy"), key("mode"), key("track"), key("installType"), key("postponeDays"), key("dailyFrequency"), key("promptText"), key("button"), key("forceAfter")

	kfPlatformMatches, kfChannelMatches, kfInstalled, kfEligibleName, kfEligibleNameError, kfInstalledExcluded, kfAgentVersion, kfAgentVersionError = key("platformMatches"), key("channelMatches"), key("installed"), key("eligibleName"), key("eligibleNameError"), key("installedExcluded"), key("agentVersion"), key("agentVersionError")

	kfPublished, kfPool, kfCandidates, kfSDKBlocked, kfNewer = key("published"), key("pool"), key("candidates"), key("sdkBlocked"), key("newer")
)

func key(s string) *ast.Term { return ast.StringTerm(s) }

// object collects the members of one JSON object.
type object []([2]*ast.Term)

func (o *object) put(k, v *ast.Term) { *o = append(*o, [2]*ast.Term{k, v}) }

func (o *object) str(k *ast.Term, s string) { o.put(k, stringTerm(s)) }

// constTerms are the terms of strings that recur in most inputs: the
// settings' defaults and values, the facts' values, the platforms. Terms
// are never changed once built, so one serves every input.
var constTerms = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	for _, s := range []string{
		"", string(protocol.ModeDefault), string(protocol.ModeHighPriority), string(protocol.ModePostponed),
		DefaultTrack, InstallUpdateOnly, InstallForceInstalled, ButtonUpdateApp, ButtonOpenStore,
		factSatisfied, factUnsatisfied, factUnchecked, factOlder, factUnreported, factIncomparable,
		protocol.PlatformAndroid, protocol.PlatformIOS,
	} {
		m[s] = ast.StringTerm(s)
	}
	return m
}()

// stringTerm is ast.StringTerm, without allocating for the constTerms.
func stringTerm(s string) *ast.Term {
	if t, ok := constTerms[s]; ok {
		return t
	}
	return ast.StringTerm(s)
}

// strOmitEmpty mirrors `json:",omitempty"` on a string.
func (o *object) strOmitEmpty(k *ast.Term, s string) {
	if s != "" {
		o.put(k, stringTerm(s))
	}
}

func (o object) term() *ast.Term { return ast.NewTerm(ast.NewObject(o...)) }

func intTerm[T int | int64](n T) *ast.Term { return ast.InternedTerm(int64(n)) }

func timeTerm(t time.Time) *ast.Term { return ast.StringTerm(t.UTC().Format(time.RFC3339Nano)) }

// floatTerm writes a float64 as encoding/json does.
func floatTerm(f float64) *ast.Term {
	b, err := json.Marshal(f)
	if err != nil { // NaN or ±Inf: Input.Check refuses them before this point
		return ast.NullTerm()
	}
	return ast.NumberTerm(json.Number(b))
}

// strings mirrors a []string without omitempty: null when nil.
func stringsTerm(ss []string) *ast.Term {
	if ss == nil {
		return ast.NullTerm()
	}
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(terms...)
}

// value returns the input as the ast.Value the Rego evaluates.
func (in *Input) value() ast.Value {
	v, _ := in.build()
	return v
}

// build returns the input's value and its decision id, digest(v). The
// members of the objects built here are put in key order, so that the
// canonical encoding is written from them directly, and the cached release
// and policy terms bring their encodings along.
func (in *Input) build() (v ast.Value, id string) {
	dev, facts := deviceObject(&in.Device), factsObject(&in.Facts)
	devTerm, factsTerm := dev.term(), facts.term()
	memo := make(canonMemo, 0, 3+len(in.Releases))
	memo = append(memo, canonPart{v: devTerm.Value, pairs: dev}, canonPart{v: factsTerm.Value, pairs: facts})
	size := 1024 + 48*len(facts)
	o := make(object, 0, 7)
	o.str(kApp, in.App)
	o.put(kAt, timeTerm(in.At))
	o.put(kDevice, devTerm)
	o.put(kFacts, factsTerm)
	if in.Policy != nil {
		p := cachedPolicyTerm(in.Policy)
		memo = append(memo, canonPart{v: p.term.Value, canon: p.canon})
		size += len(p.canon)
		o.put(kPolicy, p.term)
	}
	if in.Releases == nil {
		o.put(kReleases, ast.NullTerm())
	} else {
		rs := make([]*ast.Term, len(in.Releases))
		for i := range in.Releases {
			r := cachedReleaseTerm(&in.Releases[i])
			memo = append(memo, canonPart{v: r.term.Value, canon: r.canon})
			size += len(r.canon)
			rs[i] = r.term
		}
		o.put(kReleases, ast.ArrayTerm(rs...))
	}
	o.put(kRolloutBucket, intTerm(in.RolloutBucket))
	bp := canonBuffers.Get().(*[]byte)
	buf := o.appendCanonical(slices.Grow((*bp)[:0], size), memo)
	sum := sha256.Sum256(buf)
	*bp = buf
	canonBuffers.Put(bp)
	return ast.NewObject(o...), hex.EncodeToString(sum[:16])
}

// canonBuffers are the buffers of the decision ids' encodings, a few
// kilobytes each.
var canonBuffers = sync.Pool{New: func() any { return new([]byte) }}

// appendCanonical encodes an object whose members are in key order, as
// appendCanonical encodes its value.
func (o object) appendCanonical(buf []byte, memo canonMemo) []byte {
	buf = binary.BigEndian.AppendUint32(append(buf, 'o'), uint32(len(o)))
	for _, kv := range o {
		buf = appendCanonical(buf, kv[0].Value, memo)
		buf = appendCanonical(buf, kv[1].Value, memo)
	}
	return buf
}

func policyTerm(p *InputPolicy) *ast.Term {
	o := make(object, 0, 3)
	o.str(kName, p.Name)
	o.put(kRevision, ast.NumberTerm(json.Number(strconv.FormatUint(p.Revision, 10))))
	o.put(kSpec, specTerm(&p.Spec))
	return o.term()
}

// deviceObject returns the members of the device, sorted by key.
func deviceObject(d *InputDevice) object {
	o := make(object, 0, 9)
	o.strOmitEmpty(kAgentVersion, d.AgentVersion)
	o.strOmitEmpty(kChannel, d.Channel)
	if !d.EnrolledAt.IsZero() {
		o.put(kEnrolledAt, timeTerm(d.EnrolledAt))
	}
	o.str(kID, d.ID)
	if a := d.Installed; a != nil {
		app := make(object, 0, 3)
		if !a.UpdatedAt.IsZero() {
			app.put(kUpdatedAt, timeTerm(a.UpdatedAt))
		}
		app.put(kVersionCode, intTerm(a.VersionCode))
		app.str(kVersionName, a.VersionName)
		o.put(kInstalled, app.term())
	}
	if len(d.Labels) > 0 {
		labels := make(object, 0, len(d.Labels))
		for k, v := range d.Labels {
			labels.str(ast.StringTerm(k), v)
		}
		o.put(kLabels, labels.term())
	}
	o.str(kPlatform, d.Platform)
	o.put(kSDK, intTerm(d.SDK))
	o.strOmitEmpty(kTimeZone, d.TimeZone)
	return o
}

func specTerm(p *UpdatePolicy) *ast.Term {
	o := make(object, 0, 17)
	o.str(kApp, p.App)
	if len(p.Platforms) > 0 {
		o.put(kPlatforms, stringsTerm(p.Platforms))
	}
	if len(p.Channels) > 0 {
		o.put(kChannels, stringsTerm(p.Channels))
	}
	o.strOmitEmpty(kTrack, p.Track)
	o.strOmitEmpty(kMode, string(p.Mode))
	if p.PostponeDays != 0 {
		o.put(kPostponeDays, intTerm(p.PostponeDays))
	}
	if e := p.Eligible; e != nil {
		el := make(object, 0, 3)
		el.strOmitEmpty(kVersionName, e.VersionName)
		if e.MinVersionCode != 0 {
			el.put(kMinVersionCode, intTerm(e.MinVersionCode))
		}
		if e.MaxVersionCode != 0 {
			el.put(kMaxVersionCode, intTerm(e.MaxVersionCode))
		}
		o.put(kEligible, el.term())
	}
	if len(p.ExcludedVersions) > 0 {
		o.put(kExcludedVersions, stringsTerm(p.ExcludedVersions))
	}
	if t := p.Target; t != nil {
		tg := make(object, 0, 3)
		tg.strOmitEmpty(kVersion, t.Version)
		tg.strOmitEmpty(kVersionPrefix, t.VersionPrefix)
		if t.AllowDowngrade {
			tg.put(kAllowDowngrade, ast.InternedTerm(true))
		}
		o.put(kTarget, tg.term())
	}
	o.strOmitEmpty(kMinClientVersion, p.MinClientVersion)
	if e := p.Effective; e != nil {
		ef := make(object, 0, 2)
		if e.Start != nil {
			ef.put(kStart, timeTerm(*e.Start))
		}
		if e.End != nil {
			ef.put(kEnd, timeTerm(*e.End))
		}
		o.put(kEffective, ef.term())
	}
	if c := p.Constraints; c != nil {
		co := make(object, 0, 4)
		for _, f := range []struct {
			k *ast.Term
			v *bool
		}{{kUnmeteredNetwork, c.UnmeteredNetwork}, {kCharging, c.Charging}, {kIdle, c.Idle}, {kNotForeground, c.NotForeground}} {
			if f.v != nil {
				co.put(f.k, ast.InternedTerm(*f.v))
			}
		}
		o.put(kConstraints, co.term())
	}
	if w := p.MaintenanceWindow; w != nil {
		o.put(kMaintenanceWindow, windowTerm(w))
	}
	if pr := p.Prompt; pr != nil {
		po := make(object, 0, 5)
		po.put(kClosable, ast.InternedTerm(pr.Closable))
		if pr.DailyFrequency != 0 {
			po.put(kDailyFrequency, intTerm(pr.DailyFrequency))
		}
		po.strOmitEmpty(kText, pr.Text)
		po.strOmitEmpty(kButton, pr.Button)
		po.strOmitEmpty(kForceAfter, pr.ForceAfter)
		o.put(kPrompt, po.term())
	}
	if p.Force {
		o.put(kForce, ast.InternedTerm(true))
	}
	if r := p.Rollout; r != nil {
		o.put(kRollout, ast.ObjectTerm(ast.Item(kPercent, floatTerm(r.Percent))))
	}
	o.strOmitEmpty(kInstallType, p.InstallType)
	return o.term()
}

func windowTerm(w *protocol.MaintenanceWindow) *ast.Term {
	return ast.ObjectTerm(ast.Item(kStart, ast.StringTerm(w.Start)), ast.Item(kEnd, ast.StringTerm(w.End)))
}

func releaseTerm(r *Release) *ast.Term {
	o := make(object, 0, 8)
	o.str(kApp, r.App)
	o.str(kVersionName, r.VersionName)
	o.put(kVersionCode, intTerm(r.VersionCode))
	o.strOmitEmpty(kTrack, r.Track)
	o.put(kPublishedAt, timeTerm(r.PublishedAt))
	a := make(object, 0, 5)
	a.put(kURLs, stringsTerm(r.Artifact.URLs))
	a.str(kSHA256, r.Artifact.SHA256)
	a.put(kSize, intTerm(r.Artifact.Size))
	a.put(kSignerSHA256, stringsTerm(r.Artifact.SignerSHA256))
	a.put(kMinSDK, intTerm(r.Artifact.MinSDK))
	o.put(kArtifact, a.term())
	o.strOmitEmpty(kReleaseNotes, r.ReleaseNotes)
	o.strOmitEmpty(kAppStoreID, r.AppStoreID)
	return o.term()
}

// digest is the decision id of an input: the first 16 bytes, in hex, of
// the SHA-256 of a canonical encoding of its value (object keys sorted,
// every item typed and length-prefixed). The same input always gives the
// same id, however it was built or stored.
func digest(v ast.Value) string {
	sum := sha256.Sum256(appendCanonical(make([]byte, 0, 4096), v, nil))
	return hex.EncodeToString(sum[:16])
}

// canonMemo holds what is known of the encoding of some values, by value
// (the same pointer, not an equal value): their encoding, or their members
// in key order.
type canonMemo []canonPart

type canonPart struct {
	v     ast.Value
	canon []byte
	pairs object
}

func (m canonMemo) find(v ast.Value) *canonPart {
	for i := range m {
		if m[i].v == v {
			return &m[i]
		}
	}
	return nil
}

func appendCanonical(buf []byte, v ast.Value, memo canonMemo) []byte {
	switch v := v.(type) {
	case ast.Null:
		return append(buf, 'z')
	case ast.Boolean:
		if v {
			return append(buf, 't')
		}
		return append(buf, 'f')
	case ast.Number:
		return appendBytes(append(buf, 'n'), string(v))
	case ast.String:
		return appendBytes(append(buf, 's'), string(v))
	case *ast.Array:
		buf = binary.BigEndian.AppendUint32(append(buf, 'a'), uint32(v.Len()))
		for i := range v.Len() {
			buf = appendCanonical(buf, v.Elem(i).Value, memo)
		}
		return buf
	case ast.Object:
		if p := memo.find(v); p != nil {
			if p.pairs != nil {
				return p.pairs.appendCanonical(buf, memo)
			}
			return append(buf, p.canon...)
		}
		buf = binary.BigEndian.AppendUint32(append(buf, 'o'), uint32(v.Len()))
		for _, k := range v.Keys() { // sorted
			buf = appendCanonical(buf, k.Value, memo)
			buf = appendCanonical(buf, v.Get(k).Value, memo)
		}
		return buf
	default: // sets and refs never occur in an input
		return appendBytes(append(buf, '?'), v.String())
	}
}

func appendBytes(buf []byte, s string) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(min(len(s), math.MaxUint32)))
	return append(buf, s...)
}

// factsObject returns the members of the facts, sorted by key.
func factsObject(f *InputFacts) object {
	o := make(object, 0, 27)
	ns := func(k *ast.Term, v *int64) {
		if v != nil {
			o.put(k, intTerm(*v))
		}
	}
	o.str(kfAgentVersion, f.AgentVersion)
	o.str(kfAgentVersionError, f.AgentVersionError)
	o.put(kfAt, intTerm(f.At))
	o.str(kfButton, f.Button)
	o.put(kfCandidates, intsTerm(f.Candidates))
	o.put(kfChannelMatches, ast.InternedTerm(f.ChannelMatches))
	o.put(kfDailyFrequency, intTerm(f.DailyFrequency))
	ns(kfEffectiveEnd, f.EffectiveEnd)
	ns(kfEffectiveStart, f.EffectiveStart)
	o.str(kfEligibleName, f.EligibleName)
	o.str(kfEligibleNameError, f.EligibleNameError)
	ns(kfEnrolledAt, f.EnrolledAt)
	ns(kfForceAfter, f.ForceAfter)
	o.str(kfInstallType, f.InstallType)
	o.put(kfInstalled, ast.InternedTerm(f.Installed))
	o.put(kfInstalledExcluded, ast.InternedTerm(f.InstalledExcluded))
	o.str(kfMode, f.Mode)
	o.put(kfNewer, intsTerm(f.Newer))
	o.put(kfPlatformMatches, ast.InternedTerm(f.PlatformMatches))
	o.put(kfPolicy, ast.InternedTerm(f.Policy))
	o.put(kfPool, intsTerm(f.Pool))
	o.put(kfPostponeDays, intTerm(f.PostponeDays))
	o.str(kfPromptText, f.PromptText)
	o.put(kfPublished, intsTerm(f.Published))
	o.put(kfSDKBlocked, intsTerm(f.SDKBlocked))
	o.str(kfTrack, f.Track)
	ns(kfUpdatedAt, f.UpdatedAt)
	return o
}

// intsTerm mirrors a slice of integers without omitempty: null when nil.
func intsTerm[T int | int64](ns []T) *ast.Term {
	if ns == nil {
		return ast.NullTerm()
	}
	terms := make([]*ast.Term, len(ns))
	for i, n := range ns {
		terms[i] = intTerm(n)
	}
	return ast.ArrayTerm(terms...)
}
