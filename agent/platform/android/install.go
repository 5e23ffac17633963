package android

import (
	"regexp"
	"strings"

	"github.com/sluice-mdm/sluice/agent/platform"
)

// failureRe matches pm's answer "Failure [CODE]" or "Failure [CODE: message]"
// for any INSTALL_FAILED_* or INSTALL_PARSE_FAILED_* code.
var failureRe = regexp.MustCompile(`Failure \[(INSTALL_[A-Z_]+)(?::\s*([^\n]*))?\]`)

// notEnoughSpace are messages Android prints, as an exception rather than a
// Failure line, when a session cannot be created for lack of space.
var notEnoughSpace = []string{
	"not enough space",
	"Not enough space",
}

// parseInstall reads the output of "pm install": nil for "Success", an
// *InstallError otherwise.
func parseInstall(out []byte) error {
	text := string(out)
	if m := failureRe.FindStringSubmatch(text); m != nil {
		return &platform.InstallError{Code: m[1], Message: strings.TrimSpace(m[2])}
	}
	for _, s := range notEnoughSpace {
		if i := strings.Index(text, s); i >= 0 {
			return &platform.InstallError{Code: platform.CodeInsufficientStorage, Message: lineAt(text, i)}
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "Success" {
			return nil
		}
	}
	return &platform.InstallError{Code: platform.CodeInternalError, Message: firstLine(text)}
}

func lineAt(text string, i int) string {
	start := strings.LastIndexByte(text[:i], '\n') + 1
	end := strings.IndexByte(text[i:], '\n')
	if end < 0 {
		return strings.TrimSpace(text[start:])
	}
	return strings.TrimSpace(text[start : i+end])
}

func firstLine(text string) string {
	text = strings.TrimSpace(text)
	if text == "" {
		return "pm install printed nothing"
	}
	line, _, _ := strings.Cut(text, "\n")
	return strings.TrimSpace(line)
}
