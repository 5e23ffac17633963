package android

import (
	"bufio"
	"strings"
)

// interactivity is what one dumpsys output says about the screen.
type interactivity int

const (
	unknownInteractive interactivity = iota
	interactive
	notInteractive
)

// parsePower reads "dumpsys power": mWakefulness on Android 5 and later,
// "Display Power: state=" or mScreenOn on older releases.
func parsePower(out []byte) interactivity {
	var display, screen interactivity
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "mWakefulness="):
			if strings.TrimPrefix(line, "mWakefulness=") == "Awake" {
				return interactive
			}
			return notInteractive
		case strings.HasPrefix(line, "Display Power: state="):
			display = onOff(strings.TrimPrefix(line, "Display Power: state="), "ON", "OFF")
		case strings.HasPrefix(line, "mScreenOn="):
			screen = onOff(strings.TrimPrefix(line, "mScreenOn="), "true", "false")
		}
	}
	if display != unknownInteractive {
		return display
	}
	return screen
}

// deviceIdle is what "dumpsys deviceidle" says.
type deviceIdle struct {
	deepIdle bool
	screen   interactivity
}

// parseDeviceIdle reads "dumpsys deviceidle": the deep doze state (mState)
// and, on releases that print it, mScreenOn.
func parseDeviceIdle(out []byte) deviceIdle {
	var d deviceIdle
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		for _, field := range strings.Fields(sc.Text()) {
			switch {
			case strings.HasPrefix(field, "mState="):
				state := strings.TrimPrefix(field, "mState=")
				d.deepIdle = state == "IDLE" || state == "IDLE_MAINTENANCE"
			case strings.HasPrefix(field, "mScreenOn="):
				d.screen = onOff(strings.TrimPrefix(field, "mScreenOn="), "true", "false")
			}
		}
	}
	return d
}

// idle combines both: see the package documentation.
func idle(power interactivity, d deviceIdle) bool {
	if d.deepIdle {
		return true
	}
	if power != unknownInteractive {
		return power == notInteractive
	}
	return d.screen == notInteractive
}

func onOff(v, on, off string) interactivity {
	switch v {
	case on:
		return interactive
	case off:
		return notInteractive
	}
	return unknownInteractive
}
