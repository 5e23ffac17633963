package sluice.rules

deny contains msg if {
	input.now.weekday in {"Saturday", "Sunday"}
	msg := "no updates at weekends"
}
