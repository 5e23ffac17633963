package download

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluice-mdm/sluice/protocol"
)

// validateArtifact checks a and returns its SHA-256 in lowercase hex, which
// keys the partial file.
func validateArtifact(a protocol.Artifact) (string, error) {
	if len(a.URLs) == 0 {
		return "", &ValidationError{Field: "artifact.urls", Value: "[]", Want: "at least one http or https URL"}
	}
	for i, raw := range a.URLs {
		if err := validateURL(raw); err != nil {
			return "", &ValidationError{Field: fmt.Sprintf("artifact.urls[%d]", i), Value: strconv.Quote(raw), Want: err.Error()}
		}
	}
	key, err := checksumKey(a.SHA256)
	if err != nil {
		return "", err
	}
	if a.Size <= 0 {
		return "", &ValidationError{Field: "artifact.size", Value: strconv.FormatInt(a.Size, 10), Want: "a positive number of bytes"}
	}
	return key, nil
}

// checksumKey validates a hex SHA-256 and returns it in lowercase.
func checksumKey(sum string) (string, error) {
	b, err := hex.DecodeString(sum)
	if err != nil || len(b) != 32 {
		return "", &ValidationError{Field: "artifact.sha256", Value: strconv.Quote(sum), Want: "64 hexadecimal characters"}
	}
	return strings.ToLower(sum), nil
}

func validateURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("an absolute http or https URL (%v)", err)
	}
	if u.Scheme == "" {
		return fmt.Errorf("an absolute http or https URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("an http or https URL, not scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("an http or https URL with a host")
	}
	return nil
}
