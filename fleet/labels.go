package fleet

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Limits of label keys and values, as in Kubernetes.
const (
	// MaxLabelNameLen is the longest name part of a label key and the
	// longest label value.
	MaxLabelNameLen = 63
	// MaxLabelPrefixLen is the longest DNS prefix of a label key.
	MaxLabelPrefixLen = 253
)

// ErrInvalidLabel is wrapped by every label validation error.
var ErrInvalidLabel = errors.New("fleet: invalid label")

// LabelError says why a label key or value is not allowed.
type LabelError struct {
	Key string
	// Value is the offending value when the key is fine and the value is
	// not.
	Value string
	// IsValue is true when Value, not Key, is wrong.
	IsValue bool
	Reason  string
}

func (e *LabelError) Error() string {
	if e.IsValue {
		return fmt.Sprintf("fleet: label %q: value %q %s; allowed: up to %d letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
			e.Key, e.Value, e.Reason, MaxLabelNameLen)
	}
	return fmt.Sprintf("fleet: label key %q %s; allowed: an optional DNS prefix and '/', then 1 to %d letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
		e.Key, e.Reason, MaxLabelNameLen)
}

func (e *LabelError) Unwrap() error { return ErrInvalidLabel }

// ValidateLabels checks every key and value of labels against the
// Kubernetes rules (see [ValidateLabelKey] and [ValidateLabelValue]). Keys
// are checked in sorted order so the reported error is stable.
func ValidateLabels(labels map[string]string) error {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := ValidateLabelKey(k); err != nil {
			return err
		}
		if err := ValidateLabelValue(k, labels[k]); err != nil {
			return err
		}
	}
	return nil
}

// ValidateLabelKey checks a label key: an optional DNS subdomain prefix
// (lowercase, at most 253 bytes) followed by '/', then a name of 1 to 63
// bytes of [A-Za-z0-9], with '-', '_' and '.' allowed inside.
func ValidateLabelKey(key string) error {
	if key == "" {
		return &LabelError{Key: key, Reason: "is empty"}
	}
	name := key
	if prefix, rest, ok := strings.Cut(key, "/"); ok {
		if why := checkDNSSubdomain(prefix); why != "" {
			return &LabelError{Key: key, Reason: "has a prefix that " + why}
		}
		name = rest
	}
	if name == "" {
		return &LabelError{Key: key, Reason: "has an empty name"}
	}
	if why := checkLabelName(name); why != "" {
		return &LabelError{Key: key, Reason: "has a name that " + why}
	}
	return nil
}

// ValidateLabelValue checks the value of the label named key: empty, or 1
// to 63 bytes of [A-Za-z0-9], with '-', '_' and '.' allowed inside.
func ValidateLabelValue(key, value string) error {
	if value == "" {
		return nil
	}
	if why := checkLabelName(value); why != "" {
		return &LabelError{Key: key, Value: value, IsValue: true, Reason: why}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// checkLabelName returns why s is not a valid label name or value, or "".
func checkLabelName(s string) string {
	if len(s) > MaxLabelNameLen {
		return fmt.Sprintf("is %d bytes long", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlnum(c):
		case c == '-' || c == '_' || c == '.':
			if i == 0 || i == len(s)-1 {
				return fmt.Sprintf("has %q at byte %d, where a letter or digit is needed", c, i)
			}
		default:
			return fmt.Sprintf("has %s at byte %d", quoteByte(s, i), i)
		}
	}
	return ""
}

// checkDNSSubdomain returns why s is not a lowercase RFC 1123 subdomain, or
// "".
func checkDNSSubdomain(s string) string {
	if s == "" {
		return "is empty"
	}
	if len(s) > MaxLabelPrefixLen {
		return fmt.Sprintf("is %d bytes long", len(s))
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return "has an empty DNS label"
		}
		if len(part) > 63 {
			return fmt.Sprintf("has a DNS label of %d bytes", len(part))
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			switch {
			case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			case c == '-':
				if i == 0 || i == len(part)-1 {
					return fmt.Sprintf("has a DNS label %q starting or ending with '-'", part)
				}
			default:
				return fmt.Sprintf("has %s; want lowercase letters, digits, '-' and '.'", quoteByte(part, i))
			}
		}
	}
	return ""
}

// quoteByte quotes the character starting at byte i of s, decoding it as
// UTF-8 when it is not ASCII so the message shows what the user typed.
func quoteByte(s string, i int) string {
	if s[i] < 0x80 {
		return fmt.Sprintf("%q", s[i])
	}
	for _, r := range s[i:] {
		return fmt.Sprintf("%q", r)
	}
	return fmt.Sprintf("%q", s[i])
}
