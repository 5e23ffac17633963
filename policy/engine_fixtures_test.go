package policy

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-mdm/sluice/protocol"
)

// Shared fixtures of the engine tests: one Android POS device running
// com.example.pos 5.0.0, a plain policy, and four releases.

const (
	testApp    = "com.example.pos"
	testDevice = "pos-berlin-0042"
	testPolicy = "pos-stable"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// testAt is the evaluation time of most cases.
var testAt = time.Date(2025, time.May, 20, 10, 0, 0, 0, time.UTC)

func release(name string, code int64, published time.Time, minSDK int) Release {
	return Release{
		App: testApp, VersionName: name, VersionCode: code, PublishedAt: published,
		Artifact: protocol.Artifact{
			URLs:         []string{"https://cdn.example.com/pos/" + name + ".apk"},
			SHA256:       "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Size:         42_000_000,
			SignerSHA256: []string{"a40da80a59d170caa950cf15c18c454d47a39b26989d8b640ecd745ba71bf5dc"},
			MinSDK:       minSDK,
		},
	}
}

var (
	rel500 = release("5.0.0", 500, day(2025, time.March, 1), 21)
	rel510 = release("5.1.0", 510, day(2025, time.May, 2), 24)
	rel520 = func() Release {
		r := release("5.2.0-beta.1", 520, day(2025, time.May, 10), 24)
		r.Track = "beta"
		return r
	}()
	rel530 = release("5.3.0", 530, day(2025, time.June, 1), 26) // published after testAt
)

func installed(name string, code int64, updated time.Time) map[string]protocol.InstalledApp {
	return map[string]protocol.InstalledApp{testApp: {VersionName: name, VersionCode: code, UpdatedAt: updated}}
}

// baseRequest is a device on 5.0.0 under a policy with every default.
func baseRequest() Request {
	return Request{
		App: testApp,
		Device: Device{
			ID: testDevice, Platform: protocol.PlatformAndroid, SDK: 30, AgentVersion: "1.4.2", Channel: "stable",
			Labels: map[string]string{"store": "berlin-01"},
			Apps:   installed("5.0.0", 500, day(2025, time.March, 3)),
		},
		Policy:         &UpdatePolicy{App: testApp},
		PolicyName:     testPolicy,
		PolicyRevision: 7,
		Releases:       []Release{rel530, rel500, rel520, rel510}, // unsorted on purpose
		At:             testAt,
	}
}

func target(r Release) *protocol.Target {
	art := r.Artifact
	return &protocol.Target{VersionName: r.VersionName, VersionCode: r.VersionCode, Artifact: &art, ReleaseNotes: r.ReleaseNotes, AppStoreID: r.AppStoreID}
}

var (
	allConstraints = &protocol.Constraints{UnmeteredNetwork: true, Charging: true, Idle: true, NotForeground: true}
	testRef        = &protocol.PolicyRef{Name: testPolicy, Revision: 7}
)

func reasons(code, msg string) []protocol.Reason {
	return []protocol.Reason{{Code: code, Message: msg}}
}

func timePtr(t time.Time) *time.Time { return &t }

func boolPtr(b bool) *bool { return &b }

func newTestEngine(t testing.TB, rules ...Rule) *Engine {
	t.Helper()
	e, err := NewEngine(context.Background(), Config{Rules: rules})
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	return e
}

func decide(t testing.TB, e *Engine, req Request) Decision {
	t.Helper()
	d, err := e.Decide(context.Background(), req)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	return d
}
