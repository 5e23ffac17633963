package cli

import (
	"errors"
	"fmt"
)

// Exit codes of both commands. Scripts may rely on them.
const (
	ExitOK          = 0 // success
	ExitError       = 1 // any failure not listed below
	ExitUsage       = 2 // bad flags or arguments
	ExitInvalid     = 3 // input refused: a malformed manifest, device file, APK or value
	ExitNotFound    = 4 // the named object does not exist
	ExitConflict    = 5 // someone else changed the object first; fetch and retry
	ExitForbidden   = 6 // the token is missing, unknown, or lacks the role
	ExitUnavailable = 7 // the controller or NATS could not be reached
	ExitUnexpected  = 8 // a run (such as the demo) ended in a state it did not expect
)

// ExitCodeError carries an exit code with an error.
type ExitCodeError struct {
	Code int
	Err  error
}

func (e *ExitCodeError) Error() string { return e.Err.Error() }
func (e *ExitCodeError) Unwrap() error { return e.Err }

// WithCode wraps err so that the command exits with code.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitCodeError{Code: code, Err: err}
}

// Errorf is WithCode with a formatted error.
func Errorf(code int, format string, args ...any) error {
	return WithCode(code, fmt.Errorf(format, args...))
}

// Code returns the exit code for err: ExitOK for nil, the code of the
// innermost ExitCodeError, or ExitError.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var ce *ExitCodeError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ExitError
}
