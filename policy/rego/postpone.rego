# Postponed mode: no automatic update for postponeDays (90 unless set) after
# the app becomes out of date on the device.
#
# The clock starts at the first release newer than the installed version
# that was published after the device last updated the app (installed.
# updatedAt, or device.enrolledAt when the update time is unknown). When
# every newer release is older than that moment (the device was already out
# of date when it updated or enrolled), the clock starts at that moment.
# When neither time is known, it starts at the first newer release. Later
# releases never restart a running period; once the device updates,
# updatedAt moves and the next release starts a new period.
package sluice.decision

# Candidates strictly newer than the installed version.
newer := [i | some i in candidates; input.releases[i].versionCode > installed.versionCode]

# When the device last changed the app, as far as the controller knows.
reference_ns := time.parse_rfc3339_ns(installed.updatedAt) if {
	installed.updatedAt
} else := time.parse_rfc3339_ns(input.device.enrolledAt) if {
	input.device.enrolledAt
}

period_start := min(after) if {
	after := [published_ns[i] | some i in newer; published_ns[i] > reference_ns]
	count(after) > 0
} else := t if {
	count(newer) > 0
	t := reference_ns
} else := min([published_ns[i] | some i in newer]) if {
	count(newer) > 0
}

period_end := period_start + postpone_days * day_ns

postponing if {
	mode == "postponed"
	installed
	at < period_end
}

# In postponed mode an update that follows a period never starts before the
# period's end.
not_before := t if {
	mode == "postponed"
	t := period_end
} else := null
