# An extension rule: no updates on a store's busiest day. Hamburg's tills are
# busiest on Saturdays (device-local time), so nothing installs or prompts
# there on a Saturday; everything else is untouched. Rules may only deny:
# each message becomes a DENIED_BY_RULE reason.
package sluice.rules

busiest_day := {"hamburg-02": "Saturday"}

deny contains msg if {
	day := busiest_day[input.device.labels.store]
	time.weekday([time.parse_rfc3339_ns(input.at), object.get(input.device, "timeZone", "UTC")]) == day
	msg := sprintf("%s is the busiest day of store %s", [day, input.device.labels.store])
}
