package apk

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrMismatch is what a *CheckError unwraps to when the file is a valid APK
// but not the one expected (hash, size, package, version, signer, minSdk).
var ErrMismatch = errors.New("apk: file is not the expected APK")

// Check codes, the reason codes an agent reports when it refuses a file.
const (
	CodeHashMismatch    = "HASH_MISMATCH"
	CodeSizeMismatch    = "SIZE_MISMATCH"
	CodePackageMismatch = "PACKAGE_MISMATCH"
	CodeVersionMismatch = "VERSION_MISMATCH"
	CodeSignerMismatch  = "SIGNER_MISMATCH"
	CodeBadSignature    = "BAD_SIGNATURE"
	CodeMinSDKTooHigh   = "MIN_SDK_TOO_HIGH"
	CodeMalformedAPK    = "MALFORMED_APK"
)

// Expect is what a directive says the file must be. A zero field is not
// checked, except SDK: 0 verifies the signature for the APK's own minSdk
// and skips the minSdk check.
type Expect struct {
	Package     string
	VersionCode int64
	// SHA256 is compared without regard to case.
	SHA256 string
	Size   int64
	// SignerSHA256 must equal the APK's signer set; order, case and ':'
	// separators do not matter.
	SignerSHA256 []string
	// SDK is the device's API level.
	SDK int
}

// CheckError says how a file differs from what was expected: Code is one
// of the Code* constants, Field the checked field ("sha256", "size",
// "package", "versionCode", "signerSha256", "signature", "minSdk", "file"),
// Want and Got the wanted and the found value.
type CheckError struct {
	Code, Field, Want, Got string
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("apk: %s: %s: want %s, found %s", e.Code, e.Field, e.Want, e.Got)
}

// Unwrap returns ErrMalformed for MALFORMED_APK, ErrBadSignature for
// BAD_SIGNATURE and ErrMismatch for every other code.
func (e *CheckError) Unwrap() error {
	switch e.Code {
	case CodeMalformedAPK:
		return ErrMalformed
	case CodeBadSignature:
		return ErrBadSignature
	default:
		return ErrMismatch
	}
}

// Check inspects path as a device with API level want.SDK would and
// compares it with want. The first difference, in the order size, hash,
// malformed file, package, versionCode, minSdk, signature, signer, is
// returned as a *CheckError; other errors (the file cannot be read, a
// negative SDK) are returned as they are. The Info is nil whenever the
// error is not.
func Check(path string, want Expect) (*Info, error) {
	info, err := inspect(path, want.SDK, true)
	if info == nil {
		return nil, err
	}
	if cerr := compare(info, err, want); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		// Every inspection failure maps to a code above; this is a guard.
		return nil, err
	}
	return info, nil
}

// compare returns the first mismatch between the inspected file (and the
// inspection error, if any) and want.
func compare(info *Info, inspectErr error, want Expect) *CheckError {
	if want.Size > 0 && info.Size != want.Size {
		return &CheckError{Code: CodeSizeMismatch, Field: "size", Want: strconv.FormatInt(want.Size, 10) + " bytes", Got: strconv.FormatInt(info.Size, 10) + " bytes"}
	}
	if want.SHA256 != "" && !strings.EqualFold(strings.TrimSpace(want.SHA256), info.SHA256) {
		return &CheckError{Code: CodeHashMismatch, Field: "sha256", Want: strings.ToLower(want.SHA256), Got: info.SHA256}
	}
	var fe *failure
	if inspectErr != nil && (!errors.As(inspectErr, &fe) || errors.Is(fe.kind, ErrMalformed)) {
		return &CheckError{Code: CodeMalformedAPK, Field: "file", Want: "a valid APK", Got: reasonOf(inspectErr)}
	}
	if want.Package != "" && info.Package != want.Package {
		return &CheckError{Code: CodePackageMismatch, Field: "package", Want: want.Package, Got: info.Package}
	}
	if want.VersionCode != 0 && info.VersionCode != want.VersionCode {
		return &CheckError{Code: CodeVersionMismatch, Field: "versionCode", Want: strconv.FormatInt(want.VersionCode, 10), Got: strconv.FormatInt(info.VersionCode, 10)}
	}
	if want.SDK > 0 && info.MinSDK > want.SDK {
		return &CheckError{Code: CodeMinSDKTooHigh, Field: "minSdk", Want: "at most " + strconv.Itoa(want.SDK) + " (the device's API level)", Got: strconv.Itoa(info.MinSDK)}
	}
	if inspectErr != nil {
		sdk := want.SDK
		if sdk == 0 {
			sdk = info.MinSDK
		}
		return &CheckError{Code: CodeBadSignature, Field: "signature", Want: fmt.Sprintf("a signature valid on API level %d", sdk), Got: reasonOf(inspectErr)}
	}
	if len(want.SignerSHA256) > 0 {
		ws := normalizeSigners(want.SignerSHA256)
		if !slices.Equal(ws, info.SignerSHA256) {
			return &CheckError{Code: CodeSignerMismatch, Field: "signerSha256", Want: strings.Join(ws, ","), Got: strings.Join(info.SignerSHA256, ",")}
		}
	}
	return nil
}

// reasonOf is the one-sentence reason of an inspection error.
func reasonOf(err error) string {
	var fe *failure
	if errors.As(err, &fe) {
		return fe.reason
	}
	return err.Error()
}

// normalizeSigners lowercases fingerprints, drops ':' separators and
// spaces, and sorts and deduplicates them, to compare with Info.SignerSHA256.
func normalizeSigners(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(s))
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
