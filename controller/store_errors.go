package controller

import (
	"errors"
	"fmt"
)

// Store errors, checked with errors.Is. The concrete errors are the typed
// ones below, which carry the data.
var (
	// ErrNotFound: no record, log entry or artifact by that name.
	ErrNotFound = errors.New("controller: not found")
	// ErrConflict: a compare-and-set write lost against another writer.
	ErrConflict = errors.New("controller: revision conflict")
	// ErrImmutable: a release already exists with different content.
	ErrImmutable = errors.New("controller: release is immutable")
	// ErrMalformed: a stored value cannot be decoded.
	ErrMalformed = errors.New("controller: malformed stored value")
	// ErrInvalid: a name, value or query is not acceptable.
	ErrInvalid = errors.New("controller: invalid input")
	// ErrDigestMismatch: artifact content does not match its SHA-256.
	ErrDigestMismatch = errors.New("controller: artifact digest mismatch")
)

// NotFoundError says which object does not exist.
type NotFoundError struct {
	// Kind is the kind of object, or KindDecision for a decision-log entry.
	Kind Kind
	Name string
	// Revision is set when a specific revision was asked for.
	Revision uint64
}

func (e *NotFoundError) Error() string {
	if e.Revision != 0 {
		return fmt.Sprintf("controller: %s %q revision %d not found (deleted, or older than the history the bucket keeps)", e.Kind, e.Name, e.Revision)
	}
	return fmt.Sprintf("controller: %s %q not found", e.Kind, e.Name)
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ConflictError is a compare-and-set write that found another revision
// than the one it expected.
type ConflictError struct {
	Kind Kind
	Name string
	// Expected is the revision the writer based its change on; 0 means it
	// expected the object not to exist.
	Expected uint64
	// Current is the object's revision when the write failed; 0 means it
	// does not exist (any more).
	Current uint64
	// Err is the JetStream error (wrapping jetstream.ErrKeyExists or
	// jetstream.ErrKeyRevisionMismatch).
	Err error
}

func (e *ConflictError) Error() string {
	switch {
	case e.Expected == 0:
		return fmt.Sprintf("controller: %s %q already exists at revision %d; it was to be created, so nothing was changed", e.Kind, e.Name, e.Current)
	case e.Current == 0:
		return fmt.Sprintf("controller: %s %q: expected revision %d, but it no longer exists; nothing was changed", e.Kind, e.Name, e.Expected)
	default:
		return fmt.Sprintf("controller: %s %q: expected revision %d, current revision is %d; someone else changed it, nothing was changed", e.Kind, e.Name, e.Expected, e.Current)
	}
}

// Unwrap returns ErrConflict and the JetStream error.
func (e *ConflictError) Unwrap() []error { return []error{ErrConflict, e.Err} }

// ImmutableError refuses to replace a release with different content.
type ImmutableError struct {
	App          string
	VersionCode  int64
	StoredSHA256 string
	GivenSHA256  string
}

func (e *ImmutableError) Error() string {
	return fmt.Sprintf("controller: release %s versionCode %d already exists with sha256 %s; releases are immutable, so sha256 %s is refused (publish a new versionCode)",
		e.App, e.VersionCode, e.StoredSHA256, e.GivenSHA256)
}

// Is makes errors.Is(err, ErrImmutable) true.
func (e *ImmutableError) Is(target error) bool { return target == ErrImmutable }

// MalformedError names a stored value that cannot be decoded, for instance
// one written to a bucket or stream by hand.
type MalformedError struct {
	// Bucket, Key and Revision locate a KV value.
	Bucket   string
	Key      string
	Revision uint64
	// Stream, Subject and Seq locate a log entry.
	Stream  string
	Subject string
	Seq     uint64
	Err     error
}

func (e *MalformedError) Error() string {
	if e.Stream != "" {
		return fmt.Sprintf("controller: stream %s message %d on %s is malformed: %v", e.Stream, e.Seq, e.Subject, e.Err)
	}
	return fmt.Sprintf("controller: bucket %s key %q revision %d holds a malformed value: %v", e.Bucket, e.Key, e.Revision, e.Err)
}

// Unwrap returns ErrMalformed and the decoding error.
func (e *MalformedError) Unwrap() []error { return []error{ErrMalformed, e.Err} }

// ValidationError names the field, the offending value and what is allowed.
type ValidationError struct {
	// Kind is what was being stored or asked for ("policy", "decision log
	// entry", "artifact").
	Kind    string
	Name    string
	Field   string
	Value   any
	Allowed string
}

func (e *ValidationError) Error() string {
	subject := e.Kind
	if e.Name != "" {
		subject = fmt.Sprintf("%s %q", e.Kind, e.Name)
	}
	return fmt.Sprintf("controller: %s: %s %s is not allowed; want %s", subject, e.Field, quoteValue(e.Value), e.Allowed)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func quoteValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

// DigestError is artifact content whose SHA-256 is not the one announced.
type DigestError struct {
	Want string
	Got  string
	Size int64
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("controller: artifact content of %d bytes has sha256 %s, want %s", e.Size, e.Got, e.Want)
}

// Is makes errors.Is(err, ErrDigestMismatch) true.
func (e *DigestError) Is(target error) bool { return target == ErrDigestMismatch }
