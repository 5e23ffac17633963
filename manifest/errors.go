package manifest

import (
	"errors"
	"strconv"
	"strings"

	"github.com/sluice-mdm/sluice/internal/errtree"
	"github.com/sluice-mdm/sluice/policy"
)

// ErrInvalid is wrapped by every [*Error]: the manifests were read but are
// not acceptable.
var ErrInvalid = errors.New("manifest: invalid manifest")

// Error is one problem of a load, located in its file and document and
// attributed to one object where that is known. Err is usually a
// *policy.FieldError whose Path starts at the document root
// ("spec.mode", "metadata.name"), or the YAML parser's error.
type Error struct {
	Source Source
	// Kind and Name identify the object, when the document got that far.
	Kind string
	Name string
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Source.File != "" {
		b.WriteString(e.Source.String())
		b.WriteString(": ")
	}
	if e.Kind != "" {
		b.WriteString(e.Kind)
		if e.Name != "" {
			b.WriteByte(' ')
			b.WriteString(strconv.Quote(e.Name))
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns ErrInvalid and the underlying error, so that both
// errors.Is(err, ErrInvalid) and errors.As(err, &fieldErr) work.
func (e *Error) Unwrap() []error { return []error{ErrInvalid, e.Err} }

// Errors lists the *Error values inside err (as returned by [Parse],
// [LoadFiles] and [Set.Validate]), in order.
func Errors(err error) []*Error {
	return errtree.Collect[*Error](err)
}

// report collects the errors of one object (or document).
type report struct {
	src  Source
	kind string
	name string
	errs *[]error
}

func (r *report) add(err error) {
	*r.errs = append(*r.errs, &Error{Source: r.src, Kind: r.kind, Name: r.name, Err: err})
}

// field records a field error; see policy.FieldError for the wording.
func (r *report) field(path, value, problem, allowed string) {
	r.add(&policy.FieldError{Path: path, Value: value, Problem: problem, Allowed: allowed})
}

func joinPath(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case path[0] == '[':
		return prefix + path
	}
	return prefix + "." + path
}
