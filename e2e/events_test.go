package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/protocol"
)

// readEvents reads every event the controller's events stream holds for
// device, oldest first.
func readEvents(ctx context.Context, natsURL, device string) ([]protocol.Event, error) {
	subject, err := protocol.EventSubject(device)
	if err != nil {
		return nil, err
	}
	return readStream(ctx, natsURL, subject)
}

// readerSeq numbers the consumers of readStream.
var readerSeq atomic.Int64

// readStream reads every event the controller's events stream holds on
// subject, oldest first.
func readStream(ctx context.Context, natsURL, subject string) ([]protocol.Event, error) {
	nc, err := nats.Connect(natsURL, nats.Name("e2e events reader"))
	if err != nil {
		return nil, fmt.Errorf("read events: connect to %s: %w", natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	name := fmt.Sprintf("e2e-reader-%d", readerSeq.Add(1))
	cons, err := js.CreateConsumer(ctx, eventsStream, jetstream.ConsumerConfig{
		Name:              name,
		FilterSubjects:    []string{subject},
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("read events on %s: %w", subject, err)
	}
	// The server limits consumers: remove this one at once rather than
	// when it turns inactive.
	defer js.DeleteConsumer(context.WithoutCancel(ctx), eventsStream, name)
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read events on %s: consumer info: %w", subject, err)
	}
	want := int(info.NumPending)
	var out []protocol.Event
	for len(out) < want {
		batch, err := cons.Fetch(min(want-len(out), 500), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read events on %s: fetch: %w", subject, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var ev protocol.Event
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				return nil, fmt.Errorf("read events on %s: message %q: %w", subject, m.Data(), err)
			}
			out = append(out, ev)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("read events on %s: fetch: %w", subject, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("read events on %s: got %d of %d pending events", subject, len(out), want)
		}
	}
	return out, nil
}

// eventsNamed keeps the events of app with one of names.
func eventsNamed(evs []protocol.Event, app string, names ...protocol.EventName) []protocol.Event {
	var out []protocol.Event
	for _, e := range evs {
		if e.App == app && slices.Contains(names, e.Name) {
			out = append(out, e)
		}
	}
	return out
}

// countEvents counts events by "app name" (and "app name code=X" for
// events with an error code), for compact comparisons.
func countEvents(evs []protocol.Event, names ...protocol.EventName) map[string]int {
	out := map[string]int{}
	for _, e := range evs {
		if len(names) > 0 && !slices.Contains(names, e.Name) {
			continue
		}
		k := e.App + " " + string(e.Name)
		if c := e.Params[protocol.ParamErrorCode]; c != "" {
			k += " code=" + c
		}
		out[k]++
	}
	return out
}

// deviceEvents reads the events the controller stored for a device.
func deviceEvents(t *testing.T, ctx context.Context, sys *sandbox.System, device string) []protocol.Event {
	t.Helper()
	evs, err := readEvents(ctx, sys.NATSURL(), device)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// waitEvents waits until the controller stored, for a device, events
// with the counts of want (as countEvents counts them) or more, and
// returns them.
func waitEvents(t *testing.T, ctx context.Context, sys *sandbox.System, device string, want map[string]int) []protocol.Event {
	t.Helper()
	var evs []protocol.Event
	waitFor(t, ctx, scenarioTimeout, fmt.Sprintf("events %v from %s", want, device), func() (bool, error) {
		var err error
		if evs, err = readEvents(ctx, sys.NATSURL(), device); err != nil {
			return false, err
		}
		got := countEvents(evs)
		for k, n := range want {
			if got[k] < n {
				return false, fmt.Errorf("have %v", got)
			}
		}
		return true, nil
	})
	return evs
}
