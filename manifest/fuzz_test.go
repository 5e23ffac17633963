package manifest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse feeds the loader arbitrary bytes. It must never panic, and
// whatever it accepts must survive a round trip: marshalled as YAML or as
// JSON and parsed again, it is the same Set.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				continue // a directory
			}
			f.Add(filepath.Base(file), data)
		}
	}
	f.Add("p.yaml", []byte(groupDoc+"---\n"+policyWithMode("default")))
	f.Add("a.json", []byte(`{"apiVersion":"sluice.dev/v1","kind":"Assignment","metadata":{"name":"a"},"spec":{"policy":"p","groups":["g"],"priority":-3}}`))
	f.Add("alias.yaml", []byte("a: &a [*a]\n"))

	f.Fuzz(func(t *testing.T, name string, data []byte) {
		s, err := Parse(name, data)
		if err != nil {
			if s != nil {
				t.Fatalf("Parse returned a Set with an error: %v", err)
			}
			return
		}
		_ = s.Validate() // must not panic either
		for _, format := range []Format{YAML, JSON} {
			out, err := Marshal(s, format)
			if err != nil {
				t.Fatalf("Marshal(%s) of an accepted set: %v", format, err)
			}
			back, err := Parse("roundtrip", out)
			if err != nil {
				t.Fatalf("Parse(Marshal(%s)): %v\ninput:\n%s\noutput:\n%s", format, err, data, out)
			}
			if diff := cmp.Diff(s, back, ignoreSource); diff != "" {
				t.Fatalf("%s round trip mismatch (-parsed +reparsed):\n%s\ninput:\n%s\noutput:\n%s", format, diff, data, out)
			}
		}
	})
}
