package android

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	activeNetworkRe = regexp.MustCompile(`(?m)^\s*Active default network:\s*(\S+)`)
	networkIDRe     = regexp.MustCompile(`network\{(\d+)\}`)
	capsRe          = regexp.MustCompile(`Transports:\s*([A-Z_|]+)(?:\s+Capabilities:\s*([A-Z_&]+))?`)
)

// parseUnmetered reads "dumpsys connectivity": whether the active default
// network is unmetered. See the package documentation for the rule.
func parseUnmetered(out []byte) (bool, error) {
	text := string(out)
	m := activeNetworkRe.FindStringSubmatch(text)
	if m == nil {
		return false, fmt.Errorf("%w: dumpsys connectivity: no \"Active default network\" line", ErrUnrecognized)
	}
	active := m[1]
	if active == "none" {
		return false, nil
	}
	// Each network is one "NetworkAgentInfo" record; older releases may wrap
	// it over several lines, so split on the record name rather than lines.
	_, networks, ok := strings.Cut(text, "Current Networks:")
	if !ok {
		return false, fmt.Errorf("%w: dumpsys connectivity: active network %s but no \"Current Networks\" section", ErrUnrecognized, active)
	}
	for _, rec := range strings.Split(networks, "NetworkAgentInfo")[1:] {
		id := networkIDRe.FindStringSubmatch(rec)
		if id == nil || id[1] != active {
			continue
		}
		caps := capsRe.FindStringSubmatch(rec)
		if caps == nil {
			return false, fmt.Errorf("%w: dumpsys connectivity: network %s lists no transports", ErrUnrecognized, active)
		}
		return hasFlag(caps[2], "&", "NOT_METERED") ||
			hasFlag(caps[1], "|", "WIFI") || hasFlag(caps[1], "|", "ETHERNET"), nil
	}
	return false, fmt.Errorf("%w: dumpsys connectivity: active default network %s is not listed under Current Networks", ErrUnrecognized, active)
}

func hasFlag(list, sep, flag string) bool {
	for _, f := range strings.Split(list, sep) {
		if f == flag {
			return true
		}
	}
	return false
}
