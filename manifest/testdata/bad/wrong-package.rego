package sluice.custom

deny contains "always"
