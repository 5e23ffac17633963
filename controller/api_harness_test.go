package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// apiDecider is the tests' Decider: the real policy engine over a catalog
// built from what the store holds at each call, so that the API sees real
// decisions without the reconciler.
type apiDecider struct {
	store *Store
	now   func() time.Time

	mu      sync.Mutex
	ready   bool
	engine  *policy.Engine
	ruleKey string
	// delay, when set, slows DecideFor down (latency tests).
	delay time.Duration
}

func (d *apiDecider) Ready() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ready
}

func (d *apiDecider) setReady(v bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ready = v
}

// storedSet reads the desired state into a manifest set, with the
// policies' revisions.
func (d *apiDecider) storedSet(ctx context.Context) (*manifest.Set, map[string]uint64, error) {
	s := &manifest.Set{}
	revs := map[string]uint64{}
	rels, err := d.store.Releases().List(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rels {
		s.Releases = append(s.Releases, manifest.Release{Meta: manifest.Meta{Name: r.Name}, Spec: r.Value})
	}
	pols, err := d.store.Policies().List(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range pols {
		s.Policies = append(s.Policies, manifest.Policy{Meta: manifest.Meta{Name: p.Name}, Spec: p.Value})
		revs[p.Name] = p.Revision
	}
	groups, err := d.store.Groups().List(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, g := range groups {
		s.Groups = append(s.Groups, manifest.Group{Meta: manifest.Meta{Name: g.Name}, Spec: g.Value})
	}
	as, err := d.store.Assignments().List(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, a := range as {
		s.Assignments = append(s.Assignments, manifest.Assignment{Meta: manifest.Meta{Name: a.Name}, Spec: a.Value})
	}
	rules, err := d.store.Rules().List(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rules {
		s.Rules = append(s.Rules, manifest.Rule{Meta: manifest.Meta{Name: r.Name}, Spec: r.Value})
	}
	return s, revs, nil
}

func (d *apiDecider) engineFor(ctx context.Context, rules []policy.Rule) (*policy.Engine, error) {
	key, _ := json.Marshal(rules)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.engine != nil && d.ruleKey == string(key) {
		return d.engine, nil
	}
	eng, err := policy.NewEngine(ctx, policy.Config{Rules: rules})
	if err != nil {
		return nil, err
	}
	d.engine, d.ruleKey = eng, string(key)
	return eng, nil
}

func (d *apiDecider) catalog(ctx context.Context, s *manifest.Set, revs map[string]uint64) (*Catalog, *policy.Engine, error) {
	c, err := CatalogFromSet(s)
	if err != nil {
		return nil, nil, err
	}
	for name, pv := range c.Policies {
		pv.Revision = revs[name]
		c.Policies[name] = pv
	}
	eng, err := d.engineFor(ctx, s.RuleSpecs())
	return c, eng, err
}

func (d *apiDecider) current(ctx context.Context) (*Catalog, *policy.Engine, error) {
	s, revs, err := d.storedSet(ctx)
	if err != nil {
		return nil, nil, err
	}
	return d.catalog(ctx, s, revs)
}

func (d *apiDecider) Explain(ctx context.Context, deviceID, app string) (*Explanation, error) {
	rec, err := d.store.Devices().Get(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	c, eng, err := d.current(ctx)
	if err != nil {
		return nil, err
	}
	apps := c.Apps(rec.Value.Device)
	if app != "" {
		apps = []string{app}
	}
	ex := &Explanation{Device: rec.Value.Device, Groups: c.Index.Groups(deviceID, rec.Value.Device.Labels), Decisions: []policy.Decision{}}
	for _, a := range apps {
		dec, err := c.Decide(ctx, eng, rec.Value.Device, a, d.now())
		if err != nil {
			return nil, err
		}
		ex.Decisions = append(ex.Decisions, dec.Decision)
	}
	return ex, nil
}

func overlaySet(base, over *manifest.Set) *manifest.Set {
	out := *base
	out.Releases = overlayObjects(base.Releases, over.Releases, func(o manifest.Release) string { return o.Meta.Name })
	out.Policies = overlayObjects(base.Policies, over.Policies, func(o manifest.Policy) string { return o.Meta.Name })
	out.Groups = overlayObjects(base.Groups, over.Groups, func(o manifest.Group) string { return o.Meta.Name })
	out.Assignments = overlayObjects(base.Assignments, over.Assignments, func(o manifest.Assignment) string { return o.Meta.Name })
	out.Rules = overlayObjects(base.Rules, over.Rules, func(o manifest.Rule) string { return o.Meta.Name })
	return &out
}

func overlayObjects[T any](base, over []T, name func(T) string) []T {
	out := make([]T, 0, len(base)+len(over))
	seen := map[string]bool{}
	for _, o := range over {
		seen[name(o)] = true
	}
	for _, b := range base {
		if !seen[name(b)] {
			out = append(out, b)
		}
	}
	return append(out, over...)
}

func (d *apiDecider) DryRun(ctx context.Context, changes *manifest.Set, deletions []ObjectRef) (*Impact, error) {
	s, revs, err := d.storedSet(ctx)
	if err != nil {
		return nil, err
	}
	before, engBefore, err := d.catalog(ctx, s, revs)
	if err != nil {
		return nil, err
	}
	after, engAfter, err := d.catalog(ctx, overlaySet(s, changes), revs)
	if err != nil {
		return nil, err
	}
	devs, err := d.store.Devices().List(ctx)
	if err != nil {
		return nil, err
	}
	imp := &Impact{Devices: len(devs), Sample: []ImpactChange{}}
	for _, rec := range devs {
		dev := rec.Value.Device
		apps := map[string]bool{}
		for _, a := range append(before.Apps(dev), after.Apps(dev)...) {
			apps[a] = true
		}
		for app := range apps {
			b, err := before.Decide(ctx, engBefore, dev, app, d.now())
			if err != nil {
				return nil, err
			}
			a, err := after.Decide(ctx, engAfter, dev, app, d.now())
			if err != nil {
				return nil, err
			}
			if b.Action != a.Action {
				imp.Changed++
				imp.Sample = append(imp.Sample, ImpactChange{Device: dev.ID, App: app, From: b.Action, To: a.Action, Reason: a.Reasons[0].Code})
			}
		}
	}
	return imp, nil
}

func (d *apiDecider) Replay(ctx context.Context, in policy.Input) (policy.Decision, error) {
	_, eng, err := d.current(ctx)
	if err != nil {
		return policy.Decision{}, err
	}
	return eng.Evaluate(ctx, in)
}

func (d *apiDecider) DecideFor(ctx context.Context, dev policy.Device, app string) (policy.Decision, error) {
	d.mu.Lock()
	delay := d.delay
	d.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return policy.Decision{}, ctx.Err()
		}
	}
	c, eng, err := d.current(ctx)
	if err != nil {
		return policy.Decision{}, err
	}
	dec, err := c.Decide(ctx, eng, dev, app, d.now())
	return dec.Decision, err
}

// apiHarness is a real API on a real store on an embedded NATS server,
// served by httptest, with one token per role.
type apiHarness struct {
	t       *testing.T
	store   *Store
	clock   *testClock
	decider *apiDecider
	api     *API
	srv     *httptest.Server
	tokens  map[Role]string
}

func newAPIHarness(t *testing.T, configure ...func(*APIConfig)) *apiHarness {
	t.Helper()
	store, clock, _ := newTestStore(t)
	h := &apiHarness{t: t, store: store, clock: clock, tokens: map[Role]string{}}
	h.decider = &apiDecider{store: store, now: clock.Now, ready: true}
	cfg := APIConfig{Store: store, Decider: h.decider, Now: clock.Now, PublicURL: "http://sluice.test", TempDir: t.TempDir(),
		RateLimit: RateLimit{PerSecond: -1}}
	for _, c := range configure {
		c(&cfg)
	}
	api, err := NewAPI(cfg)
	if err != nil {
		t.Fatalf("new API: %v", err)
	}
	h.api = api
	h.srv = httptest.NewServer(api.Handler())
	t.Cleanup(h.srv.Close)
	for _, role := range Roles() {
		secret, err := store.CreateToken(testCtx(t), string(role)+"-token", role, "test")
		if err != nil {
			t.Fatalf("create %s token: %v", role, err)
		}
		h.tokens[role] = secret
	}
	return h
}

// apiAnswer is one HTTP answer.
type apiAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

// errorText returns the answer's JSON error sentence.
func (a apiAnswer) errorText() string {
	var e errorBody
	_ = json.Unmarshal(a.Body, &e)
	return e.Error
}

func (a apiAnswer) errorLines() []string {
	var e errorBody
	_ = json.Unmarshal(a.Body, &e)
	return e.Errors
}

// request sends method path with body; token "" sends none.
func (h *apiHarness) request(method, path, token, contentType string, body []byte) apiAnswer {
	h.t.Helper()
	req, err := http.NewRequestWithContext(testCtx(h.t), method, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatalf("new request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	return apiAnswer{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// as sends a request with the token of role.
func (h *apiHarness) as(role Role, method, path, contentType string, body []byte) apiAnswer {
	h.t.Helper()
	return h.request(method, path, h.tokens[role], contentType, body)
}

// decode reads an answer's JSON into v, failing the test on a status other
// than want.
func (h *apiHarness) decode(a apiAnswer, want int, v any) {
	h.t.Helper()
	if a.Status != want {
		h.t.Fatalf("status %d, want %d; body: %s", a.Status, want, a.Body)
	}
	if v == nil {
		return
	}
	if err := json.Unmarshal(a.Body, v); err != nil {
		h.t.Fatalf("decode %s: %v", a.Body, err)
	}
}

// applyYAML applies manifests as role and returns the result.
func (h *apiHarness) applyYAML(role Role, yaml string) ApplyResult {
	h.t.Helper()
	var res ApplyResult
	h.decode(h.as(role, http.MethodPost, "/api/v1/apply", "application/yaml", []byte(yaml)), http.StatusOK, &res)
	return res
}

// putDevice stores a device in the inventory as a report would.
func (h *apiHarness) putDevice(id string, labels map[string]string, apps map[string]protocol.InstalledApp) {
	h.t.Helper()
	_, err := h.store.Devices().Put(testCtx(h.t), id, DeviceRecord{Device: policy.Device{ID: id, Labels: labels, Platform: "android", SDK: 30, AgentVersion: "1.0.0", Apps: apps}}, AnyRevision, "test")
	if err != nil {
		h.t.Fatalf("put device %s: %v", id, err)
	}
}

// auditEntries returns the audit log, optionally only one outcome.
func (h *apiHarness) auditEntries(outcome AuditOutcome) []AuditEntry {
	h.t.Helper()
	es, err := h.store.QueryAudit(testCtx(h.t), AuditQuery{Outcome: outcome, Limit: MaxLogLimit})
	if err != nil {
		h.t.Fatalf("query audit: %v", err)
	}
	return es
}

// Manifests the tests apply.
const (
	posPolicyYAML = `
apiVersion: sluice.dev/v1
kind: UpdatePolicy
metadata: {name: pos-stable}
spec:
  app: com.example.pos
  mode: highPriority
`
	berlinGroupYAML = `
apiVersion: sluice.dev/v1
kind: DeviceGroup
metadata: {name: berlin}
spec:
  selector: store=berlin-01
`
	posAssignmentYAML = `
apiVersion: sluice.dev/v1
kind: Assignment
metadata: {name: pos-berlin}
spec:
  policy: pos-stable
  groups: [berlin]
  priority: 10
`
	posReleasesYAML = `
apiVersion: sluice.dev/v1
kind: Release
metadata: {name: pos-1}
spec:
  app: com.example.pos
  versionName: 1.0.0
  versionCode: 100
  publishedAt: 2026-01-10T09:00:00Z
  artifact:
    urls: [https://apks.example.com/pos-1.0.0.apk]
    sha256: 2f2239aad048c0726e1be24e8bbff440a17b2b5989ca0aed84e4968ca8265942
    size: 1000
    signerSha256: [fb600c0ce4b41d9a59a30c4f6d2aa35c141e0fc74c879565a75d45dd91096f3e]
    minSdk: 21
---
apiVersion: sluice.dev/v1
kind: Release
metadata: {name: pos-2}
spec:
  app: com.example.pos
  versionName: 2.0.0
  versionCode: 200
  publishedAt: 2026-05-01T09:00:00Z
  artifact:
    urls: [https://apks.example.com/pos-2.0.0.apk, https://mirror.example.com/pos-2.0.0.apk]
    sha256: 5c0d30f357f06e27b97bd414de0c5d01cf5f2445f330eb3906ca8b7eca61346f
    size: 2000
    signerSha256: [fb600c0ce4b41d9a59a30c4f6d2aa35c141e0fc74c879565a75d45dd91096f3e]
    minSdk: 21
  releaseNotes: POS 2.0.0.
  appStoreId: "1234567"
`
)

// docs joins manifests into one multi-document body.
func docs(parts ...string) string { return strings.Join(parts, "\n---\n") }

// seedPOS applies the POS releases, policy, group and assignment.
func (h *apiHarness) seedPOS() {
	h.t.Helper()
	h.applyYAML(RoleOperator, docs(posReleasesYAML, posPolicyYAML, berlinGroupYAML, posAssignmentYAML))
}
