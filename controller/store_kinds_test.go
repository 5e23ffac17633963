package controller

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

const (
	shaA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	shaB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func testRelease(app string, code int64, name, sha string) policy.Release {
	return policy.Release{
		App: app, VersionName: name, VersionCode: code, Track: "production",
		PublishedAt: time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC),
		Artifact: protocol.Artifact{
			URLs: []string{"https://cdn.example.com/" + sha + ".apk"}, SHA256: sha, Size: 1234,
			SignerSHA256: []string{shaB}, MinSDK: 24,
		},
	}
}

func TestReleasesAreImmutable(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := testCtx(t)
	rel := testRelease("com.example.pos", 42, "4.2.0", shaA)
	name := ReleaseName("com.example.pos", 42)
	if diff := cmp.Diff("com.example.pos.42", name); diff != "" {
		t.Errorf("release name (-want +got):\n%s", diff)
	}
	first, err := s.Releases().Put(ctx, name, rel, CreateOnly, "alice")
	if err != nil {
		t.Fatalf("add: %v", err)
	}

	// The same APK again is idempotent, whatever else the caller says.
	again := rel
	again.ReleaseNotes = "typed differently"
	got, err := s.Releases().Put(ctx, name, again, AnyRevision, "bob")
	if err != nil {
		t.Fatalf("add same sha256 again: %v", err)
	}
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("idempotent add returns the stored release (-want +got):\n%s", diff)
	}

	// Different content under the same app and versionCode is refused.
	_, err = s.Releases().Put(ctx, name, testRelease("com.example.pos", 42, "4.2.0", shaB), CreateOnly, "mallory")
	var imm *ImmutableError
	if !errors.As(err, &imm) || !errors.Is(err, ErrImmutable) {
		t.Fatalf("add different sha256: err = %v; want an *ImmutableError", err)
	}
	want := `controller: release com.example.pos versionCode 42 already exists with sha256 ` + shaA +
		`; releases are immutable, so sha256 ` + shaB + ` is refused (publish a new versionCode)`
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	_, err = s.Releases().Put(ctx, name, rel, first.Revision, "bob")
	if diff := cmp.Diff(`controller: release "com.example.pos.42": expected revision `+itoa(first.Revision)+
		` is not allowed; want 0 (create) or AnyRevision: this kind is immutable and is never updated`, errorText(err)); diff != "" {
		t.Errorf("update of a release (-want +got):\n%s", diff)
	}
	stored, err := s.Releases().Get(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, stored); diff != "" {
		t.Errorf("stored release after refused writes (-want +got):\n%s", diff)
	}
}

func TestReleaseValidation(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := testCtx(t)
	ios := testRelease("com.example.pos", 7, "1.7", "")
	ios.AppStoreID = "1234567"
	tests := []struct {
		name string
		key  string
		rel  policy.Release
		want string
	}{
		{"ok", "com.example.pos.42", testRelease("com.example.pos", 42, "4.2.0", shaA), ""},
		{"ios release without artifact", "com.example.pos.7", ios, ""},
		{"name not from app and code", "com.example.pos.43", testRelease("com.example.pos", 42, "4.2.0", shaA),
			`controller: release "com.example.pos.43": name "com.example.pos.43" is not allowed; want "com.example.pos.42", from app and versionCode`},
		{"zero versionCode", "com.example.pos.0", testRelease("com.example.pos", 0, "0", shaA),
			`controller: release "com.example.pos.0": versionCode 0 is not allowed; want a positive integer`},
		{"uppercase sha", "com.example.pos.44", testRelease("com.example.pos", 44, "4.4", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
			`controller: release "com.example.pos.44": artifact.sha256 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" is not allowed; want 64 lowercase hex digits`},
		{"no sha and no app store id", "com.example.pos.45", testRelease("com.example.pos", 45, "4.5", ""),
			`controller: release "com.example.pos.45": artifact.sha256 "" is not allowed; want 64 lowercase hex digits (or an appStoreId for an iOS release)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Releases().Put(ctx, tt.key, tt.rel, CreateOnly, "alice")
			if diff := cmp.Diff(tt.want, errorText(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppReleasesListsOneAppInVersionOrder(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := testCtx(t)
	for _, r := range []policy.Release{
		testRelease("com.example.pos", 100, "10.0", shaA),
		testRelease("com.example.pos", 9, "0.9", shaB),
		testRelease("com.example.pos.plugin", 5, "0.5", shaA), // its name starts like the app's
		testRelease("com.example.pos", 20, "2.0", "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"),
	} {
		if _, err := s.Releases().Put(ctx, ReleaseName(r.App, r.VersionCode), r, CreateOnly, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.AppReleases(ctx, "com.example.pos")
	if err != nil {
		t.Fatalf("app releases: %v", err)
	}
	var codes []int64
	for _, r := range got {
		codes = append(codes, r.Value.VersionCode)
	}
	if diff := cmp.Diff([]int64{9, 20, 100}, codes); diff != "" {
		t.Errorf("versionCodes (-want +got):\n%s", diff)
	}
	_, err = s.AppReleases(ctx, "not a package")
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("bad app: err = %v; want ErrInvalid", err)
	}
}
