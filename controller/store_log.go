package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-mdm/sluice/protocol"
)

// KindDecision names decision-log entries in errors.
const KindDecision Kind = "decision"

// Log query bounds.
const (
	DefaultLogLimit = 100
	MaxLogLimit     = 10000
)

// logIdleTimeout ends a log scan that waits this long for a message the
// stream said was pending (it may have aged out meanwhile).
const logIdleTimeout = 5 * time.Second

// DecisionLogEntry is one decision as the auditor sees it, shaped like an
// OPA decision-log event (decision_id, timestamp, path, input, result,
// labels) plus the device, app and policy revision it concerns. Input and
// Result are kept byte for byte, so that a replay evaluates exactly the
// logged input.
type DecisionLogEntry struct {
	DecisionID string            `json:"decision_id"`
	Timestamp  time.Time         `json:"timestamp"`
	Path       string            `json:"path,omitempty"`
	Input      json.RawMessage   `json:"input"`
	Result     json.RawMessage   `json:"result"`
	Labels     map[string]string `json:"labels,omitempty"`
	Device     string            `json:"device"`
	App        string            `json:"app"`
	// Policy is the policy and revision that produced the decision; nil
	// when no policy applied.
	Policy *protocol.PolicyRef `json:"policy,omitempty"`
	// Seq is the entry's sequence in the decision log, set when appended
	// or read; pass the last one as After to page through a query.
	Seq uint64 `json:"seq,omitempty"`
}

// DecisionQuery selects decision-log entries. Zero fields do not filter.
type DecisionQuery struct {
	// Device is served by the stream (one subject per device); App is
	// matched while reading.
	Device string
	App    string
	// Since skips entries whose timestamp is before it.
	Since time.Time
	// After skips entries up to and including this log sequence.
	After uint64
	// Limit caps the entries returned: DefaultLogLimit when 0, at most
	// MaxLogLimit.
	Limit int
	// Tail returns the last Limit matching entries instead of the first;
	// it reads every matching entry from Since/After on, so narrow it.
	Tail bool
}

// AppendDecision appends e to the decision log and indexes its decision
// id. A zero Timestamp is set to now. Appending the same decision id again
// within two minutes is deduplicated by the stream and returns the first
// entry's sequence. It returns e with Timestamp and Seq set.
//
// Lookup by id ([Store.GetDecision]) uses a KV index (decision id → log
// sequence) written right after the entry, with the log's max age as TTL:
// one extra write per decision instead of a scan per lookup. If the index
// write fails the entry is logged but not findable by id, and the error
// says so.
func (s *Store) AppendDecision(ctx context.Context, e DecisionLogEntry) (DecisionLogEntry, error) {
	invalid := func(field string, v any, allowed string) error {
		return &ValidationError{Kind: "decision log entry", Name: e.DecisionID, Field: field, Value: v, Allowed: allowed}
	}
	if _, err := objectKey(KindDecision, e.DecisionID); err != nil {
		return e, invalid("decision_id", e.DecisionID, "1 to 253 letters, digits, '.', '-' and '_', starting with a letter or digit")
	}
	subject, err := protocol.DecisionLogSubject(e.Device)
	if err != nil {
		return e, invalid("device", e.Device, err.Error())
	}
	if err := protocol.ValidatePackageName(e.App); err != nil {
		return e, invalid("app", e.App, "an Android package name: "+err.Error())
	}
	if !json.Valid(e.Input) {
		return e, invalid("input", string(e.Input), "a JSON document")
	}
	if !json.Valid(e.Result) {
		return e, invalid("result", string(e.Result), "a JSON document")
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = s.now()
	}
	e.Timestamp = e.Timestamp.UTC()
	e.Seq = 0
	data, err := json.Marshal(e)
	if err != nil {
		return e, fmt.Errorf("controller: append decision %s: encode: %w", e.DecisionID, err)
	}
	ack, err := s.js.Publish(ctx, subject, data, jetstream.WithMsgID(e.DecisionID), jetstream.WithExpectStream(s.names.Decisions))
	if err != nil {
		return e, fmt.Errorf("controller: append decision %s for %s/%s: %w", e.DecisionID, e.Device, e.App, err)
	}
	e.Seq = ack.Sequence
	if _, err := s.decisionIndex.Put(ctx, e.DecisionID, strconv.AppendUint(nil, ack.Sequence, 10)); err != nil {
		return e, fmt.Errorf("controller: decision %s logged at sequence %d but not indexed by id: %w", e.DecisionID, ack.Sequence, err)
	}
	return e, nil
}

// GetDecision returns the decision-log entry with this decision id, or a
// *NotFoundError if it was never logged or has aged out.
func (s *Store) GetDecision(ctx context.Context, decisionID string) (DecisionLogEntry, error) {
	if _, err := objectKey(KindDecision, decisionID); err != nil {
		return DecisionLogEntry{}, &ValidationError{Kind: "decision log query", Field: "decision_id", Value: decisionID,
			Allowed: "1 to 253 letters, digits, '.', '-' and '_', starting with a letter or digit"}
	}
	notFound := &NotFoundError{Kind: KindDecision, Name: decisionID}
	ie, err := s.decisionIndex.Get(ctx, decisionID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return DecisionLogEntry{}, notFound
	}
	if err != nil {
		return DecisionLogEntry{}, fmt.Errorf("controller: get decision %s: index: %w", decisionID, err)
	}
	seq, err := strconv.ParseUint(string(ie.Value()), 10, 64)
	if err != nil {
		return DecisionLogEntry{}, &MalformedError{Bucket: s.names.DecisionIndex, Key: decisionID, Revision: ie.Revision(), Err: err}
	}
	m, err := s.decisions.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DecisionLogEntry{}, notFound
	}
	if err != nil {
		return DecisionLogEntry{}, fmt.Errorf("controller: get decision %s: log sequence %d: %w", decisionID, seq, err)
	}
	e, err := s.decodeDecision(m.Subject, m.Sequence, m.Data)
	if err != nil {
		return DecisionLogEntry{}, err
	}
	if e.DecisionID != decisionID {
		return DecisionLogEntry{}, notFound
	}
	return e, nil
}

func (s *Store) decodeDecision(subject string, seq uint64, data []byte) (DecisionLogEntry, error) {
	var e DecisionLogEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return e, &MalformedError{Stream: s.names.Decisions, Subject: subject, Seq: seq, Err: err}
	}
	e.Seq = seq
	return e, nil
}

// QueryDecisions returns the decision-log entries matching q, oldest
// first. Entries that cannot be decoded are left out and reported in the
// error (wrapping *MalformedError) next to the ones returned.
func (s *Store) QueryDecisions(ctx context.Context, q DecisionQuery) ([]DecisionLogEntry, error) {
	filter := protocol.AllDecisionLogSubjects
	if q.Device != "" {
		subject, err := protocol.DecisionLogSubject(q.Device)
		if err != nil {
			return nil, &ValidationError{Kind: "decision log query", Field: "device", Value: q.Device, Allowed: err.Error()}
		}
		filter = subject
	}
	limit, err := logLimit("decision log query", q.Limit)
	if err != nil {
		return nil, err
	}
	out := newLogWindow[DecisionLogEntry](limit, q.Tail)
	var bad []error
	err = s.scanLog(ctx, s.decisions, filter, q.Since, q.After, func(m jetstream.Msg, seq uint64) bool {
		e, err := s.decodeDecision(m.Subject(), seq, m.Data())
		if err != nil {
			bad = append(bad, err)
			return true
		}
		if q.App != "" && e.App != q.App || e.Timestamp.Before(q.Since) {
			return true
		}
		return out.add(e)
	})
	if err != nil {
		return nil, fmt.Errorf("controller: query decision log: %w", err)
	}
	return out.entries(), errors.Join(bad...)
}

// AuditOutcome is how an audited action ended.
type AuditOutcome string

// Audit outcomes.
const (
	AuditOK     AuditOutcome = "ok"
	AuditDenied AuditOutcome = "denied"
	AuditError  AuditOutcome = "error"
)

// auditKindNone is the subject token of entries about no particular kind.
const auditKindNone = "none"

// AuditEntry is one admin action in the audit log.
type AuditEntry struct {
	Time time.Time `json:"time"`
	// Actor is the token name that acted; Role its role.
	Actor  string `json:"actor"`
	Role   string `json:"role,omitempty"`
	Action string `json:"action"`
	// Kind, Name and Revision identify the object acted on, if any; Kind
	// is lowercase ("policy", "release", "token").
	Kind     string       `json:"kind,omitempty"`
	Name     string       `json:"name,omitempty"`
	Revision uint64       `json:"revision,omitempty"`
	Outcome  AuditOutcome `json:"outcome"`
	// Detail says more: the error, or the role that was missing.
	Detail string `json:"detail,omitempty"`
	// Seq is the entry's sequence in the audit log, set when appended or
	// read.
	Seq uint64 `json:"seq,omitempty"`
}

// AuditQuery selects audit-log entries. Zero fields do not filter.
type AuditQuery struct {
	// Kind is served by the stream; Actor, Action and Outcome are matched
	// while reading.
	Kind    string
	Actor   string
	Action  string
	Outcome AuditOutcome
	Since   time.Time
	After   uint64
	Limit   int
	Tail    bool
}

// AppendAudit appends e to the admin audit log. A zero Time is set to now.
// It returns e with Time and Seq set.
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	invalid := func(field string, v any, allowed string) error {
		return &ValidationError{Kind: "audit entry", Field: field, Value: v, Allowed: allowed}
	}
	if e.Actor == "" {
		return e, invalid("actor", e.Actor, "the acting token's name")
	}
	if e.Action == "" {
		return e, invalid("action", e.Action, "the action taken, such as apply or delete")
	}
	switch e.Outcome {
	case AuditOK, AuditDenied, AuditError:
	default:
		return e, invalid("outcome", string(e.Outcome), "ok, denied or error")
	}
	kind := e.Kind
	if kind == "" {
		kind = auditKindNone
	}
	subject, err := protocol.AuditLogSubject(kind)
	if err != nil {
		return e, invalid("kind", e.Kind, "lowercase letters, digits, '-' and '_' ("+err.Error()+")")
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Time = e.Time.UTC()
	e.Seq = 0
	data, err := json.Marshal(e)
	if err != nil {
		return e, fmt.Errorf("controller: append audit entry: encode: %w", err)
	}
	ack, err := s.js.Publish(ctx, subject, data, jetstream.WithExpectStream(s.names.Audit))
	if err != nil {
		return e, fmt.Errorf("controller: append audit entry %s by %s: %w", e.Action, e.Actor, err)
	}
	e.Seq = ack.Sequence
	return e, nil
}

// QueryAudit returns the audit-log entries matching q, oldest first, with
// malformed entries reported as in QueryDecisions.
func (s *Store) QueryAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	filter := protocol.AllAuditLogSubjects
	if q.Kind != "" {
		subject, err := protocol.AuditLogSubject(q.Kind)
		if err != nil {
			return nil, &ValidationError{Kind: "audit log query", Field: "kind", Value: q.Kind, Allowed: "lowercase letters, digits, '-' and '_'"}
		}
		filter = subject
	}
	limit, err := logLimit("audit log query", q.Limit)
	if err != nil {
		return nil, err
	}
	out := newLogWindow[AuditEntry](limit, q.Tail)
	var bad []error
	err = s.scanLog(ctx, s.audit, filter, q.Since, q.After, func(m jetstream.Msg, seq uint64) bool {
		var e AuditEntry
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			bad = append(bad, &MalformedError{Stream: s.names.Audit, Subject: m.Subject(), Seq: seq, Err: err})
			return true
		}
		e.Seq = seq
		if q.Actor != "" && e.Actor != q.Actor || q.Action != "" && e.Action != q.Action ||
			q.Outcome != "" && e.Outcome != q.Outcome || e.Time.Before(q.Since) {
			return true
		}
		return out.add(e)
	})
	if err != nil {
		return nil, fmt.Errorf("controller: query audit log: %w", err)
	}
	return out.entries(), errors.Join(bad...)
}

func logLimit(what string, limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultLogLimit, nil
	case limit < 0 || limit > MaxLogLimit:
		return 0, &ValidationError{Kind: what, Field: "limit", Value: limit, Allowed: fmt.Sprintf("1 to %d (0 for %d)", MaxLogLimit, DefaultLogLimit)}
	}
	return limit, nil
}

// logWindow keeps the first n entries, or with tail the last n.
type logWindow[E any] struct {
	n    int
	tail bool
	buf  []E
	next int // ring position once a tail window is full
}

func newLogWindow[E any](n int, tail bool) *logWindow[E] {
	return &logWindow[E]{n: n, tail: tail, buf: make([]E, 0, min(n, 256))}
}

// add keeps e and reports whether the scan should go on.
func (w *logWindow[E]) add(e E) bool {
	if len(w.buf) < w.n {
		w.buf = append(w.buf, e)
		return w.tail || len(w.buf) < w.n
	}
	w.buf[w.next] = e
	w.next = (w.next + 1) % w.n
	return true
}

func (w *logWindow[E]) entries() []E {
	if w.next == 0 {
		return w.buf
	}
	return append(w.buf[w.next:], w.buf[:w.next]...)
}

// sinceSlack widens a Since query on the server side: entries are matched
// on their own timestamp, which the writer sets and which may precede the
// time the stream stored them by a little (or by clock skew).
const sinceSlack = 5 * time.Minute

// scanLog reads the messages of stream matching filter, from sequence
// after+1, or from those stored since sinceSlack before since, with an
// ordered consumer, and calls visit for each until visit returns false or
// the messages pending when the scan began are read.
func (s *Store) scanLog(ctx context.Context, stream jetstream.Stream, filter string, since time.Time, after uint64, visit func(m jetstream.Msg, seq uint64) bool) error {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{filter},
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: 30 * time.Second,
	}
	switch {
	case after > 0:
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = after + 1
	case !since.IsZero():
		start := since.Add(-sinceSlack)
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &start
	}
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(256))
	if err != nil {
		return err
	}
	defer it.Stop()
	if info := cons.CachedInfo(); info == nil || info.NumPending == 0 {
		return nil
	}
	for {
		nctx, cancel := context.WithTimeout(ctx, logIdleTimeout)
		m, err := it.Next(jetstream.NextContext(nctx))
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return nil // what was pending has aged out
			}
			return err
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		if !visit(m, md.Sequence.Stream) || md.NumPending == 0 {
			return nil
		}
	}
}
