package download

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Failure codes carried by [Error.Code]. HTTP answers that end a download
// carry "HTTP_<status>", see [HTTPCode].
const (
	CodeNetworkError        = "NETWORK_ERROR"
	CodeHashMismatch        = "HASH_MISMATCH"
	CodeSizeMismatch        = "SIZE_MISMATCH"
	CodeInsufficientStorage = "INSUFFICIENT_STORAGE"
	CodeCancelled           = "CANCELLED"
)

// HTTPCode returns the failure code of an HTTP status, such as "HTTP_404".
func HTTPCode(status int) string { return "HTTP_" + strconv.Itoa(status) }

// Sentinel errors, checked with errors.Is on the error returned by
// [Downloader.Fetch] (they are wrapped inside [Error.Err]).
var (
	ErrInvalidArtifact     = errors.New("download: invalid artifact")
	ErrHashMismatch        = errors.New("download: sha256 does not match")
	ErrSizeMismatch        = errors.New("download: size does not match")
	ErrInsufficientStorage = errors.New("download: not enough free storage")
	ErrIdleTimeout         = errors.New("download: no data received within the idle timeout")
	ErrShortBody           = errors.New("download: server closed the body early")
	ErrBadContentRange     = errors.New("download: bad Content-Range")
	ErrDiscarded           = errors.New("download: discarded")
)

// Error is a failed download. Code is one of the Code constants or an
// [HTTPCode]; URL is the URL that failed last (empty when no request was
// made); Err is the cause.
type Error struct {
	Code string
	URL  string
	Err  error
}

func (e *Error) Error() string {
	cause := "unknown cause"
	if e.Err != nil {
		cause = strings.TrimPrefix(e.Err.Error(), "download: ")
	}
	if e.URL == "" {
		return fmt.Sprintf("download: %s: %s", e.Code, cause)
	}
	return fmt.Sprintf("download: %s from %s: %s", e.Code, e.URL, cause)
}

func (e *Error) Unwrap() error { return e.Err }

// ValidationError says which field of an artifact (or argument) is wrong,
// the offending value and what is allowed. It matches [ErrInvalidArtifact]
// with errors.Is.
type ValidationError struct {
	Field string // e.g. "artifact.urls[1]"
	Value string // the offending value, quoted as received
	Want  string // what is allowed
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("download: %s: %s is not valid; want %s", e.Field, e.Value, e.Want)
}

// Is reports whether target is [ErrInvalidArtifact].
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidArtifact }
