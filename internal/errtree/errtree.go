// Package errtree finds errors of one type in a tree of wrapped and joined
// errors, where errors.As stops at the first. It is a leaf: standard
// library only, for any package of Sluice.
package errtree

// Collect returns, in depth-first order, every error of type T inside err,
// following both Unwrap() error and Unwrap() []error (errors.Join). An
// error of type T is not searched further.
func Collect[T error](err error) []T {
	var out []T
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if t, ok := err.(T); ok {
			out = append(out, t)
			return
		}
		switch e := err.(type) {
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}
