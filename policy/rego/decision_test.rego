# Unit tests of the decision modules, run by go test (policy/rego_test.go)
# through OPA's tester. Each test evaluates the rules on a small input,
# prepared as the engine prepares it: sluice.test.input (a builtin that
# rego_test.go registers for these tests only) adds the facts that
# policy.BuildInput derives in Go.
package sluice.decision_test

import data.sluice.decision

rel(name, code, published, min_sdk) := {
	"app": "com.example.pos",
	"versionName": name,
	"versionCode": code,
	"publishedAt": published,
	"artifact": {"urls": ["https://cdn.example.com/a.apk"], "sha256": "00", "size": 1, "signerSha256": null, "minSdk": min_sdk},
}

base := {
	"at": "2025-05-20T10:00:00Z",
	"app": "com.example.pos",
	"rolloutBucket": 4200,
	"device": {
		"id": "d1", "platform": "android", "sdk": 30, "agentVersion": "1.4.2", "channel": "stable",
		"installed": {"versionName": "5.0.0", "versionCode": 500, "updatedAt": "2025-03-03T00:00:00Z"},
	},
	"policy": {"name": "p", "revision": 1, "spec": {"app": "com.example.pos"}},
	"releases": [
		rel("5.10.0", 600, "2025-06-01T00:00:00Z", 21),
		rel("5.1.7", 517, "2025-05-05T00:00:00Z", 21),
		rel("5.1.0", 510, "2025-05-02T00:00:00Z", 21),
		rel("5.0.0", 500, "2025-03-01T00:00:00Z", 21),
	],
}

with_spec(patch) := json.patch(base, [{"op": "add", "path": "/policy/spec", "value": object.union(base.policy.spec, patch)}])

prepared(doc) := sluice.test.input(doc)

with_installed(app) := prepared(json.patch(base, [{"op": "replace", "path": "/device/installed", "value": app}]))

test_latest_published_release_is_the_target if {
	d := decision.decision with input as prepared(base)
	d.action == "install"
	d.target == 1 # 5.10.0 is not published yet at "at"
	d.reasons[0].code == "UPDATE_AVAILABLE"
}

test_no_policy if {
	d := decision.decision with input as prepared(object.remove(base, ["policy"]))
	d == {"action": "none", "reasons": [{"code": "NO_POLICY", "message": "No update policy applies to com.example.pos on this device."}]}
}

test_pinned_version if {
	d := decision.decision with input as prepared(with_spec({"target": {"version": "5.1.0"}}))
	d.target == 2
}

test_version_prefix_is_dotted if {
	# 5.10.0 is published by 1 July; the prefix 5.1 takes 5.1.7, latest takes 5.10.0
	later := json.patch(with_spec({"target": {"versionPrefix": "5.1"}}), [{"op": "replace", "path": "/at", "value": "2025-07-01T00:00:00Z"}])
	d := decision.decision with input as prepared(later)
	d.target == 1
	l := decision.decision with input as prepared(json.patch(base, [{"op": "replace", "path": "/at", "value": "2025-07-01T00:00:00Z"}]))
	l.target == 0
	p := decision.decision with input as prepared(with_spec({"target": {"versionPrefix": "5.1."}}))
	p.target == 1
}

test_min_sdk_is_checked_only_when_known if {
	# the device runs SDK 30: a release needing 31 is skipped for the next one
	needs31 := json.patch(base, [{"op": "replace", "path": "/releases/1/artifact/minSdk", "value": 31}])
	d := decision.decision with input as prepared(needs31)
	d.target == 2
	unknown := json.patch(needs31, [{"op": "replace", "path": "/device/sdk", "value": 0}])
	u := decision.decision with input as prepared(unknown)
	u.target == 1
}

test_sdk_too_old_names_the_release if {
	d := decision.decision with input as prepared(json.patch(base, [{"op": "replace", "path": "/device/sdk", "value": 19}]))
	d.reasons == [{"code": "SDK_TOO_OLD", "message": "Version 5.1.7 (517) needs Android SDK 21 or later; this device runs SDK 19."}]
}

test_strictly_higher_only if {
	d := decision.decision with input as with_installed({"versionName": "5.1.7", "versionCode": 517})
	d.reasons[0].code == "UP_TO_DATE"
}

test_rollout_boundary if {
	# bucket 4200: inside at 42.01%, outside at 42%
	decision.in_rollout with input as with_spec({"rollout": {"percent": 42.01}})
	not decision.in_rollout with input as with_spec({"rollout": {"percent": 42}})
	decision.in_rollout with input as base
}

test_effective_window_is_half_open if {
	d1 := decision.decision with input as prepared(with_spec({"effective": {"end": "2025-05-20T10:00:00Z"}}))
	d1.reasons[0].code == "OUTSIDE_EFFECTIVE_WINDOW"
	d2 := decision.decision with input as prepared(with_spec({"effective": {"start": "2025-05-20T10:00:00Z"}}))
	d2.action == "install"
}

test_postponement_starts_at_the_first_newer_release if {
	d := decision.decision with input as prepared(with_spec({"mode": "postponed", "postponeDays": 30}))
	d.action == "postponed"
	d.notBefore == time.parse_rfc3339_ns("2025-06-01T00:00:00Z") # 2 May + 30 days
}

test_postponement_starts_at_a_later_update if {
	updated := json.patch(with_spec({"mode": "postponed", "postponeDays": 30}), [{"op": "replace", "path": "/device/installed/updatedAt", "value": "2025-05-10T00:00:00Z"}])
	d := decision.decision with input as prepared(updated)
	d.notBefore == time.parse_rfc3339_ns("2025-06-09T00:00:00Z")
}

test_high_priority_has_no_constraints if {
	d := decision.decision with input as prepared(with_spec({"mode": "highPriority", "maintenanceWindow": {"start": "22:00", "end": "05:00"}}))
	d.constraints == null
	d.maintenanceWindow == null
}

test_constraint_overrides if {
	c := decision.install_constraints with input as with_spec({"constraints": {"charging": false}})
	c == {"unmeteredNetwork": true, "charging": false, "idle": true, "notForeground": true}
}

test_force_after_in_days_and_hours if {
	days := decision.decision with input as prepared(with_spec({"prompt": {"closable": true, "forceAfter": "7d"}}))
	days.prompt.forceAfter == time.parse_rfc3339_ns("2025-05-12T00:00:00Z") # 5.1.7 published 5 May
	hours := decision.decision with input as prepared(with_spec({"prompt": {"closable": true, "forceAfter": "36h"}}))
	hours.prompt.forceAfter == time.parse_rfc3339_ns("2025-05-06T12:00:00Z")
}

test_deny_rules_block_updates_only if {
	d := decision.decision with input as prepared(base) with data.sluice.rules.deny as {"frozen"}
	d.action == "none"
	d.reasons == [{"code": "DENIED_BY_RULE", "message": "The update to version 5.1.7 (517) is blocked by a fleet rule: frozen."}]
	u := decision.decision with input as with_installed({"versionName": "5.1.7", "versionCode": 517})
		with data.sluice.rules.deny as {"frozen"}
	u.reasons[0].code == "UP_TO_DATE"
}

test_english_lists if {
	decision.english_and([]) == ""
	decision.english_and(["a"]) == "a"
	decision.english_and(["a", "b", "c"]) == "a, b and c"
	decision.english_or(["ios", "android"]) == "ios or android"
}

test_dates if {
	decision.date(time.parse_rfc3339_ns("2025-07-31T00:00:00Z")) == "31 July 2025"
	decision.date(time.parse_rfc3339_ns("2025-07-31T09:05:00Z")) == "31 July 2025 09:05 UTC"
}

test_version_builtins if {
	sluice.version.satisfies(">=4.3.3, <=5.0.0", "5.0.0") == {"satisfied": true, "error": ""}
	sluice.version.satisfies(">=4.3.3", "abc") == {"satisfied": false, "error": "\"abc\" is not a version"}
	sluice.version.compare("1.10.0", "1.9") == {"result": 1, "error": ""}
	sluice.version.listed("5.0.0", ["4.0", "5.0"])
	not sluice.version.listed("5.0.1", ["4.0", "5.0"])
}
