package sluice.rules

deny contains msg if {
	msg := 
}
