package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Expected revisions with a special meaning for [Collection.Put] and
// [Collection.Delete]. Any other value is the revision the caller read and
// based its change on.
const (
	// CreateOnly makes Put fail with ErrConflict if the object exists.
	CreateOnly uint64 = 0
	// AnyRevision makes Put an unconditional upsert and Delete an
	// unconditional delete. Use it only for writes that cannot race with
	// an admin's change (a device's own report, a generated token).
	AnyRevision uint64 = math.MaxUint64
)

// Record is one stored object with its bookkeeping.
type Record[T any] struct {
	Name string `json:"name"`
	// Revision is the KV revision of this version of the object. It
	// increases monotonically across the whole bucket, so a later change
	// to any object of the kind has a higher revision.
	Revision  uint64    `json:"revision"`
	UpdatedAt time.Time `json:"updatedAt"`
	// UpdatedBy names who made the change: a token name, or a controller
	// component such as "reconciler".
	UpdatedBy string `json:"updatedBy,omitempty"`
	Value     T      `json:"value"`
}

// storedValue is the JSON kept in the bucket. The revision is not stored:
// it is the KV revision, known only once written.
type storedValue struct {
	UpdatedAt time.Time       `json:"updatedAt"`
	UpdatedBy string          `json:"updatedBy,omitempty"`
	Value     json.RawMessage `json:"value"`
}

// kindRules are what differs between kinds: how names become keys and
// what a value must satisfy.
type kindRules[T any] struct {
	// key checks a name and returns its KV key.
	key func(kind Kind, name string) (string, error)
	// name turns a KV key back into a name.
	name func(key string) string
	// validate checks, and may complete, a value about to be stored as name.
	validate func(kind Kind, name string, v *T) error
	// same is set for immutable kinds: it returns nil when given is the same
	// object as stored, and the error to return otherwise.
	same func(stored, given *T) error
}

// Collection is one kind of object in its KV bucket.
type Collection[T any] struct {
	s      *Store
	kind   Kind
	bucket string
	kv     jetstream.KeyValue
	rules  kindRules[T]
}

func openCollection[T any](ctx context.Context, s *Store, kind Kind, bucket string, rules kindRules[T]) (*Collection[T], error) {
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: fmt.Sprintf("sluice %s objects", kind),
		History:     kvHistory[kind],
		Storage:     jetstream.FileStorage,
		Replicas:    s.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("controller: open store: bucket %s: %w", bucket, err)
	}
	return &Collection[T]{s: s, kind: kind, bucket: bucket, kv: kv, rules: rules}, nil
}

// Kind is the kind of object the collection holds.
func (c *Collection[T]) Kind() Kind { return c.kind }

// Bucket is the KV bucket the collection lives in.
func (c *Collection[T]) Bucket() string { return c.bucket }

// Get returns the current version of the object, or a *NotFoundError.
func (c *Collection[T]) Get(ctx context.Context, name string) (Record[T], error) {
	key, err := c.rules.key(c.kind, name)
	if err != nil {
		return Record[T]{}, err
	}
	e, err := c.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record[T]{}, &NotFoundError{Kind: c.kind, Name: name}
	}
	if err != nil {
		return Record[T]{}, fmt.Errorf("controller: get %s %q: %w", c.kind, name, err)
	}
	return c.decode(e)
}

// GetRevision returns the object as it was at revision, while the bucket's
// history still holds it (policies, groups, assignments and rules keep 64
// revisions).
func (c *Collection[T]) GetRevision(ctx context.Context, name string, revision uint64) (Record[T], error) {
	key, err := c.rules.key(c.kind, name)
	if err != nil {
		return Record[T]{}, err
	}
	e, err := c.kv.GetRevision(ctx, key, revision)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrMsgNotFound) {
		return Record[T]{}, &NotFoundError{Kind: c.kind, Name: name, Revision: revision}
	}
	if err != nil {
		return Record[T]{}, fmt.Errorf("controller: get %s %q revision %d: %w", c.kind, name, revision, err)
	}
	return c.decode(e)
}

// List returns every object of the kind, sorted by name. When some stored
// values cannot be decoded, it still returns all the others, together with
// an error that wraps a *MalformedError for each bad one.
func (c *Collection[T]) List(ctx context.Context) ([]Record[T], error) {
	return c.list(ctx, ">")
}

// list reads the current value of every key matching filter through one
// watcher, which costs one consumer instead of a request per key.
func (c *Collection[T]) list(ctx context.Context, filter string) ([]Record[T], error) {
	w, err := c.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("controller: list %s: %w", c.kind, err)
	}
	defer func() { _ = w.Stop() }()
	var (
		out  []Record[T]
		errs []error
	)
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("controller: list %s: %w", c.kind, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("controller: list %s: watcher closed before the initial values were read", c.kind)
			}
			if e == nil { // all current values delivered
				slices.SortFunc(out, func(a, b Record[T]) int { return strings.Compare(a.Name, b.Name) })
				return out, errors.Join(errs...)
			}
			r, err := c.decode(e)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, r)
		}
	}
}

// Put stores value under name if the object's current revision is
// expected: [CreateOnly] (0) for a new object, the revision read before
// the change for an update, or [AnyRevision] for an unconditional upsert.
// A lost race returns a *ConflictError (errors.Is ErrConflict) and changes
// nothing. by names who makes the change.
//
// Releases are immutable: Put creates one (expected must be CreateOnly or
// AnyRevision), returns the stored record unchanged when the same release
// (same sha256) is put again, and refuses different content under the same
// app and versionCode with an *ImmutableError.
func (c *Collection[T]) Put(ctx context.Context, name string, value T, expected uint64, by string) (Record[T], error) {
	key, err := c.rules.key(c.kind, name)
	if err != nil {
		return Record[T]{}, err
	}
	if c.rules.validate != nil {
		if err := c.rules.validate(c.kind, name, &value); err != nil {
			return Record[T]{}, err
		}
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return Record[T]{}, fmt.Errorf("controller: put %s %q: encode: %w", c.kind, name, err)
	}
	now := c.s.now().UTC()
	data, err := json.Marshal(storedValue{UpdatedAt: now, UpdatedBy: by, Value: raw})
	if err != nil {
		return Record[T]{}, fmt.Errorf("controller: put %s %q: encode: %w", c.kind, name, err)
	}
	// Hand back exactly what a later Get returns.
	var stored T
	if err := json.Unmarshal(raw, &stored); err != nil {
		return Record[T]{}, fmt.Errorf("controller: put %s %q: decode: %w", c.kind, name, err)
	}
	if c.rules.same != nil {
		return c.putImmutable(ctx, name, key, data, stored, expected, now, by)
	}
	rev, err := c.write(ctx, key, data, expected)
	if err != nil {
		return Record[T]{}, c.writeError(ctx, "put", name, key, expected, err)
	}
	return Record[T]{Name: name, Revision: rev, UpdatedAt: now, UpdatedBy: by, Value: stored}, nil
}

func (c *Collection[T]) putImmutable(ctx context.Context, name, key string, data []byte, value T, expected uint64, now time.Time, by string) (Record[T], error) {
	if expected != CreateOnly && expected != AnyRevision {
		return Record[T]{}, &ValidationError{Kind: string(c.kind), Name: name, Field: "expected revision", Value: expected,
			Allowed: "0 (create) or AnyRevision: this kind is immutable and is never updated"}
	}
	rev, err := c.write(ctx, key, data, CreateOnly)
	if err == nil {
		return Record[T]{Name: name, Revision: rev, UpdatedAt: now, UpdatedBy: by, Value: value}, nil
	}
	if !isConflict(err) {
		return Record[T]{}, c.writeError(ctx, "put", name, key, CreateOnly, err)
	}
	cur, err := c.Get(ctx, name)
	if err != nil {
		return Record[T]{}, err
	}
	if err := c.rules.same(&cur.Value, &value); err != nil {
		return Record[T]{}, err
	}
	return cur, nil
}

func (c *Collection[T]) write(ctx context.Context, key string, data []byte, expected uint64) (uint64, error) {
	switch expected {
	case AnyRevision:
		return c.kv.Put(ctx, key, data)
	case CreateOnly:
		return c.kv.Create(ctx, key, data)
	default:
		return c.kv.Update(ctx, key, data, expected)
	}
}

// Delete removes the object if its current revision is expected, or
// whatever its revision with [AnyRevision]. Deleting what does not exist
// returns a *NotFoundError with AnyRevision and a *ConflictError otherwise.
// Earlier revisions stay readable with GetRevision while the bucket's
// history keeps them.
func (c *Collection[T]) Delete(ctx context.Context, name string, expected uint64) error {
	key, err := c.rules.key(c.kind, name)
	if err != nil {
		return err
	}
	switch expected {
	case CreateOnly:
		return &ValidationError{Kind: string(c.kind), Name: name, Field: "expected revision", Value: expected,
			Allowed: "the revision being deleted, or AnyRevision"}
	case AnyRevision:
		if _, err := c.kv.Get(ctx, key); errors.Is(err, jetstream.ErrKeyNotFound) {
			return &NotFoundError{Kind: c.kind, Name: name}
		} else if err != nil {
			return fmt.Errorf("controller: delete %s %q: %w", c.kind, name, err)
		}
		err = c.kv.Delete(ctx, key)
	default:
		err = c.kv.Delete(ctx, key, jetstream.LastRevision(expected))
	}
	if err != nil {
		return c.writeError(ctx, "delete", name, key, expected, err)
	}
	return nil
}

func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// writeError turns a failed write into a *ConflictError naming the current
// revision, or wraps it with context.
func (c *Collection[T]) writeError(ctx context.Context, op, name, key string, expected uint64, err error) error {
	if !isConflict(err) {
		return fmt.Errorf("controller: %s %s %q: %w", op, c.kind, name, err)
	}
	var current uint64
	if e, gerr := c.kv.Get(ctx, key); gerr == nil {
		current = e.Revision()
	}
	return &ConflictError{Kind: c.kind, Name: name, Expected: expected, Current: current, Err: err}
}

func (c *Collection[T]) decode(e jetstream.KeyValueEntry) (Record[T], error) {
	bad := func(err error) (Record[T], error) {
		return Record[T]{}, &MalformedError{Bucket: c.bucket, Key: e.Key(), Revision: e.Revision(), Err: err}
	}
	var sv storedValue
	if err := json.Unmarshal(e.Value(), &sv); err != nil {
		return bad(err)
	}
	if len(sv.Value) == 0 || string(sv.Value) == "null" {
		return bad(errors.New(`it has no "value"`))
	}
	var v T
	if err := json.Unmarshal(sv.Value, &v); err != nil {
		return bad(err)
	}
	return Record[T]{Name: c.rules.name(e.Key()), Revision: e.Revision(), UpdatedAt: sv.UpdatedAt, UpdatedBy: sv.UpdatedBy, Value: v}, nil
}

// ChangeOp says what a [Change] is.
type ChangeOp int

// Change operations.
const (
	// ChangePut: the object was created or updated; Record holds it.
	ChangePut ChangeOp = iota + 1
	// ChangeDelete: the object was deleted.
	ChangeDelete
	// ChangeSynced: every object that existed when the watch began has
	// been delivered; what follows are live changes.
	ChangeSynced
)

func (op ChangeOp) String() string {
	switch op {
	case ChangePut:
		return "put"
	case ChangeDelete:
		return "delete"
	case ChangeSynced:
		return "synced"
	}
	return fmt.Sprintf("ChangeOp(%d)", int(op))
}

// Change is one event of a [Collection.Watch].
type Change[T any] struct {
	Op       ChangeOp
	Name     string
	Revision uint64
	// Record is set for ChangePut.
	Record Record[T]
	// Err is a *MalformedError when a put could not be decoded; Record is
	// then empty.
	Err error
}

// Watch delivers every current object as a ChangePut, then one
// ChangeSynced, then each change as it happens, whichever controller
// replica makes it. A reconciler builds its cache from the first part and
// keeps it current with the rest, with no gap between the two. The channel
// is closed when ctx ends or the watch fails.
func (c *Collection[T]) Watch(ctx context.Context) (<-chan Change[T], error) {
	w, err := c.kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("controller: watch %s: %w", c.kind, err)
	}
	out := make(chan Change[T], 64)
	go func() {
		defer close(out)
		defer func() { _ = w.Stop() }()
		synced := false
		for {
			var ch Change[T]
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					c.s.log.Warn("store watch closed", "kind", string(c.kind), "bucket", c.bucket)
					return
				}
				switch {
				case e == nil:
					synced = true
					ch = Change[T]{Op: ChangeSynced}
				case e.Operation() != jetstream.KeyValuePut:
					if !synced {
						continue // deleted before the watch began
					}
					ch = Change[T]{Op: ChangeDelete, Name: c.rules.name(e.Key()), Revision: e.Revision()}
				default:
					r, err := c.decode(e)
					ch = Change[T]{Op: ChangePut, Name: c.rules.name(e.Key()), Revision: e.Revision(), Record: r, Err: err}
				}
			}
			select {
			case out <- ch:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
