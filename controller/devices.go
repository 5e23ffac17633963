package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// Names shared by every controller replica, so that they split the work.
const (
	// SyncQueueGroup is the queue group answering devices' sync requests.
	SyncQueueGroup = "sluice-sync"
	// ReportsConsumer and EventsConsumer are the durable consumers of the
	// reports and events streams.
	ReportsConsumer = "sluice-reports"
	EventsConsumer  = "sluice-events"
)

// ErrUnknownDevice is the sync answer to a device that never reported.
var ErrUnknownDevice = errors.New("unknown device: send a report first")

// deviceHandlers bounds how many sync requests and stream messages are
// handled at once.
const deviceHandlers = 64

// storeTimeout bounds one device message's store work.
const storeTimeout = 30 * time.Second

// startDevices subscribes to sync requests and starts the report and event
// consumers. The returned stop drains them: no new message is taken and
// those being handled finish.
func (r *Reconciler) startDevices(ctx context.Context) (stop func(), err error) {
	var inflight sync.WaitGroup
	sem := make(chan struct{}, deviceHandlers)
	// Handlers run on their own goroutines (a slow evaluation must not hold
	// up other devices) but never more than deviceHandlers at once.
	dispatch := func(f func()) {
		sem <- struct{}{}
		inflight.Go(func() {
			defer func() { <-sem }()
			f()
		})
	}
	hctx := context.WithoutCancel(ctx)

	sub, err := r.nc.QueueSubscribe(protocol.AllSyncSubjects, SyncQueueGroup, func(m *nats.Msg) {
		dispatch(func() { r.handleSync(hctx, m) })
	})
	if err != nil {
		return nil, fmt.Errorf("controller: subscribe to %s: %w", protocol.AllSyncSubjects, err)
	}
	js := r.store.JetStream()
	names := r.store.Names()
	reports, err := consume(ctx, js, names.Reports, ReportsConsumer, func(m jetstream.Msg) {
		dispatch(func() { r.handleReport(hctx, m) })
	})
	if err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	events, err := consume(ctx, js, names.Events, EventsConsumer, func(m jetstream.Msg) {
		dispatch(func() { r.handleEvent(hctx, m) })
	})
	if err != nil {
		_ = sub.Unsubscribe()
		reports.Stop()
		return nil, err
	}
	return func() {
		_ = sub.Drain()
		reports.Drain()
		events.Drain()
		for _, cc := range []jetstream.ConsumeContext{reports, events} {
			select {
			case <-cc.Closed():
			case <-time.After(storeTimeout):
				cc.Stop()
			}
		}
		inflight.Wait()
	}, nil
}

// consume attaches to (creating if needed) a durable consumer shared by
// every replica.
func consume(ctx context.Context, js jetstream.JetStream, stream, durable string, h jetstream.MessageHandler) (jetstream.ConsumeContext, error) {
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   "sluice controller replicas",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       storeTimeout + 10*time.Second,
		MaxDeliver:    -1,
		MaxAckPending: 4 * deviceHandlers,
	})
	if err != nil {
		return nil, fmt.Errorf("controller: consumer %s on %s: %w", durable, stream, err)
	}
	cc, err := cons.Consume(h, jetstream.PullMaxMessages(2*deviceHandlers))
	if err != nil {
		return nil, fmt.Errorf("controller: consume %s on %s: %w", durable, stream, err)
	}
	return cc, nil
}

// handleSync answers a device's request for its current directive.
func (r *Reconciler) handleSync(ctx context.Context, m *nats.Msg) {
	reply := func(rep protocol.SyncReply) {
		data, err := json.Marshal(rep)
		if err == nil {
			err = m.Respond(data)
		}
		if err != nil && !errors.Is(err, nats.ErrMsgNoReply) {
			r.log.Warn("sync reply", "subject", m.Subject, "err", err)
		}
	}
	refuse := func(err error) {
		r.log.Warn("sync request refused", "subject", m.Subject, "err", err)
		reply(protocol.SyncReply{Error: err.Error()})
	}
	id, _, err := protocol.ParseDeviceSubject(m.Subject)
	if err != nil {
		refuse(err)
		return
	}
	var req protocol.SyncRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		refuse(fmt.Errorf("sync request is not a JSON SyncRequest: %w", err))
		return
	}
	if req.DeviceID != id {
		refuse(fmt.Errorf("sync request: deviceId %q is not the device of subject %s", req.DeviceID, m.Subject))
		return
	}
	if req.Version != protocol.Version {
		refuse(fmt.Errorf("sync request: version %d is not supported; want %d", req.Version, protocol.Version))
		return
	}
	if _, known := r.inv.get(id); !known {
		reply(protocol.SyncReply{Error: ErrUnknownDevice.Error()})
		return
	}
	is := r.dirs.get(id)
	if is == nil || is.expiresAt.Sub(r.now()) < r.ttl/3 || req.LastSequence > is.seq {
		// No usable directive yet, or the agent holds a newer sequence than
		// the store (a restored store): evaluate now, above its sequence.
		ctx, cancel := context.WithTimeout(ctx, storeTimeout)
		defer cancel()
		if is, err = r.reconcile(ctx, id, req.LastSequence); err != nil || is == nil {
			r.log.Error("sync: evaluate device", "device_id", id, "err", err)
			reply(protocol.SyncReply{Error: "the controller could not evaluate this device yet; retry later"})
			return
		}
	}
	reply(protocol.SyncReply{Directive: is.env})
}

// handleReport stores a device report in the inventory.
func (r *Reconciler) handleReport(ctx context.Context, m jetstream.Msg) {
	drop := func(err error) {
		r.log.Warn("device report dropped", "subject", m.Subject(), "err", err)
		_ = m.Ack()
	}
	id, _, err := protocol.ParseDeviceSubject(m.Subject())
	if err != nil {
		drop(err)
		return
	}
	var rep protocol.DeviceReport
	if err := json.Unmarshal(m.Data(), &rep); err != nil {
		drop(fmt.Errorf("not a JSON device report: %w", err))
		return
	}
	if err := rep.Validate(); err != nil {
		drop(err)
		return
	}
	if rep.DeviceID != id {
		drop(fmt.Errorf("report deviceId %q is not the device of the subject", rep.DeviceID))
		return
	}
	var seq uint64
	if md, err := m.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	requeue, err := r.storeReport(ctx, &rep, seq)
	if err != nil {
		r.log.Error("device report not stored; it will be delivered again", "device_id", id, "err", err)
		_ = m.NakWithDelay(time.Second)
		return
	}
	if err := m.Ack(); err != nil {
		r.log.Warn("ack device report", "device_id", id, "err", err)
	}
	if requeue {
		r.queue.add(id)
	}
}

// storeReport upserts the device record from a report with
// compare-and-set, and reports whether a fact decisions depend on changed.
// A report older than the stored one is ignored.
func (r *Reconciler) storeReport(ctx context.Context, rep *protocol.DeviceReport, streamSeq uint64) (requeue bool, err error) {
	now := r.now()
	cur, known := r.inv.get(rep.DeviceID)
	for attempt := 1; ; attempt++ {
		expected := CreateOnly
		next := DeviceRecord{Device: policy.Device{EnrolledAt: now.UTC()}}
		if known {
			expected = cur.Revision
			if last := cur.Value.LastReport; last != nil && rep.SentAt.Before(last.SentAt) {
				return false, nil
			}
			next.Device.EnrolledAt = cur.Value.Device.EnrolledAt
		}
		next.Device.ID = rep.DeviceID
		next.Device.Labels = rep.Labels
		next.Device.Platform = rep.Platform
		next.Device.SDK = rep.SDK
		next.Device.AgentVersion = rep.AgentVersion
		next.Device.Channel = rep.Channel
		next.Device.TimeZone = rep.TimeZone
		next.Device.Apps = rep.Apps
		next.Device.State = rep.State
		next.Device.LastSeen = now.UTC()
		next.LastReport = &ReportSummary{
			SentAt: rep.SentAt, ReceivedAt: now.UTC(), StreamSeq: streamSeq,
			DirectiveSequence: rep.DirectiveSequence, Status: rep.Status, Dropped: rep.Dropped,
		}
		stored, err := r.store.Devices().Put(ctx, rep.DeviceID, next, expected, actorReports)
		if errors.Is(err, ErrConflict) && attempt < maxIssueAttempts {
			cur, err = r.store.Devices().Get(ctx, rep.DeviceID)
			known = err == nil
			if err != nil && !errors.Is(err, ErrNotFound) {
				return false, err
			}
			continue
		}
		if err != nil {
			return false, err
		}
		r.inv.set(stored)
		if !rep.SentAt.IsZero() {
			r.metrics.ReportLagSeconds.Observe(max(now.Sub(rep.SentAt).Seconds(), 0))
		}
		return !known || decisionRelevant(cur.Value.Device, stored.Value.Device), nil
	}
}

// decisionRelevant reports whether two versions of a device differ in a
// fact the decision input holds (see policy.InputDevice) or in the set of
// installed apps. Sensed state and lastSeen are left out on purpose.
func decisionRelevant(a, b policy.Device) bool {
	if a.Platform != b.Platform || a.SDK != b.SDK || a.AgentVersion != b.AgentVersion ||
		a.Channel != b.Channel || a.TimeZone != b.TimeZone || !a.EnrolledAt.Equal(b.EnrolledAt) ||
		!maps.Equal(a.Labels, b.Labels) || len(a.Apps) != len(b.Apps) {
		return true
	}
	for pkg, x := range a.Apps {
		y, ok := b.Apps[pkg]
		if !ok || x.VersionName != y.VersionName || x.VersionCode != y.VersionCode || !x.UpdatedAt.Equal(y.UpdatedAt) {
			return true
		}
	}
	return false
}

// handleEvent counts a device's update event, once per event id.
func (r *Reconciler) handleEvent(_ context.Context, m jetstream.Msg) {
	defer func() { _ = m.Ack() }()
	drop := func(err error) { r.log.Warn("device event dropped", "subject", m.Subject(), "err", err) }
	id, _, err := protocol.ParseDeviceSubject(m.Subject())
	if err != nil {
		drop(err)
		return
	}
	var ev protocol.Event
	if err := json.Unmarshal(m.Data(), &ev); err != nil {
		drop(fmt.Errorf("not a JSON event: %w", err))
		return
	}
	if err := ev.Validate(); err != nil {
		drop(err)
		return
	}
	if ev.DeviceID != id {
		drop(fmt.Errorf("event deviceId %q is not the device of the subject", ev.DeviceID))
		return
	}
	if !r.seen.add(id + "\x00" + ev.ID) {
		r.log.Debug("duplicate device event dropped", "device_id", id, "event_id", ev.ID)
		return
	}
	r.metrics.Events.WithLabelValues(string(ev.Name)).Inc()
	r.log.Debug("device event", "device_id", id, "app", ev.App, "event", string(ev.Name), "decision_id", ev.DecisionID)
}
