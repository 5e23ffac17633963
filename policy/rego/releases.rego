# Target selection: which release, if any, the device should move to.
package sluice.decision

# publishedAt of every release in nanoseconds, parsed once, by index.
published_ns := [time.parse_rfc3339_ns(r.publishedAt) | some r in input.releases]

# Indexes into input.releases (highest versionCode first) of the releases the
# policy may move the device to, before the device's SDK is considered: the
# same app, the policy's track (a release without one is on "production"),
# published by now, not excluded, and matching a pinned version or prefix.
pool := [i |
	some i, r in input.releases
	r.app == input.app
	published_ns[i] <= at
	object.get(r, "track", "production") == track
	selected(r.versionName)
	not excluded(r.versionName)
]

# The pool without the releases this device's SDK cannot run. The minSdk of
# a release is checked only when both it and the device's SDK are known.
candidates := pool if {
	input.device.sdk <= 0
} else := [i | some i in pool; sdk_ok(input.releases[i])]

# The target is the highest candidate (releases are sorted by versionCode).
target_index := candidates[0]

target := input.releases[target_index]

# target.version pins one exact versionName; target.versionPrefix picks the
# highest release whose dotted versionName starts with the prefix ("5.1"
# matches 5.1 and 5.1.7, not 5.10.0); neither means the latest release.
selector := "version" if {
	spec.target.version
} else := "prefix" if {
	spec.target.versionPrefix
} else := "latest"

selected(name) := true if {
	selector == "latest"
} else := true if {
	name == spec.target.version
} else := true if {
	selector == "prefix"
	prefix := trim_suffix(spec.target.versionPrefix, ".")
	dotted_prefix(name, prefix)
} else := false

dotted_prefix(name, prefix) := true if {
	name == prefix
} else := startswith(name, concat("", [prefix, "."]))

pinned if selector != "latest"

sdk_ok(r) := true if {
	r.artifact.minSdk <= input.device.sdk
} else := true if {
	r.artifact.minSdk <= 0
} else := input.device.sdk <= 0

# The device moves only to a strictly higher versionCode, or down to a
# pinned version when the policy allows downgrades.
is_update if {
	target
	not installed
}

is_update if target.versionCode > installed.versionCode

is_update if downgrade

default downgrade := false

downgrade if {
	spec.target.allowDowngrade
	pinned
	target.versionCode < installed.versionCode
}

# Releases the device would move to but cannot run, highest first. When the
# device has no update it can run and one of these exists, the reason is
# SDK_TOO_OLD rather than UP_TO_DATE.
sdk_blocked_releases := [r |
	some i in pool
	r := input.releases[i]
	not sdk_ok(r)
	newer_than_installed(r)
]

newer_than_installed(r) := true if {
	not installed
} else := r.versionCode > installed.versionCode

sdk_blocked if {
	not is_update
	count(sdk_blocked_releases) > 0
}

sdk_blocker := sdk_blocked_releases[0]

no_release_message := sprintf("Version %s, which policy %s pins, is not published on the %s track.", [spec.target.version, policy_name, track]) if {
	spec.target.version
} else := sprintf("No version starting with %s is published on the %s track.", [spec.target.versionPrefix, track]) if {
	spec.target.versionPrefix
} else := sprintf("No release of %s that policy %s allows is published on the %s track yet.", [input.app, policy_name, track])

up_to_date_message := sprintf("Installed version %s is the latest release on the %s track that this device can run.", [label(installed), track]) if {
	not target
} else := sprintf("Installed version %s is already at or above version %s, which policy %s pins.", [label(installed), label(target), policy_name]) if {
	pinned
} else := sprintf("Installed version %s is the latest release on the %s track.", [label(installed), track]) if {
	target.versionCode == installed.versionCode
} else := sprintf("Installed version %s is newer than %s, the latest release on the %s track.", [label(installed), label(target), track])
