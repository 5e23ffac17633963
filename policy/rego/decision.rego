# Package sluice.decision decides what one device should do about one app,
# and why. It is the whole update procedure of Sluice; the Go engine
# (policy.Engine) only builds the input document below and turns the value
# of `decision` into a protocol.Decision. Nothing here reads a clock: the
# only notion of "now" is input.at, so a logged input replays to the same
# decision.
#
# Input document (built by policy.BuildInput; times are RFC 3339 strings in
# UTC; keys that are unknown or unset are absent):
#
#   at             evaluation time
#   app            package name of the app decided about
#   rolloutBucket  0..9999: a stable hash of policy name and device id
#   device         {id, platform ("android" | "ios"), sdk (0: unknown),
#                   agentVersion, channel, timeZone, labels {key: value},
#                   enrolledAt, installed}
#                  installed is {versionName, versionCode, updatedAt}, and is
#                  absent when the app is not installed
#   policy         absent when no policy applies to the device and app; else
#                  {name, revision, spec}, spec being the UpdatePolicy as
#                  written (camelCase, defaults not filled in)
#   releases       every known release of the app (any track), sorted by
#                  versionCode, highest first: {app, versionName, versionCode,
#                  track, publishedAt, artifact {urls, sha256, size,
#                  signerSha256, minSdk}, releaseNotes, appStoreId}
#
# Output, data.sluice.decision.decision: {action, mode, reasons [{code,
# message}], target (index of the target in input.releases), allowDowngrade,
# installType, notBefore (ns since the epoch), constraints,
# maintenanceWindow, prompt}. A null or absent key means "not set".
#
# Extension rules: modules in package sluice.rules may define
#     deny contains msg if { ... }
# over the same input. They can only stop an update: a decision whose action
# is actionable (below) becomes action none with one DENIED_BY_RULE reason
# per message.
package sluice.decision

# The decision: the outcome of the procedure, unless it would change the
# device and an extension rule denies it.
decision := denied if {
	outcome.action in actionable
	count(denials) > 0
} else := outcome

# Actions that change something on the device or in front of its user.
actionable := {"install", "postponed", "prompt", "force", "storeRedirect"}

# Messages of the admins' deny rules, in a stable (sorted) order.
denials := [msg | some msg in data.sluice.rules.deny]

denied := {
	"action": "none",
	"mode": mode,
	"reasons": [reason("DENIED_BY_RULE", msg) |
		some m in denials
		msg := sprintf("The update to version %s is blocked by a fleet rule: %s", [label(target), sentence(m)])
	],
}

# The procedure. The first branch whose conditions hold decides; each
# branch says in its reason why the device does (or does not) update.
outcome := {"action": "none", "reasons": [reason("NO_POLICY", msg)]} if {
	not input.policy
	msg := sprintf("No update policy applies to %s on this device.", [input.app])
} else := none("OUTSIDE_EFFECTIVE_WINDOW", msg) if {
	at < effective_start
	msg := sprintf("Policy %s takes effect on %s; until then it changes nothing.", [policy_name, date(effective_start)])
} else := none("OUTSIDE_EFFECTIVE_WINDOW", msg) if {
	at >= effective_end
	msg := sprintf("Policy %s stopped applying on %s.", [policy_name, date(effective_end)])
} else := none("PLATFORM_MISMATCH", msg) if {
	platform_mismatch
	msg := sprintf("Policy %s applies to %s devices; this device runs %s.", [policy_name, english_or(spec.platforms), device_platform])
} else := none("CHANNEL_MISMATCH", msg) if {
	channel_mismatch
	msg := sprintf("Policy %s applies to devices on the %s channel; this device is on %s.", [policy_name, english_or(spec.channels), device_channel])
} else := none("NOT_INSTALLED", msg) if {
	not installed
	install_type != "forceInstalled"
	msg := sprintf("%s is not installed on this device, and policy %s only updates apps that are installed.", [input.app, policy_name])
} else := none("NOT_IN_ELIGIBLE_RANGE", msg) if {
	msg := eligibility_problem
} else := none("EXCLUDED_VERSION", msg) if {
	excluded(installed.versionName)
	msg := sprintf("Installed version %s is excluded from updates by policy %s.", [label(installed), policy_name])
} else := none("NO_NEWER_RELEASE", msg) if {
	count(pool) == 0
	msg := no_release_message
} else := none("SDK_TOO_OLD", msg) if {
	sdk_blocked
	msg := sprintf("Version %s needs Android SDK %d or later; this device runs SDK %d.", [label(sdk_blocker), sdk_blocker.artifact.minSdk, input.device.sdk])
} else := none("UP_TO_DATE", msg) if {
	not is_update
	msg := up_to_date_message
} else := unsupported if {
	client_problem
} else := none("NOT_IN_ROLLOUT", msg) if {
	not in_rollout
	msg := sprintf("Version %s is rolling out to %v%% of devices under policy %s, and this device is not among them yet.", [label(target), spec.rollout.percent, policy_name])
} else := store_redirect if {
	device_platform == "ios"
} else := postponed if {
	postponing
} else := forced if {
	installed
	forced_now
} else := prompted if {
	prompting
} else := install

# An action none with one reason.
none(code, msg) := {"action": "none", "mode": mode, "reasons": [reason(code, msg)]}

reason(code, msg) := {"code": code, "message": msg}

# CLIENT_TOO_OLD: the update exists but this device's agent cannot take it;
# the target is included so that support can install it by hand.
unsupported := {
	"action": "unsupported",
	"mode": mode,
	"target": target_index,
	"installType": install_type,
	"allowDowngrade": downgrade,
	"reasons": [reason("CLIENT_TOO_OLD", client_problem)],
}

# iOS has no silent install: the app sends its user to the App Store.
store_redirect := {
	"action": "storeRedirect",
	"mode": mode,
	"target": target_index,
	"installType": install_type,
	"allowDowngrade": downgrade,
	"prompt": {
		"closable": store_closable,
		"dailyFrequency": daily_frequency,
		"text": prompt_text,
		"button": "openStore",
		"forceAfter": force_after,
		"storeUrl": store_url,
		"webUrl": web_url,
	},
	"reasons": [store_reason],
}

# The App Store prompt is closable unless the update is forced.
default store_closable := true

store_closable := false if forced_now

store_reason := reason("FORCED", msg) if {
	forced_now
	msg := sprintf("Version %s is required; the app sends the user to the App Store and cannot be used until it is updated.", [label(target)])
} else := reason("UPDATE_AVAILABLE", msg) if {
	msg := sprintf("Version %s is available; the app offers to open the App Store to update.", [label(target)])
}

store_url := concat("", ["itms-apps://itunes.apple.com/app/id", target.appStoreId]) if target.appStoreId
else := null

web_url := concat("", ["https://apps.apple.com/app/id", target.appStoreId]) if target.appStoreId
else := null

# Postponed mode, inside the period: nothing installs before notBefore.
postponed := {
	"action": "postponed",
	"mode": mode,
	"target": target_index,
	"installType": install_type,
	"allowDowngrade": downgrade,
	"notBefore": period_end,
	"reasons": [reason("POSTPONED", msg)],
} if {
	msg := sprintf(
		"Version %s is available, but policy %s postpones updates for %d days after the app became out of date on %s; it can install from %s.",
		[label(target), policy_name, postpone_days, date(period_start), date(period_end)],
	)
}

# A prompt the user cannot dismiss: policy force, or forceAfter elapsed.
forced := {
	"action": "force",
	"mode": mode,
	"target": target_index,
	"installType": install_type,
	"allowDowngrade": downgrade,
	"notBefore": not_before,
	"prompt": {
		"closable": false,
		"text": prompt_text,
		"button": prompt_button,
		"forceAfter": force_after,
	},
	"reasons": [reason("FORCED", forced_message)],
}

forced_message := sprintf("Version %s is required by policy %s; the app cannot be used until it is updated.", [label(target), policy_name]) if {
	spec.force
} else := sprintf("Version %s has been required since %s; the app cannot be used until it is updated.", [label(target), date(force_after)])

# A closable prompt, shown at most dailyFrequency times a device-local day.
prompted := {
	"action": "prompt",
	"mode": mode,
	"target": target_index,
	"installType": install_type,
	"allowDowngrade": downgrade,
	"notBefore": not_before,
	"prompt": {
		"closable": true,
		"dailyFrequency": daily_frequency,
		"text": prompt_text,
		"button": prompt_button,
		"forceAfter": force_after,
	},
	"reasons": [reason("UPDATE_AVAILABLE", msg)],
} if {
	msg := concat("", [
		sprintf("Version %s is available; the app asks the user to update, %s", [label(target), times_a_day(daily_frequency)]),
		deadline_phrase,
		".",
	])
}

deadline_phrase := sprintf(", and the update becomes mandatory on %s", [date(force_after)]) if {
	force_after != null
} else := ""

# A silent install, under the mode's constraints and window.
install := {
	"action": "install",
	"mode": mode,
	"target": target_index,
	"installType": install_type,
	"allowDowngrade": downgrade,
	"notBefore": not_before,
	"constraints": install_constraints,
	"maintenanceWindow": install_window,
	"reasons": [reason("UPDATE_AVAILABLE", concat("", [install_intro, "; ", install_when, "."]))],
}

install_intro := sprintf("%s is not installed, and policy %s installs it: version %s", [input.app, policy_name, label(target)]) if {
	not installed
} else := sprintf("Version %s, pinned by policy %s, replaces the newer installed version %s", [label(target), policy_name, label(installed)]) if {
	downgrade
} else := sprintf("Version %s is available and the %d-day postponement ended on %s", [label(target), postpone_days, date(period_end)]) if {
	mode == "postponed"
	period_end
} else := sprintf("Version %s is available", [label(target)])
