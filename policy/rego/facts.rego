# Facts about the request and the policy's gates. The Go engine prepares
# input.facts from the rest of the input (policy.InputFacts): each one is a
# plain function of it (a parsed time, a default filled in, a version
# comparison, a predicate over each release), never a choice between
# outcomes; the choices are made here and in decision.rego.
#
#   at, effectiveStart, effectiveEnd, updatedAt, enrolledAt
#                      input.at, policy.spec.effective.{start,end},
#                      device.installed.updatedAt, device.enrolledAt in ns
#                      since the epoch; absent when unset
#   policy             a policy applies (input.policy is present)
#   mode, track, installType, postponeDays, dailyFrequency, promptText,
#   button             the policy's settings with their defaults (default,
#                      production, updateOnly, 90, 1, "", updateApp)
#   forceAfter         policy.spec.prompt.forceAfter in ns ("7d", "72h");
#                      absent when unset
#   platformMatches    policy.spec.platforms is empty or lists the device's
#   channelMatches     policy.spec.channels is empty or lists the device's
#                      (a device without a channel matches no list)
#   installed          the app is installed (device.installed is present)
#   eligibleName       the installed versionName against the eligible
#                      semver constraint: satisfied | unsatisfied |
#                      unchecked (eligibleNameError says why); "" when there
#                      is no constraint or the app is not installed
#   installedExcluded  the installed versionName is in excludedVersions
#                      (equal as a string or as a semantic version)
#   agentVersion       the agent's version against minClientVersion:
#                      satisfied | older | unreported | incomparable
#                      (agentVersionError says why); "" without a minimum
#   published          publishedAt of every release in ns, by index
#   pool               indexes of the releases the policy may move the
#                      device to: the same app, the policy's track (a
#                      release without one is on production), published by
#                      at, not excluded, and selected by the target (a
#                      pinned versionName; a dotted versionPrefix, "5.1"
#                      matching 5.1 and 5.1.7 but not 5.10.0; or any)
#   candidates         the pool without the releases whose minSdk is above
#                      the device's SDK (checked only when both are known)
#   sdkBlocked         the pool releases the device's SDK rules out that are
#                      newer than the installed version (any when it is not
#                      installed)
#   newer              the candidates newer than the installed version
#
# Index lists keep the order of input.releases: highest versionCode first.
package sluice.decision

# Nanoseconds in one day; postponeDays counts whole days.
day_ns := 86400000000000

# The target is the highest candidate (releases are sorted by versionCode).
target_index := input.facts.candidates[0]

target := input.releases[target_index]

installed := input.device.installed

# How the policy chooses its target: a pinned version, a version prefix, or
# the latest release.
selector := "version" if {
	input.policy.spec.target.version
} else := "prefix" if {
	input.policy.spec.target.versionPrefix
} else := "latest"

pinned if input.policy.spec.target.version

pinned if input.policy.spec.target.versionPrefix

# Whether and how the device moves to the target: up to a strictly higher
# versionCode, or installing the app when it is not installed, or down to a
# pinned version when the policy allows downgrades; "none" otherwise.
update := "upgrade" if {
	input.releases[input.facts.candidates[0]].versionCode > input.device.installed.versionCode
} else := "install" if {
	input.facts.installed == false
	input.facts.candidates[0]
} else := "downgrade" if {
	input.policy.spec.target.allowDowngrade == true
	pinned
	input.releases[input.facts.candidates[0]].versionCode < input.device.installed.versionCode
} else := "none"

default downgrade := false

downgrade if update == "downgrade"

# Why an installed app that has no update is up to date.
up_to_date_form := "cannotRun" if {
	not target
} else := "pinned" if {
	pinned
} else := "latest" if {
	target.versionCode == installed.versionCode
} else := "newer"

# Rollout: the device takes part when its stable bucket (0..9999) is below
# percent * 100, rounded to a whole bucket so that decimal percentages such
# as 71.37 mean exactly 7137 buckets. No rollout section means every device.
default in_rollout := true

in_rollout := false if input.rolloutBucket >= round(input.policy.spec.rollout.percent * 100)

# Default mode's conditions: every one holds unless the policy lifts it.
# highPriority installs at once, without conditions or window.
install_constraints := null if {
	input.facts.mode == "highPriority"
} else := {
	"unmeteredNetwork": object.get(input.policy.spec, ["constraints", "unmeteredNetwork"], true),
	"charging": object.get(input.policy.spec, ["constraints", "charging"], true),
	"idle": object.get(input.policy.spec, ["constraints", "idle"], true),
	"notForeground": object.get(input.policy.spec, ["constraints", "notForeground"], true),
}

install_window := null if {
	input.facts.mode == "highPriority"
} else := object.get(input.policy.spec, "maintenanceWindow", null)

# When a closable prompt turns into a forced one: the target's publication
# plus prompt.forceAfter; null when the policy sets none.
force_after := t if {
	t := input.facts.published[input.facts.candidates[0]] + input.facts.forceAfter
} else := null

forced_now if input.policy.spec.force == true

forced_now if {
	force_after != null
	input.facts.at >= force_after
}
