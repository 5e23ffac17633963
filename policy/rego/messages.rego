# Device conditions, prompts and the sentences that explain them. Reasons are
# read aloud by support staff to merchants: whole sentences, with versions
# and dates.
package sluice.decision

# Default mode's conditions: every one holds unless the policy lifts it.
# highPriority installs at once, without conditions or window.
install_constraints := null if {
	mode == "highPriority"
} else := {
	"unmeteredNetwork": object.get(spec, ["constraints", "unmeteredNetwork"], true),
	"charging": object.get(spec, ["constraints", "charging"], true),
	"idle": object.get(spec, ["constraints", "idle"], true),
	"notForeground": object.get(spec, ["constraints", "notForeground"], true),
}

install_window := null if {
	mode == "highPriority"
} else := object.get(spec, "maintenanceWindow", null)

# "it installs when the device is on Wi-Fi, charging and idle and the app is
# not in use, between 22:00 and 05:00 device time"
install_when := "it installs as soon as possible" if {
	count(install_conditions) == 0
	install_window == null
} else := concat("", ["it installs when ", english_and(install_conditions), ", ", window_phrase]) if {
	count(install_conditions) > 0
	install_window != null
} else := concat("", ["it installs when ", english_and(install_conditions)]) if {
	count(install_conditions) > 0
} else := concat("", ["it installs ", window_phrase])

install_conditions := array.concat(
	[concat("", ["the device is ", english_and(device_conditions)]) | count(device_conditions) > 0],
	["the app is not in use" | install_constraints.notForeground],
)

device_conditions := [phrase |
	some [key, phrase] in [["unmeteredNetwork", "on Wi-Fi"], ["charging", "charging"], ["idle", "idle"]]
	install_constraints[key]
]

window_phrase := sprintf("between %s and %s device time", [install_window.start, install_window.end])

# Prompt settings, with the defaults of the UpdatePolicy.
daily_frequency := object.get(spec, ["prompt", "dailyFrequency"], 1)

prompt_text := object.get(spec, ["prompt", "text"], "")

prompt_button := object.get(spec, ["prompt", "button"], "updateApp")

prompting if {
	installed
	spec.prompt
}

# When a closable prompt turns into a forced one: the target's publication
# plus prompt.forceAfter ("72h" or "7d"); null when the policy sets none.
force_after := t if {
	t := published_ns[target_index] + duration_ns(spec.prompt.forceAfter)
} else := null

forced_now if spec.force

forced_now if {
	force_after != null
	at >= force_after
}

duration_ns(s) := to_number(trim_suffix(s, "d")) * day_ns if {
	endswith(s, "d")
} else := time.parse_duration_ns(s)

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
