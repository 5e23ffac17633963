package android

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrUnrecognized means a command's output did not contain what the parser
// looks for; the error names the command and what was missing.
var ErrUnrecognized = errors.New("android: output not recognized")

// batteryStatusCharging is BatteryManager.BATTERY_STATUS_CHARGING.
const batteryStatusCharging = 2

// parseCharging reads "dumpsys battery": charging when any power source is
// online or the status is BATTERY_STATUS_CHARGING.
func parseCharging(out []byte) (bool, error) {
	var sawPower, sawStatus, charging bool
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch key {
		case "AC powered", "USB powered", "Wireless powered", "Dock powered":
			sawPower = true
			if value == "true" {
				charging = true
			}
		case "status":
			n, err := strconv.Atoi(value)
			if err != nil {
				return false, fmt.Errorf("%w: dumpsys battery: status %q is not a number", ErrUnrecognized, value)
			}
			sawStatus = true
			if n == batteryStatusCharging {
				charging = true
			}
		}
	}
	if !sawPower && !sawStatus {
		return false, fmt.Errorf("%w: dumpsys battery: no \"AC powered\", \"USB powered\" or \"status\" line", ErrUnrecognized)
	}
	return charging, nil
}
