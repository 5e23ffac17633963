# Package sluice.decision decides what one device should do about one app,
# and why. It is the whole update procedure of Sluice; the Go engine
# (policy.Engine) builds the input document below, evaluates `result`, and
# turns it into a protocol.Decision. Nothing here reads a clock: the only
# notion of "now" is input.facts.at, so a logged input replays to the same
# decision.
#
# Input document (built by policy.BuildInput; keys that are unknown or unset
# are absent):
#
#   at             evaluation time (RFC 3339, UTC)
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
#   facts          plain functions of the fields above, prepared by Go so
#                  that this procedure compares values instead of parsing
#                  them; see facts.rego
#
# Output, data.sluice.decision.result: {action, mode, reasons [{code, form,
# ...}], target (index of the target in input.releases), allowDowngrade,
# installType, notBefore (ns since the epoch), constraints,
# maintenanceWindow, prompt}. A null or absent key means "not set". A
# reason's form says which sentence explains it; its other keys are the
# values the sentence needs. data.sluice.decision.decision is the same with
# the sentences written out (messages.rego); the Go engine writes the same
# sentences itself.
#
# Extension rules: modules in package sluice.rules may define
#     deny contains msg if { ... }
# over the same input. They can only stop an update: a decision whose action
# is actionable (below) becomes action none with one DENIED_BY_RULE reason
# per message.
package sluice.decision

# The decision: the outcome of the procedure, unless it would change the
# device and an extension rule denies it.
result := denied if {
	count(data.sluice.rules.deny) > 0
	outcome.action in actionable
} else := outcome

# The decision with every reason's sentence written out, as support staff
# read it.
decision := object.union(result, {"reasons": [{"code": r.code, "message": message(r)} | some r in result.reasons]})

# Actions that change something on the device or in front of its user.
actionable := {"install", "postponed", "prompt", "force", "storeRedirect"}

# Messages of the admins' deny rules, in a stable (sorted) order.
denials := [msg | some msg in data.sluice.rules.deny]

denied := {
	"action": "none",
	"mode": input.facts.mode,
	"reasons": [{"code": "DENIED_BY_RULE", "rule": msg, "target": target_index} | some msg in denials],
}

# The procedure. The first branch whose conditions hold decides; each
# branch says in its reason why the device does (or does not) update.
# Conditions compare input values with constants where they can: OPA's rule
# index then skips the branches that cannot hold without evaluating them.
outcome := {"action": "none", "reasons": [{"code": "NO_POLICY"}]} if {
	input.facts.policy == false
} else := {"action": "none", "mode": input.facts.mode, "reasons": [{"code": "OUTSIDE_EFFECTIVE_WINDOW", "form": "notYet"}]} if {
	input.facts.at < input.facts.effectiveStart
} else := {"action": "none", "mode": input.facts.mode, "reasons": [{"code": "OUTSIDE_EFFECTIVE_WINDOW", "form": "ended"}]} if {
	input.facts.at >= input.facts.effectiveEnd
} else := {"action": "none", "mode": input.facts.mode, "reasons": [{"code": "PLATFORM_MISMATCH"}]} if {
	input.facts.platformMatches == false
} else := {"action": "none", "mode": input.facts.mode, "reasons": [{"code": "CHANNEL_MISMATCH"}]} if {
	input.facts.channelMatches == false
} else := {"action": "none", "mode": input.facts.mode, "reasons": [{"code": "NOT_INSTALLED"}]} if {
	input.facts.installed == false
	input.facts.installType != "forceInstalled"
} else := {"action": "none", "mode": input.facts.mode, "reasons": [{"code": "NOT_IN_ELIGIBLE_RANGE", "form": "unchecked"}]} if {
	input.facts.eligibleName == "unchecked"
} else := {"action": "none", "mode": input.facts.mode, "reasons": [{"code": "NOT_IN_ELIGIBLE_RANGE", "form": "outside"}]} if {
	input.facts.eligibleName == "unsatisfied"
} else := {"action": "none", "mode": input.facts.mode, "reasons": [{"code": "NOT_IN_ELIGIBLE_RANGE", "form": "belowMin"}]} if {
	input.device.installed.versionCode < input.policy.spec.eligible.minVersionCode
} else := {"action": "none", "mode": input.facts.mode, "reasons": [{"code": "NOT_IN_ELIGIBLE_RANGE", "form": "aboveMax"}]} if {
	input.policy.spec.eligible.maxVersionCode > 0
	input.device.installed.versionCode > input.policy.spec.eligible.maxVersionCode
} else := {"action": "none", "mode": input.facts.mode, "reasons": [{"code": "EXCLUDED_VERSION"}]} if {
	input.facts.installedExcluded == true
} else := {"action": "none", "mode": input.facts.mode, "reasons": [{"code": "NO_NEWER_RELEASE", "form": selector}]} if {
	input.facts.pool == []
} else := {"action": "none", "mode": input.facts.mode, "reasons": [{"code": "SDK_TOO_OLD", "release": input.facts.sdkBlocked[0]}]} if {
	update == "none"
} else := {"action": "none", "mode": input.facts.mode, "reasons": [{"code": "UP_TO_DATE", "form": up_to_date_form}]} if {
	update == "none"
} else := unsupported if {
	input.facts.agentVersion == "unreported"
} else := unsupported if {
	input.facts.agentVersion == "incomparable"
} else := unsupported if {
	input.facts.agentVersion == "older"
} else := {"action": "none", "mode": input.facts.mode, "reasons": [{"code": "NOT_IN_ROLLOUT"}]} if {
	in_rollout == false
} else := store_redirect if {
	input.device.platform == "ios"
} else := postponed if {
	input.facts.mode == "postponed"
	input.facts.installed == true
	input.facts.at < period_end
} else := forced if {
	input.facts.installed == true
	forced_now
} else := prompted if {
	input.facts.installed == true
	input.policy.spec.prompt
} else := install

# CLIENT_TOO_OLD: the update exists but this device's agent cannot take it;
# the target is included so that support can install it by hand.
unsupported := {
	"action": "unsupported",
	"mode": input.facts.mode,
	"target": input.facts.candidates[0],
	"installType": input.facts.installType,
	"allowDowngrade": downgrade,
	"reasons": [{"code": "CLIENT_TOO_OLD", "form": input.facts.agentVersion}],
}

# iOS has no silent install: the app sends its user to the App Store.
store_redirect := {
	"action": "storeRedirect",
	"mode": input.facts.mode,
	"target": input.facts.candidates[0],
	"installType": input.facts.installType,
	"allowDowngrade": downgrade,
	"prompt": {
		"closable": store_closable,
		"dailyFrequency": input.facts.dailyFrequency,
		"text": input.facts.promptText,
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

store_reason := {"code": "FORCED", "form": "store"} if {
	forced_now
} else := {"code": "UPDATE_AVAILABLE", "form": "store"}

store_url := concat("", ["itms-apps://itunes.apple.com/app/id", input.releases[target_index].appStoreId]) if input.releases[target_index].appStoreId
else := null

web_url := concat("", ["https://apps.apple.com/app/id", input.releases[target_index].appStoreId]) if input.releases[target_index].appStoreId
else := null

# Postponed mode, inside the period: nothing installs before notBefore.
postponed := {
	"action": "postponed",
	"mode": input.facts.mode,
	"target": input.facts.candidates[0],
	"installType": input.facts.installType,
	"allowDowngrade": downgrade,
	"notBefore": period_end,
	"reasons": [{"code": "POSTPONED", "since": period_start}],
}

# A prompt the user cannot dismiss: policy force, or forceAfter elapsed.
forced := {
	"action": "force",
	"mode": input.facts.mode,
	"target": input.facts.candidates[0],
	"installType": input.facts.installType,
	"allowDowngrade": downgrade,
	"notBefore": not_before,
	"prompt": {
		"closable": false,
		"text": input.facts.promptText,
		"button": input.facts.button,
		"forceAfter": force_after,
	},
	"reasons": [forced_reason],
}

forced_reason := {"code": "FORCED", "form": "policy"} if {
	input.policy.spec.force == true
} else := {"code": "FORCED", "form": "deadline"}

# A closable prompt, shown at most dailyFrequency times a device-local day.
prompted := {
	"action": "prompt",
	"mode": input.facts.mode,
	"target": input.facts.candidates[0],
	"installType": input.facts.installType,
	"allowDowngrade": downgrade,
	"notBefore": not_before,
	"prompt": {
		"closable": true,
		"dailyFrequency": input.facts.dailyFrequency,
		"text": input.facts.promptText,
		"button": input.facts.button,
		"forceAfter": force_after,
	},
	"reasons": [{"code": "UPDATE_AVAILABLE", "form": "prompt"}],
}

# A silent install, under the mode's constraints and window.
install := {
	"action": "install",
	"mode": input.facts.mode,
	"target": input.facts.candidates[0],
	"installType": input.facts.installType,
	"allowDowngrade": downgrade,
	"notBefore": not_before,
	"constraints": install_constraints,
	"maintenanceWindow": install_window,
	"reasons": [install_reason],
}

install_reason := {"code": "UPDATE_AVAILABLE", "form": "notInstalled"} if {
	input.facts.installed == false
} else := {"code": "UPDATE_AVAILABLE", "form": "downgrade"} if {
	downgrade
} else := {"code": "UPDATE_AVAILABLE", "form": "postponementEnded", "ended": period_end} if {
	input.facts.mode == "postponed"
	period_end
} else := {"code": "UPDATE_AVAILABLE", "form": "available"}
