# The sentences that explain reasons. Reasons are read aloud by support
# staff to merchants: whole sentences, with versions and dates. The Go
# engine writes the same sentences (policy/engine_messages.go) from the same
# reasons, and a test checks that the two agree on every case of the
# decision table; this module is their reference and what `opa eval` of
# data.sluice.decision.decision shows an auditor.
package sluice.decision

policy_name := input.policy.name

track := input.facts.track

message(r) := sprintf("No update policy applies to %s on this device.", [input.app]) if {
	r.code == "NO_POLICY"
} else := sprintf("Policy %s takes effect on %s; until then it changes nothing.", [policy_name, date(input.facts.effectiveStart)]) if {
	r.form == "notYet"
} else := sprintf("Policy %s stopped applying on %s.", [policy_name, date(input.facts.effectiveEnd)]) if {
	r.form == "ended"
} else := sprintf("Policy %s applies to %s devices; this device runs %s.", [policy_name, english_or(input.policy.spec.platforms), input.device.platform]) if {
	r.code == "PLATFORM_MISMATCH"
} else := sprintf("Policy %s applies to devices on the %s channel; this device is on %s.", [policy_name, english_or(input.policy.spec.channels), object.get(input.device, "channel", "no channel")]) if {
	r.code == "CHANNEL_MISMATCH"
} else := sprintf("%s is not installed on this device, and policy %s only updates apps that are installed.", [input.app, policy_name]) if {
	r.code == "NOT_INSTALLED"
} else := sprintf("Policy %s cannot check installed version %s against its eligible range %q: %s.", [policy_name, label(installed), input.policy.spec.eligible.versionName, input.facts.eligibleNameError]) if {
	r.form == "unchecked"
} else := sprintf("Installed version %s is outside the versions policy %s updates (%s).", [label(installed), policy_name, input.policy.spec.eligible.versionName]) if {
	r.form == "outside"
} else := sprintf("Installed version %s is below version code %d, the lowest that policy %s updates.", [label(installed), input.policy.spec.eligible.minVersionCode, policy_name]) if {
	r.form == "belowMin"
} else := sprintf("Installed version %s is above version code %d, the highest that policy %s updates.", [label(installed), input.policy.spec.eligible.maxVersionCode, policy_name]) if {
	r.form == "aboveMax"
} else := sprintf("Installed version %s is excluded from updates by policy %s.", [label(installed), policy_name]) if {
	r.code == "EXCLUDED_VERSION"
} else := no_release_message if {
	r.code == "NO_NEWER_RELEASE"
} else := sprintf("Version %s needs Android SDK %d or later; this device runs SDK %d.", [label(input.releases[r.release]), input.releases[r.release].artifact.minSdk, input.device.sdk]) if {
	r.code == "SDK_TOO_OLD"
} else := up_to_date_message if {
	r.code == "UP_TO_DATE"
} else := client_message if {
	r.code == "CLIENT_TOO_OLD"
} else := sprintf("Version %s is rolling out to %v%% of devices under policy %s, and this device is not among them yet.", [label(target), input.policy.spec.rollout.percent, policy_name]) if {
	r.code == "NOT_IN_ROLLOUT"
} else := sprintf("Version %s is required; the app sends the user to the App Store and cannot be used until it is updated.", [label(target)]) if {
	r.code == "FORCED"
	r.form == "store"
} else := sprintf("Version %s is available; the app offers to open the App Store to update.", [label(target)]) if {
	r.form == "store"
} else := sprintf(
	"Version %s is available, but policy %s postpones updates for %d days after the app became out of date on %s; it can install from %s.",
	[label(target), policy_name, input.facts.postponeDays, date(r.since), date(result.notBefore)],
) if {
	r.code == "POSTPONED"
} else := sprintf("Version %s is required by policy %s; the app cannot be used until it is updated.", [label(target), policy_name]) if {
	r.form == "policy"
} else := sprintf("Version %s has been required since %s; the app cannot be used until it is updated.", [label(target), date(result.prompt.forceAfter)]) if {
	r.form == "deadline"
} else := concat("", [
	sprintf("Version %s is available; the app asks the user to update, %s", [label(target), times_a_day(result.prompt.dailyFrequency)]),
	deadline_phrase,
	".",
]) if {
	r.form == "prompt"
} else := concat("", [install_intro(r), "; ", install_when, "."]) if {
	r.code == "UPDATE_AVAILABLE"
} else := sprintf("The update to version %s is blocked by a fleet rule: %s", [label(input.releases[r.target]), sentence(r.rule)]) if {
	r.code == "DENIED_BY_RULE"
}

no_release_message := sprintf("Version %s, which policy %s pins, is not published on the %s track.", [input.policy.spec.target.version, policy_name, track]) if {
	selector == "version"
} else := sprintf("No version starting with %s is published on the %s track.", [input.policy.spec.target.versionPrefix, track]) if {
	selector == "prefix"
} else := sprintf("No release of %s that policy %s allows is published on the %s track yet.", [input.app, policy_name, track])

up_to_date_message := sprintf("Installed version %s is the latest release on the %s track that this device can run.", [label(installed), track]) if {
	up_to_date_form == "cannotRun"
} else := sprintf("Installed version %s is already at or above version %s, which policy %s pins.", [label(installed), label(target), policy_name]) if {
	up_to_date_form == "pinned"
} else := sprintf("Installed version %s is the latest release on the %s track.", [label(installed), track]) if {
	up_to_date_form == "latest"
} else := sprintf("Installed version %s is newer than %s, the latest release on the %s track.", [label(installed), label(target), track])

client_message := sprintf("Version %s needs Sluice agent %s or later, and this device has not reported its agent version; install %s by hand or update the agent.", [label(target), input.policy.spec.minClientVersion, target.versionName]) if {
	input.facts.agentVersion == "unreported"
} else := sprintf("Version %s needs Sluice agent %s or later, and this device's agent version cannot be compared (%s); install %s by hand or update the agent.", [label(target), input.policy.spec.minClientVersion, input.facts.agentVersionError, target.versionName]) if {
	input.facts.agentVersion == "incomparable"
} else := sprintf("Version %s needs Sluice agent %s or later, and this device runs agent %s; install %s by hand or update the agent.", [label(target), input.policy.spec.minClientVersion, input.device.agentVersion, target.versionName])

deadline_phrase := sprintf(", and the update becomes mandatory on %s", [date(result.prompt.forceAfter)]) if {
	result.prompt.forceAfter != null
} else := ""

install_intro(r) := sprintf("%s is not installed, and policy %s installs it: version %s", [input.app, policy_name, label(target)]) if {
	r.form == "notInstalled"
} else := sprintf("Version %s, pinned by policy %s, replaces the newer installed version %s", [label(target), policy_name, label(installed)]) if {
	r.form == "downgrade"
} else := sprintf("Version %s is available and the %d-day postponement ended on %s", [label(target), input.facts.postponeDays, date(r.ended)]) if {
	r.form == "postponementEnded"
} else := sprintf("Version %s is available", [label(target)])

# "it installs when the device is on Wi-Fi, charging and idle and the app is
# not in use, between 22:00 and 05:00 device time"
install_when := "it installs as soon as possible" if {
	count(install_conditions) == 0
	result.maintenanceWindow == null
} else := concat("", ["it installs when ", english_and(install_conditions), ", ", window_phrase]) if {
	count(install_conditions) > 0
	result.maintenanceWindow != null
} else := concat("", ["it installs when ", english_and(install_conditions)]) if {
	count(install_conditions) > 0
} else := concat("", ["it installs ", window_phrase])

install_conditions := array.concat(
	[concat("", ["the device is ", english_and(device_conditions)]) | count(device_conditions) > 0],
	["the app is not in use" | result.constraints.notForeground],
)

device_conditions := [phrase |
	some [key, phrase] in [["unmeteredNetwork", "on Wi-Fi"], ["charging", "charging"], ["idle", "idle"]]
	result.constraints[key]
]

window_phrase := sprintf("between %s and %s device time", [result.maintenanceWindow.start, result.maintenanceWindow.end])

times_a_day(n) := "at most once a day" if {
	n == 1
} else := sprintf("at most %d times a day", [n])

# "5.1.0 (510)": the versionName a merchant sees and the versionCode.
label(x) := sprintf("%s (%d)", [x.versionName, x.versionCode])

# A date, with the time of day when it is not midnight UTC.
date(ns) := time.format([ns, "UTC", "2 January 2006"]) if {
	ns % day_ns == 0
} else := time.format([ns, "UTC", "2 January 2006 15:04 UTC"])

english_and(xs) := english_join(xs, "and")

english_or(xs) := english_join(xs, "or")

english_join(xs, word) := xs[0] if {
	count(xs) == 1
} else := concat("", [concat(", ", array.slice(xs, 0, count(xs) - 1)), " ", word, " ", xs[count(xs) - 1]]) if {
	count(xs) > 1
} else := ""

# An extension rule's message as a sentence.
sentence(m) := m if {
	is_string(m)
	regex.match(`[.!?]$`, m)
} else := concat("", [m, "."]) if {
	is_string(m)
} else := sprintf("%v.", [m])
