// Package spool is the agent's on-disk outbox: reports and events wait
// here, one file per message, until the controller's JetStream stream has
// acknowledged them. It keeps messages across restarts and hands them back
// in the order they were added. It is bounded by a message count and a byte
// total; when full, the oldest messages are dropped first and counted, so
// the controller learns how many it missed.
//
// Only the agent imports this package.
package spool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sluice-mdm/sluice/agent/atomicfile"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Defaults for [Options].
const (
	DefaultMaxCount = 10000
	DefaultMaxBytes = 64 << 20
)

// ErrTooLarge is returned for a message that alone exceeds the byte bound.
var ErrTooLarge = errors.New("spool: message is larger than the spool")

// Options bound a spool. Zero fields take the defaults.
type Options struct {
	MaxCount int   // messages kept at most; DefaultMaxCount if 0
	MaxBytes int64 // bytes of message files kept at most; DefaultMaxBytes if 0
}

// Message is one spooled message.
type Message struct {
	// Seq orders messages; it increases with every Append, across restarts.
	Seq     uint64 `json:"-"`
	Subject string `json:"subject"`
	// ID is a unique id the receiver may use to drop duplicates.
	ID   string `json:"id"`
	Data []byte `json:"data"`
}

type entry struct {
	seq  uint64
	size int64
}

// Spool is a directory of pending messages. It is safe for concurrent use.
type Spool struct {
	dir string
	opt Options

	mu      sync.Mutex
	entries []entry // ascending seq
	bytes   int64
	next    uint64
	dropped uint64
	notify  chan struct{}
}

const (
	msgSuffix   = ".msg"
	droppedFile = "dropped"
)

// Open opens (creating if needed) the spool in dir and indexes the
// messages already there.
func Open(dir string, opt Options) (*Spool, error) {
	if opt.MaxCount <= 0 {
		opt.MaxCount = DefaultMaxCount
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", dir, err)
	}
	s := &Spool{dir: dir, opt: opt, next: 1, notify: make(chan struct{}, 1)}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: read %s: %w", dir, err)
	}
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, atomicfile.TempPrefix) {
			_ = os.Remove(filepath.Join(dir, name)) // an interrupted write
			continue
		}
		base, ok := strings.CutSuffix(name, msgSuffix)
		if !ok {
			continue
		}
		seq, err := strconv.ParseUint(base, 10, 64)
		if err != nil {
			continue
		}
		info, err := de.Info()
		if err != nil {
			return nil, fmt.Errorf("spool: stat %s: %w", name, err)
		}
		s.entries = append(s.entries, entry{seq: seq, size: info.Size()})
		s.bytes += info.Size()
	}
	slices.SortFunc(s.entries, func(a, b entry) int { return compare(a.seq, b.seq) })
	if n := len(s.entries); n > 0 {
		s.next = s.entries[n-1].seq + 1
	}
	if b, err := os.ReadFile(filepath.Join(dir, droppedFile)); err == nil {
		s.dropped, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	}
	return s, nil
}

func compare(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, msgSuffix))
}

// Append stores a message durably (written, synced and renamed into place)
// and drops the oldest messages if the bounds are exceeded.
func (s *Spool) Append(subject, id string, data []byte) error {
	b, err := json.Marshal(Message{Subject: subject, ID: id, Data: data})
	if err != nil {
		return fmt.Errorf("spool: encode: %w", err)
	}
	if int64(len(b)) > s.opt.MaxBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), s.opt.MaxBytes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.next
	if err := atomicfile.Write(s.path(seq), b, 0o600); err != nil {
		return fmt.Errorf("spool: append %s: %w", subject, err)
	}
	s.next++
	s.entries = append(s.entries, entry{seq: seq, size: int64(len(b))})
	s.bytes += int64(len(b))
	dropped := uint64(0)
	for len(s.entries) > s.opt.MaxCount || s.bytes > s.opt.MaxBytes {
		old := s.entries[0]
		if err := os.Remove(s.path(old.seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("spool: drop oldest: %w", err)
		}
		s.entries = s.entries[1:]
		s.bytes -= old.size
		dropped++
	}
	if dropped > 0 {
		s.dropped += dropped
		if err := atomicfile.Write(filepath.Join(s.dir, droppedFile), []byte(strconv.FormatUint(s.dropped, 10)), 0o600); err != nil {
			return fmt.Errorf("spool: record dropped count: %w", err)
		}
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// Notify returns a channel that receives after an Append.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// Peek returns the oldest message, and false if the spool is empty.
func (s *Spool) Peek() (Message, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.entries) > 0 {
		e := s.entries[0]
		b, err := os.ReadFile(s.path(e.seq))
		if err == nil {
			var m Message
			if err := json.Unmarshal(b, &m); err == nil {
				m.Seq = e.seq
				return m, true, nil
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return Message{}, false, fmt.Errorf("spool: read %d: %w", e.seq, err)
		}
		// A vanished or unreadable file cannot be sent: count it as dropped.
		_ = os.Remove(s.path(e.seq))
		s.entries = s.entries[1:]
		s.bytes -= e.size
		s.dropped++
	}
	return Message{}, false, nil
}

// Remove deletes the message seq after it was delivered.
func (s *Spool) Remove(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.entries, func(e entry) bool { return e.seq == seq })
	if i < 0 {
		return nil // dropped meanwhile
	}
	if err := os.Remove(s.path(seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: remove %d: %w", seq, err)
	}
	s.bytes -= s.entries[i].size
	s.entries = slices.Delete(s.entries, i, i+1)
	return nil
}

// Drain sends messages oldest first, removing each once send succeeds. It
// stops at the first failure, leaving that message first in line, and
// returns how many were sent.
func (s *Spool) Drain(ctx context.Context, send func(context.Context, Message) error) (int, error) {
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, ok, err := s.Peek()
		if err != nil || !ok {
			return n, err
		}
		if err := send(ctx, m); err != nil {
			return n, err
		}
		if err := s.Remove(m.Seq); err != nil {
			return n, err
		}
		n++
	}
}

// Len is the number of spooled messages.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Bytes is the size of the spooled message files.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Dropped counts messages dropped, since the spool was created, to keep
// within its bounds.
func (s *Spool) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}
