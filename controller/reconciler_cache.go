package controller

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// inventory is the reconciler's copy of the devices bucket, kept current
// by its own writes and by a watch (writes of other replicas). A record
// replaces the cached one only if its revision is higher, so a late watch
// event never undoes a newer write.
type inventory struct {
	mu      sync.RWMutex
	devs    map[string]Record[DeviceRecord]
	states  map[string]int // devices per reported agent state
	metrics *Metrics
}

func newInventory(m *Metrics) *inventory {
	return &inventory{devs: make(map[string]Record[DeviceRecord]), states: make(map[string]int), metrics: m}
}

// set caches rec unless a newer revision is cached, and returns the record
// it replaced.
func (v *inventory) set(rec Record[DeviceRecord]) (old Record[DeviceRecord], had, applied bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	old, had = v.devs[rec.Name]
	if had && old.Revision >= rec.Revision {
		return old, had, false
	}
	if had {
		v.count(old, -1)
	}
	v.devs[rec.Name] = rec
	v.count(rec, +1)
	v.metrics.Devices.Set(float64(len(v.devs)))
	return old, had, true
}

// remove drops the device if the cached revision is not newer than rev.
func (v *inventory) remove(id string, rev uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	old, had := v.devs[id]
	if !had || old.Revision > rev {
		return
	}
	v.count(old, -1)
	delete(v.devs, id)
	v.metrics.Devices.Set(float64(len(v.devs)))
}

// count adds d to (or removes it from) the devices-by-state gauge: a
// device counts once for every distinct state its agent reported.
func (v *inventory) count(rec Record[DeviceRecord], delta int) {
	for _, st := range reportedStates(rec.Value.LastReport) {
		v.states[st] += delta
		v.metrics.DevicesByState.WithLabelValues(st).Set(float64(v.states[st]))
	}
}

func reportedStates(rep *ReportSummary) []string {
	if rep == nil {
		return nil
	}
	var out []string
	for _, st := range rep.Status {
		if st.State != "" && !slices.Contains(out, st.State) {
			out = append(out, st.State)
		}
	}
	return out
}

func (v *inventory) get(id string) (Record[DeviceRecord], bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	rec, ok := v.devs[id]
	return rec, ok
}

func (v *inventory) len() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.devs)
}

func (v *inventory) ids() []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]string, 0, len(v.devs))
	for id := range v.devs {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// devices returns every cached device, sorted by id.
func (v *inventory) devices() []policy.Device {
	v.mu.RLock()
	out := make([]policy.Device, 0, len(v.devs))
	for _, rec := range v.devs {
		out = append(out, rec.Value.Device)
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b policy.Device) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// issued is the last directive issued to a device, as the reconciler
// needs it: the revision to compare-and-set against, the sequence to
// exceed, the decisions to compare new ones with, and the envelope to
// hand out on sync.
type issued struct {
	rev       uint64
	seq       uint64
	issuedAt  time.Time
	expiresAt time.Time
	decisions []policy.Decision
	env       *protocol.Envelope
}

// issuedFrom decodes a stored directive record. The payload is not
// verified: the store is trusted, and agents verify what they receive.
func issuedFrom(rec Record[DirectiveRecord]) (*issued, error) {
	if rec.Value.Envelope == nil {
		return nil, fmt.Errorf("directive of %s at revision %d has no envelope", rec.Name, rec.Revision)
	}
	var d protocol.Directive
	if err := json.Unmarshal(rec.Value.Envelope.Payload, &d); err != nil {
		return nil, fmt.Errorf("directive of %s at revision %d: %w", rec.Name, rec.Revision, err)
	}
	return &issued{
		rev: rec.Revision, seq: rec.Value.Sequence,
		issuedAt: rec.Value.IssuedAt, expiresAt: rec.Value.ExpiresAt,
		decisions: d.Decisions, env: rec.Value.Envelope,
	}, nil
}

// directiveCache is the reconciler's copy of the directives bucket, kept
// like the inventory.
type directiveCache struct {
	mu   sync.RWMutex
	dirs map[string]*issued
}

func newDirectiveCache() *directiveCache {
	return &directiveCache{dirs: make(map[string]*issued)}
}

func (c *directiveCache) get(id string) *issued {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.dirs[id]
}

// current reports whether revision rev, or a newer one, is cached.
func (c *directiveCache) current(id string, rev uint64) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	is := c.dirs[id]
	return is != nil && is.rev >= rev
}

// set caches is unless a newer revision is cached.
func (c *directiveCache) set(id string, is *issued) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.dirs[id]; old != nil && old.rev >= is.rev {
		return
	}
	c.dirs[id] = is
}

func (c *directiveCache) remove(id string, rev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.dirs[id]; old != nil && old.rev <= rev {
		delete(c.dirs, id)
	}
}

// expiring returns the devices whose directive expires before t.
func (c *directiveCache) expiring(t time.Time) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []string
	for id, is := range c.dirs {
		if is.expiresAt.Before(t) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// eventIDMemory is how many recent event ids the event consumer remembers
// to drop duplicates sent again after a reconnect.
const eventIDMemory = 1 << 16

// eventIDs remembers the most recent n event ids (per device), forgetting
// the oldest first.
type eventIDs struct {
	mu    sync.Mutex
	n     int
	order []string
	next  int
	set   map[string]bool
}

func newEventIDs(n int) *eventIDs {
	return &eventIDs{n: n, set: make(map[string]bool, n)}
}

// add records key and reports whether it was new.
func (e *eventIDs) add(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.set[key] {
		return false
	}
	if len(e.order) < e.n {
		e.order = append(e.order, key)
	} else {
		delete(e.set, e.order[e.next])
		e.order[e.next] = key
		e.next = (e.next + 1) % e.n
	}
	e.set[key] = true
	return true
}
