package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// Kind names one kind of object the [Store] keeps, each in its own KV
// bucket.
type Kind string

// Kinds of stored objects.
const (
	KindRelease    Kind = "release"
	KindPolicy     Kind = "policy"
	KindGroup      Kind = "group"
	KindAssignment Kind = "assignment"
	KindRule       Kind = "rule"
	KindDevice     Kind = "device"
	KindDirective  Kind = "directive"
	KindToken      Kind = "token"
	KindMeta       Kind = "meta"
)

// StoreNames are the JetStream names the store uses. Two controllers
// share state when they use the same names on the same NATS.
type StoreNames struct {
	// KV buckets, one per kind.
	Releases, Policies, Groups, Assignments, Rules string
	Devices, Directives, Tokens, Meta              string
	// DecisionIndex is the KV bucket mapping decision ids to their
	// decision-log sequence.
	DecisionIndex string
	// Streams.
	Reports, Events, Decisions, Audit string
	// Artifacts is the object store bucket of APKs.
	Artifacts string
}

// DefaultStoreNames returns the names a controller uses unless configured
// otherwise.
func DefaultStoreNames() StoreNames {
	return StoreNames{
		Releases: "releases", Policies: "policies", Groups: "groups", Assignments: "assignments", Rules: "rules",
		Devices: "devices", Directives: "directives", Tokens: "tokens", Meta: "meta",
		DecisionIndex: "decision_index",
		Reports:       "REPORTS", Events: "EVENTS", Decisions: "DECISIONS", Audit: "AUDIT",
		Artifacts: "artifacts",
	}
}

// withDefaults fills empty names from DefaultStoreNames.
func (n StoreNames) withDefaults() StoreNames {
	d := DefaultStoreNames()
	for _, f := range []struct{ got, def *string }{
		{&n.Releases, &d.Releases}, {&n.Policies, &d.Policies}, {&n.Groups, &d.Groups},
		{&n.Assignments, &d.Assignments}, {&n.Rules, &d.Rules}, {&n.Devices, &d.Devices},
		{&n.Directives, &d.Directives}, {&n.Tokens, &d.Tokens}, {&n.Meta, &d.Meta},
		{&n.DecisionIndex, &d.DecisionIndex}, {&n.Reports, &d.Reports}, {&n.Events, &d.Events},
		{&n.Decisions, &d.Decisions}, {&n.Audit, &d.Audit}, {&n.Artifacts, &d.Artifacts},
	} {
		if *f.got == "" {
			*f.got = *f.def
		}
	}
	return n
}

// check refuses names that JetStream does not accept or that two parts of
// the store would share.
func (n StoreNames) check() error {
	seen := map[string]string{}
	for _, f := range []struct{ what, name string }{
		{"Releases", n.Releases}, {"Policies", n.Policies}, {"Groups", n.Groups}, {"Assignments", n.Assignments},
		{"Rules", n.Rules}, {"Devices", n.Devices}, {"Directives", n.Directives}, {"Tokens", n.Tokens},
		{"Meta", n.Meta}, {"DecisionIndex", n.DecisionIndex}, {"Reports", n.Reports}, {"Events", n.Events},
		{"Decisions", n.Decisions}, {"Audit", n.Audit}, {"Artifacts", n.Artifacts},
	} {
		for i := 0; i < len(f.name); i++ {
			c := f.name[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return &ValidationError{Kind: "store config", Field: "Names." + f.what, Value: f.name, Allowed: "letters, digits, '-' and '_'"}
			}
		}
		if other, dup := seen[f.name]; dup {
			return &ValidationError{Kind: "store config", Field: "Names." + f.what, Value: f.name, Allowed: "a name not already used by Names." + other}
		}
		seen[f.name] = f.what
	}
	return nil
}

// StreamLimits bound one stream. A zero field takes the stream's default;
// a negative one means no limit.
type StreamLimits struct {
	MaxAge   time.Duration
	MaxBytes int64
}

// Default stream limits.
var (
	DefaultReportLimits   = StreamLimits{MaxAge: 7 * 24 * time.Hour, MaxBytes: 1 << 30}
	DefaultEventLimits    = StreamLimits{MaxAge: 30 * 24 * time.Hour, MaxBytes: 1 << 30}
	DefaultDecisionLimits = StreamLimits{MaxAge: 180 * 24 * time.Hour, MaxBytes: 2 << 30}
	DefaultAuditLimits    = StreamLimits{MaxAge: 400 * 24 * time.Hour, MaxBytes: 1 << 30}
)

func (l StreamLimits) withDefaults(d StreamLimits) StreamLimits {
	if l.MaxAge == 0 {
		l.MaxAge = d.MaxAge
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxAge < 0 {
		l.MaxAge = 0 // JetStream: no age limit
	}
	if l.MaxBytes < 0 {
		l.MaxBytes = -1 // JetStream: no size limit
	}
	return l
}

// StoreConfig configures [OpenStore]. The zero value is a single-node
// store with the default names and limits.
type StoreConfig struct {
	// Names overrides bucket and stream names; empty fields keep
	// DefaultStoreNames.
	Names StoreNames
	// Replicas is the replica count of every bucket and stream: 1 (the
	// default when 0) on an embedded server, 3 or 5 on a JetStream cluster.
	Replicas int
	// Limits of the streams; zero fields take the Default*Limits.
	Reports, Events, Decisions, Audit StreamLimits
	// Logger receives store warnings; nil discards them.
	Logger *slog.Logger
	// Now is the clock for updatedAt and log timestamps; nil is time.Now.
	Now func() time.Time
}

// kvHistory is how many revisions of each object a bucket keeps. Desired
// state keeps enough to replay decisions against the revision that made
// them; fast-changing device state keeps only the latest.
var kvHistory = map[Kind]uint8{
	KindRelease: 8, KindPolicy: 64, KindGroup: 64, KindAssignment: 64, KindRule: 64,
	KindDevice: 1, KindDirective: 1, KindToken: 1, KindMeta: 8,
}

// Store keeps all controller state in JetStream: KV buckets per kind, the
// report, event, decision and audit streams, and the artifact object
// store. It is safe for concurrent use, also by several controller
// processes sharing one NATS (cluster).
type Store struct {
	js       jetstream.JetStream
	names    StoreNames
	replicas int
	now      func() time.Time
	log      *slog.Logger

	decisionIndex jetstream.KeyValue
	decisions     jetstream.Stream
	audit         jetstream.Stream
	objects       jetstream.ObjectStore
	artifactLocks artifactLocks

	releases    *Collection[policy.Release]
	policies    *Collection[policy.UpdatePolicy]
	groups      *Collection[fleet.DeviceGroup]
	assignments *Collection[fleet.Assignment]
	rules       *Collection[policy.Rule]
	devices     *Collection[DeviceRecord]
	directives  *Collection[DirectiveRecord]
	tokens      *Collection[Token]
	meta        *Collection[json.RawMessage]
}

// OpenStore creates, or binds to and updates, every bucket and stream the
// controller uses on nc. It is idempotent: each controller replica calls it
// at start.
func OpenStore(ctx context.Context, nc *nats.Conn, cfg StoreConfig) (*Store, error) {
	names := cfg.Names.withDefaults()
	if err := names.check(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("controller: open store: %w", err)
	}
	s := &Store{
		js:       js,
		names:    names,
		replicas: cfg.Replicas,
		now:      cfg.Now,
		log:      cfg.Logger,
	}
	if s.replicas <= 0 {
		s.replicas = 1
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}

	n := s.names
	if s.releases, err = openCollection(ctx, s, KindRelease, n.Releases, releaseRules()); err != nil {
		return nil, err
	}
	if s.policies, err = openCollection(ctx, s, KindPolicy, n.Policies, policyRules()); err != nil {
		return nil, err
	}
	if s.groups, err = openCollection(ctx, s, KindGroup, n.Groups, groupRules()); err != nil {
		return nil, err
	}
	if s.assignments, err = openCollection(ctx, s, KindAssignment, n.Assignments, assignmentRules()); err != nil {
		return nil, err
	}
	if s.rules, err = openCollection(ctx, s, KindRule, n.Rules, ruleRules()); err != nil {
		return nil, err
	}
	if s.devices, err = openCollection(ctx, s, KindDevice, n.Devices, deviceRules()); err != nil {
		return nil, err
	}
	if s.directives, err = openCollection(ctx, s, KindDirective, n.Directives, directiveRules()); err != nil {
		return nil, err
	}
	if s.tokens, err = openCollection(ctx, s, KindToken, n.Tokens, tokenRules()); err != nil {
		return nil, err
	}
	if s.meta, err = openCollection(ctx, s, KindMeta, n.Meta, metaRules()); err != nil {
		return nil, err
	}

	decisionLimits := cfg.Decisions.withDefaults(DefaultDecisionLimits)
	if _, err := s.createStream(ctx, n.Reports, protocol.AllReportSubjects, "device reports", cfg.Reports.withDefaults(DefaultReportLimits)); err != nil {
		return nil, err
	}
	if _, err := s.createStream(ctx, n.Events, protocol.AllEventSubjects, "device update events", cfg.Events.withDefaults(DefaultEventLimits), protocol.AllAppEventSubjects); err != nil {
		return nil, err
	}
	if s.decisions, err = s.createStream(ctx, n.Decisions, protocol.AllDecisionLogSubjects, "decision log", decisionLimits); err != nil {
		return nil, err
	}
	if s.audit, err = s.createStream(ctx, n.Audit, protocol.AllAuditLogSubjects, "admin audit log", cfg.Audit.withDefaults(DefaultAuditLimits)); err != nil {
		return nil, err
	}
	// The index lives as long as the entries it points to.
	s.decisionIndex, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      n.DecisionIndex,
		Description: "sluice decision id -> decision log sequence",
		History:     1,
		TTL:         decisionLimits.MaxAge,
		Storage:     jetstream.FileStorage,
		Replicas:    s.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("controller: open store: bucket %s: %w", n.DecisionIndex, err)
	}
	s.objects, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      n.Artifacts,
		Description: "sluice APKs by sha256",
		Storage:     jetstream.FileStorage,
		Replicas:    s.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("controller: open store: object store %s: %w", n.Artifacts, err)
	}
	return s, nil
}

// extra subjects are captured too (the events stream also keeps the events
// apps report over HTTP without a device id).
func (s *Store) createStream(ctx context.Context, name, subject, what string, l StreamLimits, extra ...string) (jetstream.Stream, error) {
	st, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        name,
		Description: "sluice " + what,
		Subjects:    append([]string{subject}, extra...),
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      l.MaxAge,
		MaxBytes:    l.MaxBytes,
		Storage:     jetstream.FileStorage,
		Replicas:    s.replicas,
		Duplicates:  2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("controller: open store: stream %s (%s): %w", name, what, err)
	}
	return st, nil
}

// JetStream returns the JetStream context the store uses, for consumers of
// the report and event streams.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// Names returns the bucket and stream names in use.
func (s *Store) Names() StoreNames { return s.names }

// Releases are immutable: see [Collection.Put].
func (s *Store) Releases() *Collection[policy.Release] { return s.releases }

// Policies are keyed by policy name.
func (s *Store) Policies() *Collection[policy.UpdatePolicy] { return s.policies }

// Groups are keyed by group name (DeviceGroup.Name).
func (s *Store) Groups() *Collection[fleet.DeviceGroup] { return s.groups }

// Assignments are keyed by assignment name (Assignment.Name).
func (s *Store) Assignments() *Collection[fleet.Assignment] { return s.assignments }

// Rules are keyed by rule name (Rule.Name).
func (s *Store) Rules() *Collection[policy.Rule] { return s.rules }

// Devices is the inventory, keyed by device id.
func (s *Store) Devices() *Collection[DeviceRecord] { return s.devices }

// Directives holds the last signed directive per device, keyed by device id.
func (s *Store) Directives() *Collection[DirectiveRecord] { return s.directives }

// Tokens holds API tokens keyed by [TokenHash] of their secret.
func (s *Store) Tokens() *Collection[Token] { return s.tokens }

// Meta holds small controller-wide settings as JSON objects.
func (s *Store) Meta() *Collection[json.RawMessage] { return s.meta }
