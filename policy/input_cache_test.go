package policy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/ast"
)

// mutateLeaf changes, in place (through pointers and slices), the leaf
// field numbered target in a walk of v; it reports whether it found it.
func mutateLeaf(v reflect.Value, target int, n *int) bool {
	switch v.Kind() {
	case reflect.Pointer:
		return !v.IsNil() && mutateLeaf(v.Elem(), target, n)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			if *n++; *n-1 == target {
				v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Hour)))
				return true
			}
			return false
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && mutateLeaf(v.Field(i), target, n) {
				return true
			}
		}
		return false
	case reflect.Slice:
		for i := range v.Len() {
			if mutateLeaf(v.Index(i), target, n) {
				return true
			}
		}
		return false
	}
	if *n++; *n-1 != target {
		return false
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Float64:
		v.SetFloat(v.Float() + 1)
	default:
		panic(fmt.Sprintf("mutateLeaf: add a case for %s", v.Type()))
	}
	return true
}

// zeroRef sets to nil the non-nil pointer or slice numbered target in a
// walk of v; it reports whether it found it.
func zeroRef(v reflect.Value, target int, n *int) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Slice:
		if v.IsNil() {
			return false
		}
		if *n++; *n-1 == target && v.CanSet() {
			v.SetZero()
			return true
		}
		if v.Kind() == reflect.Pointer {
			return zeroRef(v.Elem(), target, n)
		}
		for i := range v.Len() {
			if zeroRef(v.Index(i), target, n) {
				return true
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && zeroRef(v.Field(i), target, n) {
				return true
			}
		}
	}
	return false
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCachedTermsFollowChanges checks that a release or policy changed in
// any field under the same identity (a reused revision, say) is not served
// from the cache: the equality checks see every field, and the cache's
// copies share nothing with the caller's values.
func TestCachedTermsFollowChanges(t *testing.T) {
	var rel Release
	var pol InputPolicy
	n := 0
	fill(reflect.ValueOf(&rel).Elem(), &n)
	fill(reflect.ValueOf(&pol).Elem(), &n)
	pol.Spec.Effective.Start = timePtr(pol.Spec.Effective.Start.UTC())
	checks := []struct {
		name  string
		v     any
		equal func(changed any) bool
		clone func() any
	}{
		{"release", &rel, func(c any) bool { return releaseEqual(&rel, c.(*Release)) }, func() any { c := cloneRelease(rel); return &c }},
		{"policy", &pol, func(c any) bool { return policyEqual(&pol, c.(*InputPolicy)) }, func() any { c := clonePolicy(pol); return &c }},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.equal(c.clone()) {
				t.Fatalf("a clone is not equal to its original")
			}
			leaves := 0
			for i := 0; ; i++ {
				changed := c.clone()
				k := 0
				if !mutateLeaf(reflect.ValueOf(changed), i, &k) {
					break
				}
				leaves++
				if c.equal(changed) {
					t.Errorf("leaf %d changed: still equal (-original +changed):\n%s", i, cmp.Diff(c.v, changed))
				}
				// The clone must not share memory with the original.
				snapshot := c.clone()
				before := jsonOf(t, snapshot)
				orig := reflect.ValueOf(c.v)
				k = 0
				mutateLeaf(orig, i, &k)
				if after := jsonOf(t, snapshot); after != before {
					t.Errorf("leaf %d changed in the original also changed the clone", i)
				}
			}
			if leaves < 10 {
				t.Errorf("walked %d leaves, want at least 10", leaves)
			}
			refs := 0
			for i := 1; ; i++ { // 0 is the value itself
				changed := c.clone()
				k := 0
				if !zeroRef(reflect.ValueOf(changed), i, &k) {
					break
				}
				refs++
				if c.equal(changed) {
					t.Errorf("pointer or slice %d set to nil: still equal (-original +changed):\n%s", i, cmp.Diff(c.v, changed))
				}
			}
			if refs < 2 {
				t.Errorf("walked %d pointers and slices, want at least 2", refs)
			}
		})
	}
}

// TestBuildIDMatchesDigest checks that the decision id build computes with
// the cached encodings is the digest of the whole value, and of the JSON
// document of the input, and that a release changed under the same
// identity changes the value.
func TestBuildIDMatchesDigest(t *testing.T) {
	inputs := map[string]Input{}
	for name, req := range replayRequests() {
		in, err := BuildInput(req)
		if err != nil {
			t.Fatal(err)
		}
		inputs[name] = in
	}
	moved := baseRequest()
	moved.Releases = append([]Release(nil), moved.Releases...)
	moved.Releases[3].Artifact.URLs = []string{"https://mirror.example.com/moved.apk"}
	in, err := BuildInput(moved)
	if err != nil {
		t.Fatal(err)
	}
	inputs["a release moved under the same identity"] = in
	first := inputs["install"]
	first.build() // caches the release before it moved
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			v, id := in.build()
			doc, err := ast.ValueFromReader(strings.NewReader(jsonOf(t, in)))
			if err != nil {
				t.Fatal(err)
			}
			if doc.Compare(v) != 0 {
				t.Errorf("built value differs from the JSON document\n json: %s\nbuilt: %s", doc, v)
			}
			if diff := cmp.Diff([]string{digest(v), digest(doc)}, []string{id, id}); diff != "" {
				t.Errorf("[digest of the value, of the JSON document] (-want +id):\n%s", diff)
			}
		})
	}
}
