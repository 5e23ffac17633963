package errtree

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type fieldErr struct{ path string }

func (e *fieldErr) Error() string { return e.path }

func TestCollect(t *testing.T) {
	a, b, c := &fieldErr{"a"}, &fieldErr{"b"}, &fieldErr{"c"}
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"nil", nil, nil},
		{"none", errors.New("plain"), nil},
		{"itself", a, []string{"a"}},
		{"wrapped", fmt.Errorf("load: %w", a), []string{"a"}},
		{"joined, in order", errors.Join(a, errors.New("x"), b), []string{"a", "b"}},
		{"joined inside wrapped inside joined", errors.Join(fmt.Errorf("f: %w", errors.Join(a, b)), c), []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range Collect[*fieldErr](tt.err) {
				got = append(got, e.path)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Collect (-want +got):\n%s", diff)
			}
		})
	}
}
