# Postponed mode: no automatic update for postponeDays (90 unless set) after
# the app becomes out of date on the device.
#
# The app becomes out of date when a release newer than the installed
# version is available and the device has not updated since: at the first
# newer release's publication, or at the device's last update of the app
# (installed.updatedAt; device.enrolledAt when the update time is unknown)
# if that came later, i.e. the device was already out of date when it
# updated or enrolled. With neither time known, the first newer release
# starts the clock. Later releases never restart a running period (only the
# first newer release counts); once the device updates, updatedAt moves past
# the releases it skipped and the next release starts a new period.
package sluice.decision

# When the device last changed the app, as far as the controller knows.
reference_ns := input.facts.updatedAt if {
	input.facts.updatedAt
} else := input.facts.enrolledAt if {
	input.facts.enrolledAt
}

period_start := max([first_newer_ns, reference_ns]) if {
	reference_ns
} else := first_newer_ns

# The earliest publication among the candidates newer than the installed
# version.
first_newer_ns := min([input.facts.published[i] | some i in input.facts.newer])

period_end := period_start + input.facts.postponeDays * day_ns

# In postponed mode an update that follows a period never starts before the
# period's end.
not_before := t if {
	input.facts.mode == "postponed"
	t := period_end
} else := null
