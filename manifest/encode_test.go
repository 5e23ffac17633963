package manifest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ignoreSource compares sets by content: where objects were read from
// changes in a round trip.
var ignoreSource = cmpopts.IgnoreTypes(Source{})

func TestMarshalGolden(t *testing.T) {
	s, err := LoadFiles(filepath.Join("testdata", "good"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Format{YAML, JSON} {
		t.Run(string(f), func(t *testing.T) {
			got, err := Marshal(s, f)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			golden := filepath.Join("testdata", "good.golden."+string(f))
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Marshal(%s) mismatch (-want +got):\n%s", f, diff)
			}
			back, err := Parse(golden, got)
			if err != nil {
				t.Fatalf("Parse(Marshal()): %v", err)
			}
			if diff := cmp.Diff(s, back, ignoreSource); diff != "" {
				t.Errorf("round trip mismatch (-loaded +reparsed):\n%s", diff)
			}
		})
	}
}

func TestMarshalSingleJSONObjectIsPlainJSON(t *testing.T) {
	s := mustParse(t, "g.yaml", groupDoc)
	got, err := Marshal(s, JSON)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "apiVersion": "sluice.dev/v1",
  "kind": "DeviceGroup",
  "metadata": {
    "name": "berlin"
  },
  "spec": {
    "selector": "store=berlin-01"
  }
}
`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("Marshal mismatch (-want +got):\n%s", diff)
	}
}

func TestEncodeUnknownFormat(t *testing.T) {
	var b bytes.Buffer
	err := Encode(&b, &Set{}, "toml")
	want := `manifest: format "toml" is not one of yaml, json`
	if err == nil || err.Error() != want {
		t.Errorf("Encode error = %v, want %q", err, want)
	}
}

func TestRoundTripTrickyValues(t *testing.T) {
	// Strings that look like other YAML types, multi-line text with a
	// "---" line, and unusual characters survive a YAML round trip.
	data := `apiVersion: sluice.dev/v1
kind: UpdatePolicy
metadata:
  name: pos-stable
  labels: {"true": "null", "no": "0x1F"}
  annotations: {example.com/note: "yes", example.com/empty: "", example.com/tilde: "~",
    example.com/long: "  two  spaces  between  words  of  a  long  value  that  goes  past  the  eighty  column  line  width  "}
spec:
  app: com.example.pos
  channels: ["true", "null", "1e3", "0x1F", "010", "-1"]
  effective: {start: "2025-05-02T09:00:00.123456789+02:00", end: 2026-01-01}
  prompt:
    text: "line one\n---\n  indented: value # not a comment\n\ttab and \"quotes\" \u00e9\u2028"
---
apiVersion: sluice.dev/v1
kind: Rule
metadata: {name: r}
spec:
  module: |
    package sluice.rules

    # ---
    deny contains "x" if false
`
	s, err := Parse("tricky.yaml", []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for _, f := range []Format{YAML, JSON} {
		out, err := Marshal(s, f)
		if err != nil {
			t.Fatalf("Marshal(%s): %v", f, err)
		}
		back, err := Parse("out", out)
		if err != nil {
			t.Fatalf("Parse(Marshal(%s)): %v\n%s", f, err, out)
		}
		if diff := cmp.Diff(s, back, ignoreSource); diff != "" {
			t.Errorf("%s round trip mismatch (-want +got):\n%s\n%s", f, diff, out)
		}
	}
	if !strings.Contains(s.Policies[0].Spec.Prompt.Text, "\n---\n") {
		t.Errorf("prompt text lost its --- line: %q", s.Policies[0].Spec.Prompt.Text)
	}
}
