package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors, matched by errors.Is against an [*APIError] or an
// [*UnavailableError].
var (
	ErrInvalid      = errors.New("client: request refused as invalid")
	ErrUnauthorized = errors.New("client: no or unknown token")
	ErrForbidden    = errors.New("client: role missing")
	ErrNotFound     = errors.New("client: not found")
	ErrConflict     = errors.New("client: conflict")
	ErrRateLimited  = errors.New("client: rate limited")
	ErrNotReady     = errors.New("client: controller not ready")
	ErrUnavailable  = errors.New("client: controller unreachable")
)

// APIError is an answer of the controller other than success.
type APIError struct {
	// Method and Path are the request's.
	Method string
	Path   string
	// Status is the HTTP status code.
	Status int
	// Message is the server's one sentence; Errors holds one line per
	// problem when there are several (for instance manifest validation).
	Message string
	Errors  []string
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
}

// Error is the server's sentence followed by its problem lines, one per
// line, indented.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	for _, line := range e.Errors {
		if line == e.Message {
			continue
		}
		b.WriteString("\n  ")
		b.WriteString(line)
	}
	return b.String()
}

// Is matches the sentinel of the error's status class.
func (e *APIError) Is(target error) bool {
	switch e.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return target == ErrInvalid
	case http.StatusUnauthorized:
		return target == ErrUnauthorized
	case http.StatusForbidden:
		return target == ErrForbidden
	case http.StatusNotFound:
		return target == ErrNotFound
	case http.StatusConflict:
		return target == ErrConflict
	case http.StatusTooManyRequests:
		return target == ErrRateLimited
	case http.StatusServiceUnavailable:
		return target == ErrNotReady
	}
	return false
}

// UnavailableError says the controller could not be reached, or did not
// answer within the time allowed.
type UnavailableError struct {
	// Server is the base URL tried.
	Server string
	// Timeout is set when the controller was reached (or tried) but did not
	// answer in time.
	Timeout bool
	Err     error
}

func (e *UnavailableError) Error() string {
	if e.Timeout {
		return fmt.Sprintf("client: the controller at %s did not answer in time: %v", e.Server, e.Err)
	}
	return fmt.Sprintf("client: cannot reach the controller at %s: %v", e.Server, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// ConfigError refuses a [Config] field: it names the field, the value
// (never a token's secret) and what is allowed.
type ConfigError struct {
	Field   string
	Value   string
	Allowed string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("client: %s %q is not allowed; want %s", e.Field, e.Value, e.Allowed)
}
