package fleet

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateLabels(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name   string
		labels map[string]string
		want   *LabelError // nil: valid
	}{
		{name: "nil", labels: nil},
		{name: "typical", labels: map[string]string{"store": "berlin-01", "model": "P2", "sluice.dev/ring": "canary", "beta": ""}},
		{name: "63 bytes", labels: map[string]string{strings.Repeat("k", 63): strings.Repeat("v", 63)}},
		{name: "253-byte prefix", labels: map[string]string{strings.Repeat(strings.Repeat("p", 62)+".", 4) + "q/a": "b"}},
		{name: "empty key", labels: map[string]string{"": "x"}, want: &LabelError{Key: "", Reason: "is empty"}},
		{name: "key too long", labels: map[string]string{long: "x"}, want: &LabelError{Key: long, Reason: "has a name that is 64 bytes long"}},
		{name: "key with space", labels: map[string]string{"my store": "x"}, want: &LabelError{Key: "my store", Reason: "has a name that has ' ' at byte 2"}},
		{name: "key ends with underscore", labels: map[string]string{"store_": "x"}, want: &LabelError{Key: "store_", Reason: "has a name that has '_' at byte 5, where a letter or digit is needed"}},
		{name: "prefix too long", labels: map[string]string{strings.Repeat("p", 254) + "/a": "b"}, want: &LabelError{Key: strings.Repeat("p", 254) + "/a", Reason: "has a prefix that is 254 bytes long"}},
		{name: "prefix dns label too long", labels: map[string]string{strings.Repeat("p", 64) + ".com/a": "b"}, want: &LabelError{Key: strings.Repeat("p", 64) + ".com/a", Reason: "has a prefix that has a DNS label of 64 bytes"}},
		{name: "prefix empty dns label", labels: map[string]string{"example..com/a": "b"}, want: &LabelError{Key: "example..com/a", Reason: "has a prefix that has an empty DNS label"}},
		{name: "prefix dash at end", labels: map[string]string{"example-.com/a": "b"}, want: &LabelError{Key: "example-.com/a", Reason: `has a prefix that has a DNS label "example-" starting or ending with '-'`}},
		{name: "prefix underscore", labels: map[string]string{"ex_ample.com/a": "b"}, want: &LabelError{Key: "ex_ample.com/a", Reason: "has a prefix that has '_'; want lowercase letters, digits, '-' and '.'"}},
		{name: "value too long", labels: map[string]string{"a": long}, want: &LabelError{Key: "a", Value: long, IsValue: true, Reason: "is 64 bytes long"}},
		{name: "value with slash", labels: map[string]string{"a": "x/y"}, want: &LabelError{Key: "a", Value: "x/y", IsValue: true, Reason: "has '/' at byte 1"}},
		{name: "value starts with dot", labels: map[string]string{"a": ".x"}, want: &LabelError{Key: "a", Value: ".x", IsValue: true, Reason: "has '.' at byte 0, where a letter or digit is needed"}},
		{name: "value unicode", labels: map[string]string{"city": "köln"}, want: &LabelError{Key: "city", Value: "köln", IsValue: true, Reason: "has 'ö' at byte 1"}},
		{name: "first bad key in sorted order", labels: map[string]string{"b b": "x", "a a": "x"}, want: &LabelError{Key: "a a", Reason: "has a name that has ' ' at byte 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateLabels(tt.labels)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ValidateLabels: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidLabel) {
				t.Fatalf("error %v does not wrap ErrInvalidLabel", err)
			}
			var le *LabelError
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *LabelError", err)
			}
			if diff := cmp.Diff(tt.want, le); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLabelErrorMessage(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{
			name:   "key",
			labels: map[string]string{"my store": "x"},
			want:   `fleet: label key "my store" has a name that has ' ' at byte 2; allowed: an optional DNS prefix and '/', then 1 to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
		},
		{
			name:   "value",
			labels: map[string]string{"store": "berlin 01"},
			want:   `fleet: label "store": value "berlin 01" has ' ' at byte 6; allowed: up to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateLabels(tt.labels)
			if err == nil {
				t.Fatal("ValidateLabels accepted bad labels")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}
