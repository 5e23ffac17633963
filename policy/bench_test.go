package policy

import (
	"context"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/sluice-mdm/sluice/protocol"
)

// benchRequest is a realistic decision: default mode with constraints
// overrides, a maintenance window, an eligible range, an excluded version,
// a client minimum, a rollout and a prompt with forceAfter, over five
// releases on two tracks.
func benchRequest() Request {
	day := func(m time.Month, d int) time.Time { return time.Date(2025, m, d, 9, 30, 0, 0, time.UTC) }
	rel := func(name string, code int64, track string, at time.Time) Release {
		return Release{
			App: "com.example.pos", VersionName: name, VersionCode: code, Track: track, PublishedAt: at,
			Artifact: protocol.Artifact{
				URLs:         []string{"https://cdn.example.com/pos/" + name + ".apk", "https://mirror.example.com/pos/" + name + ".apk"},
				SHA256:       "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
				Size:         48_000_000,
				SignerSHA256: []string{"a40da80a59d170caa950cf15c18c454d47a39b26989d8b640ecd745ba71bf5dc"},
				MinSDK:       24,
			},
			ReleaseNotes: "Bug fixes.",
		}
	}
	no := false
	return Request{
		App: "com.example.pos",
		Device: Device{
			ID: "pos-berlin-0042", Platform: protocol.PlatformAndroid, SDK: 30, AgentVersion: "1.4.2", Channel: "stable",
			TimeZone: "Europe/Berlin", Labels: map[string]string{"store": "berlin-01", "model": "P2"},
			Apps:       map[string]protocol.InstalledApp{"com.example.pos": {VersionName: "4.5.0", VersionCode: 450, UpdatedAt: day(3, 1)}},
			EnrolledAt: day(1, 10),
		},
		Policy: &UpdatePolicy{
			App: "com.example.pos", Platforms: []string{"android"}, Channels: []string{"stable", "beta"},
			Eligible:          &Eligible{VersionName: ">=4.3.3, <=5.0.0"},
			ExcludedVersions:  []string{"4.9.0"},
			MinClientVersion:  "1.2.0",
			Constraints:       &ConstraintOverrides{Idle: &no},
			MaintenanceWindow: &protocol.MaintenanceWindow{Start: "22:00", End: "05:00"},
			Prompt:            &PromptSpec{Closable: true, DailyFrequency: 2, Text: "A new version is ready.", ForceAfter: "7d"},
			Rollout:           &RolloutSpec{Percent: 100},
		},
		PolicyName: "pos-stable", PolicyRevision: 12,
		Releases: []Release{
			rel("4.5.0", 450, "", day(3, 1)),
			rel("5.0.0", 500, "", day(4, 2)),
			rel("5.1.0", 510, "", day(5, 2)),
			rel("5.2.0-rc1", 519, "beta", day(5, 20)),
			rel("5.1.1", 511, "", day(5, 25)),
		},
		At: day(5, 27),
	}
}

func BenchmarkDecide(b *testing.B) {
	ctx := context.Background()
	e, err := NewEngine(ctx, Config{})
	if err != nil {
		b.Fatal(err)
	}
	req := benchRequest()
	want, err := e.Decide(ctx, req)
	if err != nil || want.Action != protocol.ActionPrompt {
		b.Fatalf("Decide = %v, %v; want a prompt", want.Action, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Decide(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecideParallel(b *testing.B) {
	ctx := context.Background()
	e, err := NewEngine(ctx, Config{})
	if err != nil {
		b.Fatal(err)
	}
	req := benchRequest()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.Decide(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDecideBaselineInput is the Go side alone: building the input
// document, its ast.Value and its digest, without evaluating the Rego.
func BenchmarkDecideBaselineInput(b *testing.B) {
	req := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		in, err := BuildInput(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = in.build()
	}
}

// BenchmarkDecideBaselineTrivialQuery is the floor of any OPA evaluation on
// this machine: a prepared one-rule query with a pre-built ast input.
func BenchmarkDecideBaselineTrivialQuery(b *testing.B) {
	ctx := context.Background()
	pq, err := rego.New(
		rego.Query("data.trivial.result"),
		rego.Module("trivial.rego", `package trivial

result := {"action": "none", "reasons": [{"code": "NO_POLICY", "message": sprintf("No policy for %s.", [input.app])}]} if input.app != ""
`),
	).PrepareForEval(ctx)
	if err != nil {
		b.Fatal(err)
	}
	in := ast.NewObject(ast.Item(ast.StringTerm("app"), ast.StringTerm("com.example.pos")))
	b.ReportAllocs()
	for b.Loop() {
		rs, err := pq.Eval(ctx, rego.EvalParsedInput(in))
		if err != nil || len(rs) != 1 {
			b.Fatal(rs, err)
		}
	}
}
