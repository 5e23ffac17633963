package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-mdm/sluice/protocol"
)

// eventsStream is the JetStream stream the controller captures device
// events in (controller.DefaultStoreNames().Events).
const eventsStream = "EVENTS"

// agentApp is the pseudo-package of events about the agent itself
// (agent.AgentApp).
const agentApp = "sluice.agent"

// repoRoot is the module's root directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate this test file")
	}
	return filepath.Dir(filepath.Dir(file))
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for processes that must be told their port up front.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("free port %s: %v", addr, err)
	}
	return addr
}

// eventually polls cond every 50 ms until it holds, fails or timeout
// passes; the failure names what was awaited and the last error seen.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				t.Fatalf("waited %s for %s; last error: %v", timeout, what, last)
			}
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readEvents reads every event the controller's events stream holds for
// device, oldest first.
func readEvents(ctx context.Context, natsURL, device string) ([]protocol.Event, error) {
	subject, err := protocol.EventSubject(device)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(natsURL, nats.Name("e2e events reader"))
	if err != nil {
		return nil, fmt.Errorf("read events: connect to %s: %w", natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	cons, err := js.OrderedConsumer(ctx, eventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("read events of %s: %w", device, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read events of %s: consumer info: %w", device, err)
	}
	want := int(info.NumPending)
	var out []protocol.Event
	for len(out) < want {
		batch, err := cons.Fetch(min(want-len(out), 500), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read events of %s: fetch: %w", device, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var ev protocol.Event
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				return nil, fmt.Errorf("read events of %s: message %q: %w", device, m.Data(), err)
			}
			out = append(out, ev)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("read events of %s: fetch: %w", device, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("read events of %s: got %d of %d pending events", device, len(out), want)
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

// versions maps each package of apps to its versionName.
func versions(apps map[string]protocol.InstalledApp) map[string]string {
	out := map[string]string{}
	for pkg, a := range apps {
		out[pkg] = a.VersionName
	}
	return out
}

// reasonCodes lists the codes of reasons.
func reasonCodes(rs []protocol.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Code
	}
	return out
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fixedZone returns an Etc/GMT zone in which the local time at now falls
// in the hour starting at localHour (0 to 23). Etc zones span UTC-12 to
// UTC+14, so one always exists.
func fixedZone(now time.Time, localHour int) string {
	utc := now.UTC().Hour()
	for off := -12; off <= 14; off++ {
		if (utc+off+48)%24 == localHour {
			return etcZone(off)
		}
	}
	panic(fmt.Sprintf("no Etc zone has local hour %d at %s", localHour, now))
}

// etcZone names the Etc zone of a UTC offset in hours. Etc/GMT signs are
// inverted: Etc/GMT-5 is UTC+5.
func etcZone(off int) string {
	switch {
	case off == 0:
		return "Etc/GMT"
	case off > 0:
		return fmt.Sprintf("Etc/GMT-%d", off)
	}
	return fmt.Sprintf("Etc/GMT+%d", -off)
}

// joinLines is strings.Join with newlines, for messages.
func joinLines(s []string) string { return strings.Join(s, "\n") }
