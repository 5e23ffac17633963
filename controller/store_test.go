package controller

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/sluice-mdm/sluice/internal/natstest"
)

// testClock is an injected clock a test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 5, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// smallLimits keeps test streams from reserving gigabytes.
func testStoreConfig(clock *testClock) StoreConfig {
	small := StreamLimits{MaxAge: 24 * time.Hour, MaxBytes: 8 << 20}
	return StoreConfig{Reports: small, Events: small, Decisions: small, Audit: small, Now: clock.Now}
}

// testCtx is a context bounded well below the package's time budget.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newTestStore opens a store on a fresh embedded server and returns it
// with its clock and client URL.
func newTestStore(t testing.TB) (*Store, *testClock, string) {
	t.Helper()
	_, url := natstest.Start(t)
	clock := newTestClock()
	return openTestStore(t, natstest.Connect(t, url), clock), clock, url
}

func openTestStore(t testing.TB, nc *nats.Conn, clock *testClock) *Store {
	t.Helper()
	s, err := OpenStore(testCtx(t), nc, testStoreConfig(clock))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return s
}

// errorText returns err's message, or "" for nil, for table comparisons.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestOpenStoreIsIdempotentAndUsesConfiguredNames(t *testing.T) {
	_, url := natstest.Start(t)
	nc := natstest.Connect(t, url)
	clock := newTestClock()
	cfg := testStoreConfig(clock)
	cfg.Names = StoreNames{Policies: "tenant1_policies", Decisions: "TENANT1_DECISIONS"}
	ctx := testCtx(t)
	s1, err := OpenStore(ctx, nc, cfg)
	if err != nil {
		t.Fatalf("first open: %v", err)
	}
	if _, err := s1.Policies().Put(ctx, "p1", testPolicy("com.example.pos"), CreateOnly, "alice"); err != nil {
		t.Fatal(err)
	}
	// A second replica opening the same store finds what the first wrote.
	s2, err := OpenStore(ctx, nc, cfg)
	if err != nil {
		t.Fatalf("second open: %v", err)
	}
	got, err := s2.Policies().Get(ctx, "p1")
	if err != nil {
		t.Fatalf("get through second store: %v", err)
	}
	if diff := cmp.Diff("com.example.pos", got.Value.App); diff != "" {
		t.Errorf("policy app (-want +got):\n%s", diff)
	}

	type names struct{ Policies, Groups, Decisions, Bucket string }
	want := names{Policies: "tenant1_policies", Groups: "groups", Decisions: "TENANT1_DECISIONS", Bucket: "tenant1_policies"}
	gotNames := names{s2.Names().Policies, s2.Names().Groups, s2.Names().Decisions, s2.Policies().Bucket()}
	if diff := cmp.Diff(want, gotNames); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if _, err := s2.JetStream().Stream(ctx, "TENANT1_DECISIONS"); err != nil {
		t.Errorf("configured decision stream: %v", err)
	}
	info, err := s2.JetStream().Stream(ctx, "REPORTS")
	if err != nil {
		t.Fatalf("reports stream: %v", err)
	}
	if diff := cmp.Diff([]string{"sluice.v1.device.*.report"}, info.CachedInfo().Config.Subjects); diff != "" {
		t.Errorf("reports stream subjects (-want +got):\n%s", diff)
	}
}

func TestOpenStoreDefaultLimits(t *testing.T) {
	_, url := natstest.Start(t)
	ctx := testCtx(t)
	s, err := OpenStore(ctx, natstest.Connect(t, url), StoreConfig{Audit: StreamLimits{MaxAge: -1, MaxBytes: -1}})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	type limits struct {
		MaxAge   time.Duration
		MaxBytes int64
		Replicas int
	}
	tests := []struct {
		stream string
		want   limits
	}{
		{"REPORTS", limits{7 * 24 * time.Hour, 1 << 30, 1}},
		{"EVENTS", limits{30 * 24 * time.Hour, 1 << 30, 1}},
		{"DECISIONS", limits{180 * 24 * time.Hour, 2 << 30, 1}},
		{"AUDIT", limits{0, -1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.stream, func(t *testing.T) {
			st, err := s.JetStream().Stream(ctx, tt.stream)
			if err != nil {
				t.Fatal(err)
			}
			c := st.CachedInfo().Config
			if diff := cmp.Diff(tt.want, limits{c.MaxAge, c.MaxBytes, c.Replicas}); diff != "" {
				t.Errorf("limits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenStoreRefusesBadNames(t *testing.T) {
	_, url := natstest.Start(t)
	nc := natstest.Connect(t, url)
	tests := []struct {
		name  string
		names StoreNames
		want  string
	}{
		{"shared bucket", StoreNames{Devices: "policies"},
			`controller: store config: Names.Devices "policies" is not allowed; want a name not already used by Names.Policies`},
		{"dot in name", StoreNames{Audit: "audit.log"},
			`controller: store config: Names.Audit "audit.log" is not allowed; want letters, digits, '-' and '_'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenStore(testCtx(t), nc, StoreConfig{Names: tt.names})
			if diff := cmp.Diff(tt.want, errorText(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStoreErrorsMatchSentinels(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"not found", &NotFoundError{Kind: KindPolicy, Name: "p"}, ErrNotFound},
		{"conflict", &ConflictError{Kind: KindPolicy, Name: "p", Expected: 1, Current: 2, Err: errors.New("wrong last sequence")}, ErrConflict},
		{"immutable", &ImmutableError{App: "a.b", VersionCode: 1}, ErrImmutable},
		{"malformed", &MalformedError{Bucket: "policies", Key: "p", Err: errors.New("eof")}, ErrMalformed},
		{"invalid", &ValidationError{Kind: "policy", Field: "name"}, ErrInvalid},
		{"digest", &DigestError{Want: "a", Got: "b"}, ErrDigestMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) {
				t.Errorf("errors.Is(%v, %v) = false", tt.err, tt.want)
			}
			if errors.Is(tt.err, errors.New("other")) {
				t.Errorf("errors.Is matched an unrelated error")
			}
		})
	}
}
