package policy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/sluice-mdm/sluice/protocol"
)

// The sentences that explain a decision's reasons, written in Go from the
// reason's code, its form and the values it carries, plus the input and
// the decision: rego/messages.rego writes the same sentences from the same
// reasons (it is what `opa eval` shows an auditor), and a test checks that
// the two agree. Writing them here spares the evaluation its most costly
// builtins (sprintf, time.format, concat).

// reason is one reason of the Rego result: its code, its form (which
// sentence explains it) and the values the sentence needs.
type reason struct {
	code, form string
	since      int64     // POSTPONED: start of the period, ns
	ended      int64     // UPDATE_AVAILABLE postponementEnded: end of the period, ns
	release    int64     // SDK_TOO_OLD: index of the release the SDK rules out
	target     int64     // DENIED_BY_RULE: index of the target
	rule       *ast.Term // DENIED_BY_RULE: the deny rule's message
}

// message writes the sentence of one reason of decision d about input in.
func message(in *Input, d *Decision, r *reason) (string, error) {
	var spec UpdatePolicy
	var policy string
	if in.Policy != nil {
		spec, policy = in.Policy.Spec, in.Policy.Name
	}
	f := &in.Facts
	installed := func() string {
		if a := in.Device.Installed; a != nil {
			return label(a.VersionName, a.VersionCode)
		}
		return ""
	}
	target := ""
	if d.Target != nil {
		target = label(d.Target.VersionName, d.Target.VersionCode)
	}
	switch r.code {
	case "NO_POLICY":
		return fmt.Sprintf("No update policy applies to %s on this device.", in.App), nil
	case "OUTSIDE_EFFECTIVE_WINDOW":
		if r.form == "notYet" && f.EffectiveStart != nil {
			return fmt.Sprintf("Policy %s takes effect on %s; until then it changes nothing.", policy, date(*f.EffectiveStart)), nil
		}
		if r.form == "ended" && f.EffectiveEnd != nil {
			return fmt.Sprintf("Policy %s stopped applying on %s.", policy, date(*f.EffectiveEnd)), nil
		}
	case "PLATFORM_MISMATCH":
		return fmt.Sprintf("Policy %s applies to %s devices; this device runs %s.", policy, englishJoin(spec.Platforms, "or"), in.Device.Platform), nil
	case "CHANNEL_MISMATCH":
		return fmt.Sprintf("Policy %s applies to devices on the %s channel; this device is on %s.", policy, englishJoin(spec.Channels, "or"), cmpOr(in.Device.Channel, "no channel")), nil
	case "NOT_INSTALLED":
		return fmt.Sprintf("%s is not installed on this device, and policy %s only updates apps that are installed.", in.App, policy), nil
	case "NOT_IN_ELIGIBLE_RANGE":
		if e := spec.Eligible; e != nil {
			switch r.form {
			case "unchecked":
				return fmt.Sprintf("Policy %s cannot check installed version %s against its eligible range %q: %s.", policy, installed(), e.VersionName, f.EligibleNameError), nil
			case "outside":
				return fmt.Sprintf("Installed version %s is outside the versions policy %s updates (%s).", installed(), policy, e.VersionName), nil
			case "belowMin":
				return fmt.Sprintf("Installed version %s is below version code %d, the lowest that policy %s updates.", installed(), e.MinVersionCode, policy), nil
			case "aboveMax":
				return fmt.Sprintf("Installed version %s is above version code %d, the highest that policy %s updates.", installed(), e.MaxVersionCode, policy), nil
			}
		}
	case "EXCLUDED_VERSION":
		return fmt.Sprintf("Installed version %s is excluded from updates by policy %s.", installed(), policy), nil
	case "NO_NEWER_RELEASE":
		switch r.form {
		case "version":
			return fmt.Sprintf("Version %s, which policy %s pins, is not published on the %s track.", spec.Target.Version, policy, f.Track), nil
		case "prefix":
			return fmt.Sprintf("No version starting with %s is published on the %s track.", spec.Target.VersionPrefix, f.Track), nil
		case "latest":
			return fmt.Sprintf("No release of %s that policy %s allows is published on the %s track yet.", in.App, policy, f.Track), nil
		}
	case "SDK_TOO_OLD":
		if r.release >= 0 && r.release < int64(len(in.Releases)) {
			rel := &in.Releases[r.release]
			return fmt.Sprintf("Version %s needs Android SDK %d or later; this device runs SDK %d.", label(rel.VersionName, rel.VersionCode), rel.Artifact.MinSDK, in.Device.SDK), nil
		}
	case "UP_TO_DATE":
		up := ""
		if len(f.Candidates) > 0 {
			rel := &in.Releases[f.Candidates[0]]
			up = label(rel.VersionName, rel.VersionCode)
		}
		switch r.form {
		case "cannotRun":
			return fmt.Sprintf("Installed version %s is the latest release on the %s track that this device can run.", installed(), f.Track), nil
		case "pinned":
			return fmt.Sprintf("Installed version %s is already at or above version %s, which policy %s pins.", installed(), up, policy), nil
		case "latest":
			return fmt.Sprintf("Installed version %s is the latest release on the %s track.", installed(), f.Track), nil
		case "newer":
			return fmt.Sprintf("Installed version %s is newer than %s, the latest release on the %s track.", installed(), up, f.Track), nil
		}
	case "CLIENT_TOO_OLD":
		if d.Target != nil {
			switch r.form {
			case factUnreported:
				return fmt.Sprintf("Version %s needs Sluice agent %s or later, and this device has not reported its agent version; install %s by hand or update the agent.", target, spec.MinClientVersion, d.Target.VersionName), nil
			case factIncomparable:
				return fmt.Sprintf("Version %s needs Sluice agent %s or later, and this device's agent version cannot be compared (%s); install %s by hand or update the agent.", target, spec.MinClientVersion, f.AgentVersionError, d.Target.VersionName), nil
			case factOlder:
				return fmt.Sprintf("Version %s needs Sluice agent %s or later, and this device runs agent %s; install %s by hand or update the agent.", target, spec.MinClientVersion, in.Device.AgentVersion, d.Target.VersionName), nil
			}
		}
	case "NOT_IN_ROLLOUT":
		if spec.Rollout != nil && len(f.Candidates) > 0 {
			rel := &in.Releases[f.Candidates[0]]
			return fmt.Sprintf("Version %s is rolling out to %v%% of devices under policy %s, and this device is not among them yet.", label(rel.VersionName, rel.VersionCode), sprintfArg(floatTerm(spec.Rollout.Percent)), policy), nil
		}
	case "POSTPONED":
		if d.NotBefore != nil {
			return fmt.Sprintf("Version %s is available, but policy %s postpones updates for %d days after the app became out of date on %s; it can install from %s.", target, policy, f.PostponeDays, date(r.since), date(d.NotBefore.UnixNano())), nil
		}
	case "FORCED":
		switch {
		case r.form == "store":
			return fmt.Sprintf("Version %s is required; the app sends the user to the App Store and cannot be used until it is updated.", target), nil
		case r.form == "policy":
			return fmt.Sprintf("Version %s is required by policy %s; the app cannot be used until it is updated.", target, policy), nil
		case r.form == "deadline" && d.Prompt != nil && d.Prompt.ForceAfter != nil:
			return fmt.Sprintf("Version %s has been required since %s; the app cannot be used until it is updated.", target, date(d.Prompt.ForceAfter.UnixNano())), nil
		}
	case "UPDATE_AVAILABLE":
		return updateMessage(in, d, r, policy, target, installed())
	case "DENIED_BY_RULE":
		if r.target >= 0 && r.target < int64(len(in.Releases)) && r.rule != nil {
			rel := &in.Releases[r.target]
			return fmt.Sprintf("The update to version %s is blocked by a fleet rule: %s", label(rel.VersionName, rel.VersionCode), sentence(r.rule)), nil
		}
	}
	return "", fmt.Errorf("reason %s: form %q with these values has no sentence", r.code, r.form)
}

func updateMessage(in *Input, d *Decision, r *reason, policy, target, installed string) (string, error) {
	switch r.form {
	case "store":
		return fmt.Sprintf("Version %s is available; the app offers to open the App Store to update.", target), nil
	case "prompt":
		if d.Prompt == nil {
			break
		}
		deadline := ""
		if d.Prompt.ForceAfter != nil {
			deadline = ", and the update becomes mandatory on " + date(d.Prompt.ForceAfter.UnixNano())
		}
		return fmt.Sprintf("Version %s is available; the app asks the user to update, %s%s.", target, timesADay(d.Prompt.DailyFrequency), deadline), nil
	}
	var intro string
	switch r.form {
	case "notInstalled":
		intro = fmt.Sprintf("%s is not installed, and policy %s installs it: version %s", in.App, policy, target)
	case "downgrade":
		intro = fmt.Sprintf("Version %s, pinned by policy %s, replaces the newer installed version %s", target, policy, installed)
	case "postponementEnded":
		intro = fmt.Sprintf("Version %s is available and the %d-day postponement ended on %s", target, in.Facts.PostponeDays, date(r.ended))
	case "available":
		intro = fmt.Sprintf("Version %s is available", target)
	default:
		return "", fmt.Errorf("reason %s: form %q has no sentence", r.code, r.form)
	}
	return intro + "; " + installWhen(d.Constraints, d.MaintenanceWindow) + ".", nil
}

// installWhen: "it installs when the device is on Wi-Fi, charging and idle
// and the app is not in use, between 22:00 and 05:00 device time".
func installWhen(c *protocol.Constraints, w *protocol.MaintenanceWindow) string {
	var conditions []string
	if c != nil {
		var device []string
		for _, x := range []struct {
			on     bool
			phrase string
		}{{c.UnmeteredNetwork, "on Wi-Fi"}, {c.Charging, "charging"}, {c.Idle, "idle"}} {
			if x.on {
				device = append(device, x.phrase)
			}
		}
		if len(device) > 0 {
			conditions = append(conditions, "the device is "+englishJoin(device, "and"))
		}
		if c.NotForeground {
			conditions = append(conditions, "the app is not in use")
		}
	}
	window := ""
	if w != nil {
		window = "between " + w.Start + " and " + w.End + " device time"
	}
	switch {
	case len(conditions) == 0 && w == nil:
		return "it installs as soon as possible"
	case len(conditions) > 0 && w != nil:
		return "it installs when " + englishJoin(conditions, "and") + ", " + window
	case len(conditions) > 0:
		return "it installs when " + englishJoin(conditions, "and")
	default:
		return "it installs " + window
	}
}

func timesADay(n int) string {
	if n == 1 {
		return "at most once a day"
	}
	return fmt.Sprintf("at most %d times a day", n)
}

// label: "5.1.0 (510)", the versionName a merchant sees and the versionCode.
func label(name string, code int64) string {
	return name + " (" + strconv.FormatInt(code, 10) + ")"
}

const dayNS = int64(24 * time.Hour)

// date writes a time given in ns, with the time of day when it is not
// midnight UTC.
func date(ns int64) string {
	t := time.Unix(0, ns).UTC()
	if ns%dayNS == 0 {
		return t.Format("2 January 2006")
	}
	return t.Format("2 January 2006 15:04 UTC")
}

// englishJoin: "a", "a or b", "a, b or c".
func englishJoin(xs []string, word string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " " + word + " " + xs[len(xs)-1]
}

var sentenceEnd = regexp.MustCompile(`[.!?]$`)

// sentence ends an extension rule's message like a sentence.
func sentence(m *ast.Term) string {
	if s, ok := m.Value.(ast.String); ok {
		if sentenceEnd.MatchString(string(s)) {
			return string(s)
		}
		return string(s) + "."
	}
	return fmt.Sprintf("%v.", sprintfArg(m))
}

// sprintfArg is the Go value Rego's sprintf formats for a term.
func sprintfArg(t *ast.Term) any {
	switch v := t.Value.(type) {
	case ast.Number:
		s := string(v)
		if strings.ContainsAny(s, ".eE") {
			if f, ok := v.Float64(); ok {
				return f
			}
			return s
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
		return s
	case ast.String:
		return string(v)
	default:
		return v.String()
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
