package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/sluice-mdm/sluice/agent/spool"
	"github.com/sluice-mdm/sluice/protocol"
)

// ErrNotAcked is wrapped when a report or event was not acknowledged by a
// JetStream stream.
var ErrNotAcked = errors.New("agent: message not acknowledged")

// reconnectDelay is the backoff before reconnect attempt n: 500 ms doubling
// up to max, with up to 50% jitter so that a fleet does not reconnect in
// step after a controller restart.
func reconnectDelay(n int, limit time.Duration) time.Duration {
	d := 500 * time.Millisecond
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + rand.N(d/2+1)
}

// connect opens the NATS connection. It returns at once even when the
// server cannot be reached: the client keeps retrying in the background.
func (a *Agent) connect() (*nats.Conn, error) {
	onUp := func(nc *nats.Conn) {
		a.setConnected(true, nc.ConnectedUrlRedacted())
	}
	nc, err := nats.Connect(a.cfg.NATSURL,
		nats.Name("sluice-agent "+a.cfg.DeviceID),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.CustomReconnectDelay(func(n int) time.Duration { return reconnectDelay(n, a.cfg.MaxReconnectDelay) }),
		nats.ConnectHandler(onUp),
		nats.ReconnectHandler(onUp),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			a.setConnected(false, "")
			if err != nil {
				a.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) { a.setConnected(false, "") }),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", a.cfg.NATSURL, err)
	}
	sub, err := protocol.DirectiveSubject(a.cfg.DeviceID)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if _, err := nc.Subscribe(sub, func(m *nats.Msg) {
		var env protocol.Envelope
		if err := json.Unmarshal(m.Data, &env); err != nil {
			a.reject("push", fmt.Errorf("directive push is not a JSON envelope: %w", err))
			return
		}
		a.acceptEnvelope(&env, "push")
	}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("subscribe to %s: %w", sub, err)
	}
	if nc.IsConnected() {
		onUp(nc)
	}
	return nc, nil
}

func (a *Agent) setConnected(up bool, url string) {
	a.mu.Lock()
	a.connected = up
	if up {
		a.serverURL = url
	}
	a.mu.Unlock()
	if up {
		a.log.Info("nats connected", "url", url)
		signal(a.upCh)
		signal(a.syncCh)
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// syncLoop asks for the directive on every (re)connect, retrying with
// backoff while connected until a reply arrives.
func (a *Agent) syncLoop(ctx context.Context, nc *nats.Conn) {
	subj, _ := protocol.SyncSubject(a.cfg.DeviceID)
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.syncCh:
		}
		for attempt := 1; ctx.Err() == nil && nc.IsConnected(); attempt++ {
			err := a.syncOnce(ctx, nc, subj)
			if err == nil {
				break
			}
			a.log.Warn("directive sync failed", "attempt", attempt, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(reconnectDelay(attempt, a.cfg.MaxReconnectDelay)):
			}
		}
	}
}

func (a *Agent) syncOnce(ctx context.Context, nc *nats.Conn, subj string) error {
	a.mu.Lock()
	req := protocol.SyncRequest{Version: protocol.Version, DeviceID: a.cfg.DeviceID, LastSequence: a.lastSeq, AgentVersion: a.cfg.AgentVersion}
	a.mu.Unlock()
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, a.cfg.AckTimeout)
	defer cancel()
	msg, err := nc.RequestWithContext(rctx, subj, b)
	if err != nil {
		return fmt.Errorf("request %s: %w", subj, err)
	}
	var rep protocol.SyncReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return fmt.Errorf("sync reply: %w", err)
	}
	if rep.Error != "" {
		return fmt.Errorf("controller: %s", rep.Error)
	}
	a.mu.Lock()
	a.lastSync = a.cfg.Now()
	a.mu.Unlock()
	if rep.Directive != nil {
		a.acceptEnvelope(rep.Directive, "sync")
	}
	return nil
}

// pubAck is a JetStream publish acknowledgement or its error.
type pubAck struct {
	Stream    string `json:"stream"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Error     *struct {
		Code        int    `json:"code"`
		Description string `json:"description"`
	} `json:"error,omitempty"`
}

// publish sends one spooled message as a request and waits for the stream's
// acknowledgement.
func (a *Agent) publish(ctx context.Context, nc *nats.Conn, m spool.Message) error {
	msg := nats.NewMsg(m.Subject)
	msg.Data = m.Data
	msg.Header.Set(nats.MsgIdHdr, m.ID)
	rctx, cancel := context.WithTimeout(ctx, a.cfg.AckTimeout)
	defer cancel()
	reply, err := nc.RequestMsgWithContext(rctx, msg)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrNotAcked, m.Subject, err)
	}
	var ack pubAck
	if err := json.Unmarshal(reply.Data, &ack); err != nil {
		return fmt.Errorf("%w: %s: reply %q is not a publish acknowledgement", ErrNotAcked, m.Subject, truncate(string(reply.Data), 200))
	}
	if ack.Error != nil {
		return fmt.Errorf("%w: %s: stream error %d: %s", ErrNotAcked, m.Subject, ack.Error.Code, ack.Error.Description)
	}
	if ack.Stream == "" {
		return fmt.Errorf("%w: %s: reply names no stream", ErrNotAcked, m.Subject)
	}
	return nil
}

// sendLoop drains the spool whenever something is added or the connection
// comes up, backing off after a failed publish.
func (a *Agent) sendLoop(ctx context.Context, nc *nats.Conn) {
	failures := 0
	for {
		if nc.IsConnected() {
			_, err := a.spool.Drain(ctx, func(ctx context.Context, m spool.Message) error { return a.publish(ctx, nc, m) })
			if err == nil {
				failures = 0
			} else if ctx.Err() == nil {
				failures++
				a.log.Warn("publish failed; kept in spool", "spooled", a.spool.Len(), "err", err)
				select {
				case <-ctx.Done():
					return
				case <-a.upCh:
					failures = 0
					continue
				case <-time.After(reconnectDelay(failures, a.cfg.MaxReconnectDelay)):
					continue
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-a.spool.Notify():
		case <-a.upCh:
		}
	}
}
