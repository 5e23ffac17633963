package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-mdm/sluice/policy"
)

// Reconciler defaults.
const (
	DefaultDirectiveTTL   = 24 * time.Hour
	DefaultResyncInterval = 5 * time.Minute
	DefaultDrainTimeout   = 10 * time.Second
	// DefaultWorkersPerCPU is how many evaluation workers run per core.
	DefaultWorkersPerCPU = 4
)

// ErrNotReady is returned while the reconciler has not loaded the
// catalog yet.
var ErrNotReady = errors.New("controller: reconciler is not ready (catalog not loaded yet)")

// ReconcilerConfig configures [NewReconciler].
type ReconcilerConfig struct {
	// Store holds the desired state, the inventory and the directives.
	// Required.
	Store *Store
	// Conn publishes directives and answers devices' sync requests.
	// Required.
	Conn *nats.Conn
	// Signer signs directives. Required. Every replica sharing a store
	// must use the same key, the one agents pin.
	Signer *Signer
	// Metrics records decisions, publishes, report lag and the queue; nil
	// creates a private set.
	Metrics *Metrics
	// Logger receives the reconciler's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock of evaluations and directives; nil is time.Now.
	Now func() time.Time
	// DirectiveTTL is how long a directive is valid; 0 is
	// DefaultDirectiveTTL. Directives are re-issued when less than a third
	// of it is left.
	DirectiveTTL time.Duration
	// ResyncInterval is how often every device is re-evaluated for
	// time-driven changes (effective windows, postponement ends,
	// forceAfter); 0 is DefaultResyncInterval.
	ResyncInterval time.Duration
	// Workers is the number of evaluation workers; 0 is
	// DefaultWorkersPerCPU × GOMAXPROCS. Evaluation is CPU-bound, but each
	// device also waits on three JetStream round trips (decision log, its
	// index, the directive's compare-and-set), so more workers than cores
	// keep the cores busy (see BENCHMARKS.md).
	Workers int
	// DrainTimeout bounds how long Run, once its context ends, keeps
	// evaluating devices already queued; 0 is DefaultDrainTimeout.
	DrainTimeout time.Duration
	// ReplicaID names this controller process in the decision log's
	// labels; empty is the host name and a random suffix.
	ReplicaID string
}

// Reconciler turns the desired state (policies, releases, groups,
// assignments, rules) and the device inventory into signed directives. It
// watches the store, so changes made through any controller replica take
// effect at once, re-evaluates exactly the devices a change can affect on a
// pool of workers, logs every decision whose outcome changed, and issues a
// new directive (compare-and-set on the directive's revision, so replicas
// never issue one sequence twice) to devices whose decisions changed or
// whose directive nears its expiry. It also answers devices over NATS (see
// devices.go) and implements [Decider] for the HTTP API.
type Reconciler struct {
	store   *Store
	nc      *nats.Conn
	signer  *Signer
	metrics *Metrics
	log     *slog.Logger
	now     func() time.Time
	ttl     time.Duration
	resync  time.Duration
	workers int
	drain   time.Duration
	replica string

	// d is the desired state as the watches delivered it; only the
	// goroutine applying changes touches it.
	d     *desired
	snap  atomic.Pointer[snapshot]
	inv   *inventory
	dirs  *directiveCache
	queue *workQueue
	locks *deviceLocks
	seen  *eventIDs

	ready   chan struct{}
	running atomic.Bool
}

// NewReconciler checks cfg and returns a reconciler; Run starts it.
func NewReconciler(cfg ReconcilerConfig) (*Reconciler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("controller: reconciler: Store is required")
	case cfg.Conn == nil:
		return nil, errors.New("controller: reconciler: Conn is required")
	case cfg.Signer == nil:
		return nil, errors.New("controller: reconciler: Signer is required")
	case cfg.DirectiveTTL < 0:
		return nil, fmt.Errorf("controller: reconciler: DirectiveTTL %s is negative; want a positive duration or 0 for %s", cfg.DirectiveTTL, DefaultDirectiveTTL)
	case cfg.ResyncInterval < 0:
		return nil, fmt.Errorf("controller: reconciler: ResyncInterval %s is negative; want a positive duration or 0 for %s", cfg.ResyncInterval, DefaultResyncInterval)
	case cfg.Workers < 0:
		return nil, fmt.Errorf("controller: reconciler: Workers %d is negative; want a positive number or 0 for %d per core", cfg.Workers, DefaultWorkersPerCPU)
	}
	r := &Reconciler{
		store:   cfg.Store,
		nc:      cfg.Conn,
		signer:  cfg.Signer,
		metrics: cfg.Metrics,
		log:     cfg.Logger,
		now:     cfg.Now,
		ttl:     cmpOr(cfg.DirectiveTTL, DefaultDirectiveTTL),
		resync:  cmpOr(cfg.ResyncInterval, DefaultResyncInterval),
		workers: cmpOr(cfg.Workers, DefaultWorkersPerCPU*runtime.GOMAXPROCS(0)),
		drain:   cmpOr(cfg.DrainTimeout, DefaultDrainTimeout),
		replica: cfg.ReplicaID,
		ready:   make(chan struct{}),
		seen:    newEventIDs(eventIDMemory),
	}
	if r.metrics == nil {
		r.metrics = NewMetrics()
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("component", "reconciler")
	if r.now == nil {
		r.now = time.Now
	}
	if r.replica == "" {
		r.replica = defaultReplicaID()
	}
	r.inv = newInventory(r.metrics)
	r.dirs = newDirectiveCache()
	r.locks = newDeviceLocks()
	r.queue = newWorkQueue(func(n int) { r.metrics.ReconcileQueue.Set(float64(n)) })
	return r, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func defaultReplicaID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "controller"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// Run loads the catalog and inventory, then evaluates devices as changes
// arrive until ctx ends. On the way out it stops taking NATS requests and
// stream messages, finishes the devices already queued (for at most
// DrainTimeout) and returns nil, or the error that stopped it.
func (r *Reconciler) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("controller: reconciler: Run called twice")
	}
	wctx, cancelWatches := context.WithCancel(ctx)
	defer cancelWatches()
	errc := make(chan error, 1)
	fail := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}

	var watchers sync.WaitGroup
	w, err := r.startWatches(wctx, &watchers, fail)
	if err != nil {
		return err
	}
	if err := r.waitSynced(ctx, w, errc); err != nil {
		cancelWatches()
		watchers.Wait()
		return err
	}

	// Workers evaluate with a context that outlives ctx by the drain.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var workers sync.WaitGroup
	for range r.workers {
		workers.Go(func() { r.work(workCtx) })
	}
	stopDevices, err := r.startDevices(ctx)
	if err != nil {
		r.queue.discard()
		cancelWork()
		workers.Wait()
		cancelWatches()
		watchers.Wait()
		return err
	}
	close(r.ready)
	r.log.Info("reconciler ready", "devices", r.inv.len(), "workers", r.workers, "replica", r.replica)
	r.Resync()

	watchers.Go(func() { r.applyLoop(wctx, w, fail) })
	watchers.Go(func() { r.resyncLoop(wctx) })

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	// Stop intake first, then let the workers finish what is queued.
	stopDevices()
	cancelWatches()
	watchers.Wait()
	r.queue.close()
	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(r.drain):
		n := r.queue.discard()
		r.log.Warn("reconciler drain timed out; the next start re-evaluates every device", "dropped", n, "timeout", r.drain)
		cancelWork()
		<-done
	}
	return runErr
}

// Synced is closed once the catalog, inventory and directives are loaded
// and devices are being answered.
func (r *Reconciler) Synced() <-chan struct{} { return r.ready }

// Ready reports whether the catalog is loaded and NATS is connected.
func (r *Reconciler) Ready() bool {
	select {
	case <-r.ready:
		return r.nc.IsConnected()
	default:
		return false
	}
}

// Resync queues every device in the inventory for re-evaluation. Run
// calls it at start and every ResyncInterval; tests call it after moving
// their clock.
func (r *Reconciler) Resync() { r.queue.add(r.inv.ids()...) }

// Enqueue queues devices for re-evaluation.
func (r *Reconciler) Enqueue(ids ...string) { r.queue.add(ids...) }

// Idle reports whether no device is queued or being evaluated.
func (r *Reconciler) Idle() bool { return r.queue.idle() }

func (r *Reconciler) resyncLoop(ctx context.Context) {
	// Renewals are checked more often than a full resync when the TTL is
	// short, so that no directive expires between two resyncs.
	renew := min(r.resync, r.ttl/6)
	full := time.NewTicker(r.resync)
	defer full.Stop()
	short := time.NewTicker(max(renew, time.Second))
	defer short.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-full.C:
			r.Resync()
		case <-short.C:
			r.queue.add(r.dirs.expiring(r.now().Add(r.ttl / 3))...)
		}
	}
}

func (r *Reconciler) work(ctx context.Context) {
	for {
		id, ok := r.queue.get()
		if !ok {
			return
		}
		if _, err := r.reconcile(ctx, id, 0); err != nil && ctx.Err() == nil {
			r.log.Error("reconcile device", "device_id", id, "err", err)
		}
		r.queue.done(id)
	}
}

// current returns the catalog snapshot, or ErrNotReady.
func (r *Reconciler) current() (*snapshot, error) {
	s := r.snap.Load()
	if s == nil {
		return nil, ErrNotReady
	}
	return s, nil
}

// engineFor compiles rules into a new engine.
func (r *Reconciler) engineFor(ctx context.Context, rules []policy.Rule) (*policy.Engine, error) {
	return policy.NewEngine(ctx, policy.Config{Rules: rules, Logger: r.log, Now: r.now})
}
