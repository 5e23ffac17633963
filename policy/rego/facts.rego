# Facts about the request and the policy's gates: effective window,
# platform, channel, eligible range, excluded versions, client version and
# rollout. Defaults of the UpdatePolicy are filled in here, in one place.
package sluice.decision

# Nanoseconds in one day; postponeDays and "7d" durations count whole days.
day_ns := 86400000000000

# Evaluation time, the only clock of the decision.
at := time.parse_rfc3339_ns(input.at)

spec := input.policy.spec

policy_name := input.policy.name

mode := object.get(spec, "mode", "default")

track := object.get(spec, "track", "production")

install_type := object.get(spec, "installType", "updateOnly")

postpone_days := object.get(spec, "postponeDays", 90)

device_platform := object.get(input.device, "platform", "unknown")

device_channel := object.get(input.device, "channel", "no channel")

# The app as installed on the device; undefined when it is not installed.
installed := input.device.installed

# Effective window: [start, end). An absent bound is open.
effective_start := time.parse_rfc3339_ns(spec.effective.start)

effective_end := time.parse_rfc3339_ns(spec.effective.end)

platform_mismatch if {
	count(spec.platforms) > 0
	not device_platform in spec.platforms
}

channel_mismatch if {
	count(spec.channels) > 0
	not input.device.channel in spec.channels
}

# Why the installed version is outside the versions the policy updates;
# undefined when it is inside. versionName is checked with the semver
# constraint of eligible.versionName (Masterminds/semver semantics, through
# the sluice.version.satisfies builtin), versionCode with the min/max bounds.
eligibility_problem := msg if {
	eligible_name_check.error != ""
	msg := sprintf("Policy %s cannot check installed version %s against its eligible range %q: %s.", [policy_name, label(installed), spec.eligible.versionName, eligible_name_check.error])
} else := msg if {
	eligible_name_check.satisfied == false
	msg := sprintf("Installed version %s is outside the versions policy %s updates (%s).", [label(installed), policy_name, spec.eligible.versionName])
} else := msg if {
	installed.versionCode < spec.eligible.minVersionCode
	msg := sprintf("Installed version %s is below version code %d, the lowest that policy %s updates.", [label(installed), spec.eligible.minVersionCode, policy_name])
} else := msg if {
	spec.eligible.maxVersionCode > 0
	installed.versionCode > spec.eligible.maxVersionCode
	msg := sprintf("Installed version %s is above version code %d, the highest that policy %s updates.", [label(installed), spec.eligible.maxVersionCode, policy_name])
}

eligible_name_check := sluice.version.satisfies(spec.eligible.versionName, installed.versionName)

# A version listed in excludedVersions: equal as a string, or as a semantic
# version ("5.0" excludes "5.0.0").
excluded(version) if sluice.version.listed(version, spec.excludedVersions)

# Why this device's agent cannot receive the update; undefined when it can.
client_problem := msg if {
	spec.minClientVersion
	not input.device.agentVersion
	msg := sprintf("Version %s needs Sluice agent %s or later, and this device has not reported its agent version; install %s by hand or update the agent.", [label(target), spec.minClientVersion, target.versionName])
} else := msg if {
	client_check.error != ""
	msg := sprintf("Version %s needs Sluice agent %s or later, and this device's agent version cannot be compared (%s); install %s by hand or update the agent.", [label(target), spec.minClientVersion, client_check.error, target.versionName])
} else := msg if {
	client_check.result < 0
	msg := sprintf("Version %s needs Sluice agent %s or later, and this device runs agent %s; install %s by hand or update the agent.", [label(target), spec.minClientVersion, input.device.agentVersion, target.versionName])
}

client_check := sluice.version.compare(input.device.agentVersion, spec.minClientVersion)

# Rollout: the device takes part when its stable bucket (0..9999) is below
# percent * 100, rounded to a whole bucket so that decimal percentages such
# as 71.37 mean exactly 7137 buckets. No rollout section means every device.
in_rollout if not spec.rollout

in_rollout if input.rolloutBucket < round(spec.rollout.percent * 100)
