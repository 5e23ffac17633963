package controller

import (
	"context"
	"sync"
)

// workQueue is the reconciler's queue of device ids. A device is queued at
// most once however many changes touch it before a worker takes it, and a
// device being evaluated is not handed to a second worker: if it is added
// meanwhile it is queued again when the first worker is done, so the last
// change is always evaluated.
type workQueue struct {
	mu         sync.Mutex
	cond       *sync.Cond
	items      []string
	head       int
	dirty      map[string]bool // queued, or to be queued again when done
	processing map[string]bool
	closed     bool
	onLen      func(int) // called with the queue length, under mu
}

func newWorkQueue(onLen func(int)) *workQueue {
	q := &workQueue{dirty: make(map[string]bool), processing: make(map[string]bool), onLen: onLen}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// add queues ids that are not queued already. It never blocks on workers.
func (q *workQueue) add(ids ...string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	added := false
	for _, id := range ids {
		if q.dirty[id] {
			continue
		}
		q.dirty[id] = true
		if q.processing[id] {
			continue
		}
		q.items = append(q.items, id)
		added = true
	}
	if added {
		q.report()
		q.cond.Broadcast()
	}
}

// get waits for a device to evaluate. ok is false once the queue is closed
// and empty.
func (q *workQueue) get() (id string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.items) && !q.closed {
		q.cond.Wait()
	}
	if q.head == len(q.items) {
		return "", false
	}
	id = q.items[q.head]
	q.items[q.head] = ""
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	q.processing[id] = true
	delete(q.dirty, id)
	q.report()
	return id, true
}

// done marks id evaluated, queueing it again if it was added meanwhile.
func (q *workQueue) done(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, id)
	if q.dirty[id] {
		q.items = append(q.items, id)
		q.report()
		q.cond.Broadcast()
	}
	if len(q.processing) == 0 {
		q.cond.Broadcast() // wake idle waiters
	}
}

// idle reports whether nothing is queued or being evaluated.
func (q *workQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.head == len(q.items) && len(q.processing) == 0
}

// len is the number of queued devices.
func (q *workQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// close stops accepting devices; workers finish what is queued and then
// get returns false.
func (q *workQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// discard drops whatever is still queued, for a shutdown that cannot wait.
func (q *workQueue) discard() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.items) - q.head
	q.items, q.head = nil, 0
	q.closed = true
	q.report()
	q.cond.Broadcast()
	return n
}

func (q *workQueue) report() {
	if q.onLen != nil {
		q.onLen(len(q.items) - q.head)
	}
}

// deviceLocks serializes the evaluations of one device in this process:
// the queue never hands a device to two workers, but a sync request
// evaluates outside it, and two evaluations racing on one directive would
// both log the decisions they change.
type deviceLocks struct {
	mu    sync.Mutex
	locks map[string]*deviceLock
}

type deviceLock struct {
	ch    chan struct{} // holds a token while the device is locked
	users int           // holders and waiters
}

func newDeviceLocks() *deviceLocks {
	return &deviceLocks{locks: make(map[string]*deviceLock)}
}

// lock waits until id is free or ctx ends, and returns the unlock.
func (l *deviceLocks) lock(ctx context.Context, id string) (unlock func(), err error) {
	l.mu.Lock()
	dl := l.locks[id]
	if dl == nil {
		dl = &deviceLock{ch: make(chan struct{}, 1)}
		l.locks[id] = dl
	}
	dl.users++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if dl.users--; dl.users == 0 {
			delete(l.locks, id)
		}
		l.mu.Unlock()
	}
	select {
	case dl.ch <- struct{}{}:
		return func() { <-dl.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
