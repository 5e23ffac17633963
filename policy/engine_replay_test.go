package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/sluice-mdm/sluice/protocol"
)

// replayRequests are requests that reach most branches of the procedure.
func replayRequests() map[string]Request {
	reqs := map[string]Request{}
	add := func(name string, f func(r *Request)) {
		r := baseRequest()
		f(&r)
		reqs[name] = r
	}
	add("install", func(r *Request) {})
	add("no policy", func(r *Request) { r.Policy = nil })
	add("prompt", func(r *Request) { r.Policy.Prompt = &PromptSpec{Closable: true, Text: "Update?", ForceAfter: "30d"} })
	add("force", func(r *Request) { r.Policy.Force = true })
	add("postponed", func(r *Request) {
		r.Policy.Mode = protocol.ModePostponed
		r.Policy.MaintenanceWindow = &protocol.MaintenanceWindow{Start: "23:00", End: "02:00"}
	})
	add("rollout", func(r *Request) { r.Policy.Rollout = &RolloutSpec{Percent: 12.5} })
	add("eligible", func(r *Request) { r.Policy.Eligible = &Eligible{VersionName: "<5"} })
	add("ios", func(r *Request) { r.Device.Platform = protocol.PlatformIOS; r.Device.SDK = 0 })
	add("not installed", func(r *Request) { r.Device.Apps = nil; r.Policy.InstallType = InstallForceInstalled })
	add("effective", func(r *Request) {
		r.Policy.Effective = &Effective{Start: timePtr(time.Date(2025, 4, 1, 8, 0, 0, 0, time.FixedZone("CEST", 7200)))}
	})
	return reqs
}

func TestReplay(t *testing.T) {
	e := newTestEngine(t)
	for name, req := range replayRequests() {
		t.Run(name, func(t *testing.T) {
			got := decide(t, e, req)
			in, err := BuildInput(req)
			if err != nil {
				t.Fatal(err)
			}
			logged, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			var back Input
			if err := json.Unmarshal(logged, &back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(in, back); diff != "" {
				t.Errorf("input changed by a JSON round trip (-built +read):\n%s", diff)
			}
			replayed, err := e.Evaluate(t.Context(), back)
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if diff := SameOutcome(got, replayed); diff != "" {
				t.Errorf("replay differs (-decided +replayed):\n%s", diff)
			}
			if replayed.DecisionID != got.DecisionID {
				t.Errorf("replayed DecisionID = %s, want %s", replayed.DecisionID, got.DecisionID)
			}
		})
	}
}

func TestDecisionID(t *testing.T) {
	e := newTestEngine(t)
	req := baseRequest()
	first, second := decide(t, e, req), decide(t, e, req)
	req.At = req.At.Add(time.Second)
	later := decide(t, e, req)
	req.At = req.At.Add(-time.Second)
	req.PolicyRevision++
	revised := decide(t, e, req)
	got := []bool{first.DecisionID == second.DecisionID, first.DecisionID == later.DecisionID, first.DecisionID == revised.DecisionID}
	if diff := cmp.Diff([]bool{true, false, false}, got); diff != "" {
		t.Errorf("id equal to the first for [same input, later, new revision] (-want +got):\n%s", diff)
	}
}

func TestSameOutcome(t *testing.T) {
	e := newTestEngine(t)
	a := decide(t, e, baseRequest())
	b := a
	b.DecisionID = "other"
	b.EvaluatedAt = a.EvaluatedAt.Add(time.Hour)
	c := a
	c.Reasons = append([]protocol.Reason(nil), a.Reasons...)
	c.Reasons[0].Message = "something else"
	got := []bool{SameOutcome(a, b) == "", SameOutcome(a, c) == "", strings.Contains(SameOutcome(a, c), "something else")}
	if diff := cmp.Diff([]bool{true, false, true}, got); diff != "" {
		t.Errorf("[id and time ignored, message compared, diff shows it] (-want +got):\n%s", diff)
	}
}

func TestDecideConcurrently(t *testing.T) {
	e := newTestEngine(t, Rule{Name: "freeze.rego", Module: freezeRule})
	reqs := replayRequests()
	want := map[string]Decision{}
	for name, req := range reqs {
		want[name] = decide(t, e, req)
	}
	const workers, rounds = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*len(reqs)*rounds)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				for name, req := range reqs {
					got, err := e.Decide(t.Context(), req)
					if err != nil {
						errs <- fmt.Errorf("worker %d round %d %s: %w", w, i, name, err)
						continue
					}
					if diff := cmp.Diff(want[name], got); diff != "" {
						errs <- fmt.Errorf("worker %d round %d %s (-sequential +concurrent):\n%s", w, i, name, diff)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestInputValueMatchesJSON checks that the ast.Value built field by field
// is exactly the document encoding/json makes of the Input, for an input
// with every field set (so a field added to a type but not to the builder
// fails here) and for the fixtures.
func TestInputValueMatchesJSON(t *testing.T) {
	full := Input{}
	n := 0
	fill(reflect.ValueOf(&full).Elem(), &n)
	inputs := map[string]Input{"every field set": full}
	for name, req := range replayRequests() {
		in, err := BuildInput(req)
		if err != nil {
			t.Fatal(err)
		}
		inputs[name] = in
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ast.ValueFromReader(strings.NewReader(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			got := in.value()
			if want.Compare(got) != 0 {
				t.Errorf("built value differs from the JSON document\n json: %s\nbuilt: %s", want, got)
			}
			if digest(want) != digest(got) {
				t.Errorf("digest of the JSON document %s != digest of the built value %s", digest(want), digest(got))
			}
		})
	}
}

// fill sets every field reachable from v to a distinct non-zero value.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2025, 1, 1, 0, 0, 0, *n*1000, time.UTC).Add(time.Duration(*n) * time.Hour)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), n)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, n)
			fill(e, n)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint64:
		v.SetUint(uint64(*n) + 1<<63) // above MaxInt64: revisions are unsigned
	case reflect.Float64:
		v.SetFloat(float64(*n) + 0.25)
	default:
		panic(fmt.Sprintf("fill: add a case for %s", v.Type()))
	}
}

func TestBuildInputRefuses(t *testing.T) {
	tests := []struct {
		name string
		req  func(r *Request)
		want InputError
	}{
		{"no time", func(r *Request) { r.At = time.Time{} }, InputError{Field: "at", Value: "zero", Allowed: "the evaluation time"}},
		{"no app", func(r *Request) { r.App = "" }, InputError{Field: "app", Value: `""`, Allowed: "a package name"}},
		{"no device", func(r *Request) { r.Device.ID = "" }, InputError{Field: "device.id", Value: `""`, Allowed: "a device id"}},
		{"time out of range", func(r *Request) { r.Releases[1].PublishedAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) },
			InputError{Field: "releases[3].publishedAt", Value: "3000-01-01T00:00:00Z", Allowed: "a time between 1678 and 2262"}},
		{"release without publication", func(r *Request) { r.Releases[0].PublishedAt = time.Time{} },
			InputError{Field: "releases[0].publishedAt", Value: "zero", Allowed: "the release's publication time"}},
		{"negative postponeDays", func(r *Request) { r.Policy.PostponeDays = -1 },
			InputError{Field: "policy.spec.postponeDays", Value: "-1", Allowed: "0 (90 days) to 36500"}},
		{"rollout over 100", func(r *Request) { r.Policy.Rollout = &RolloutSpec{Percent: 100.5} },
			InputError{Field: "policy.spec.rollout.percent", Value: "100.5", Allowed: "0 to 100"}},
		{"forceAfter not a duration", func(r *Request) { r.Policy.Prompt = &PromptSpec{ForceAfter: "soon"} },
			InputError{Field: "policy.spec.prompt.forceAfter", Value: `"soon"`, Allowed: `a positive Go duration such as "72h" or a number of days such as "7d"`}},
		{"negative dailyFrequency", func(r *Request) { r.Policy.Prompt = &PromptSpec{DailyFrequency: -2} },
			InputError{Field: "policy.spec.prompt.dailyFrequency", Value: "-2", Allowed: "0 (once a day) or more"}},
		{"negative version code bound", func(r *Request) { r.Policy.Eligible = &Eligible{MinVersionCode: -5} },
			InputError{Field: "policy.spec.eligible", Value: "minVersionCode -5, maxVersionCode 0", Allowed: "version codes of 0 (unbounded) or more"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := baseRequest()
			tc.req(&req)
			_, err := BuildInput(req)
			var ie *InputError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("BuildInput error = %v, want an *InputError", err)
			}
			if diff := cmp.Diff(tc.want, *ie); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateRefusesUnsortedReleases(t *testing.T) {
	e := newTestEngine(t)
	in, err := BuildInput(baseRequest())
	if err != nil {
		t.Fatal(err)
	}
	in.Releases[0], in.Releases[1] = in.Releases[1], in.Releases[0]
	_, err = e.Evaluate(t.Context(), in)
	want := "evaluate com.example.pos on pos-berlin-0042: policy: input: releases[1].versionCode: 530 is not allowed; want releases sorted highest versionCode first (the previous one is 520)"
	if err == nil || err.Error() != want || !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Evaluate error = %v, want %q", err, want)
	}
}
