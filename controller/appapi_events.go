package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// MaxEventsPerReport caps the events of one POST /api/v1/event/report.
const MaxEventsPerReport = 100

// UpdateConfig is the answer of GET /api/v1/config/update: how the policy
// that governs the app prompts for updates.
type UpdateConfig struct {
	App string `json:"app"`
	// Policy names the governing policy and its revision; Assignment the
	// assignment that made it govern.
	Policy     protocol.PolicyRef `json:"policy"`
	Assignment string             `json:"assignment"`
	Mode       protocol.Mode      `json:"mode"`
	Force      bool               `json:"force"`
	// Prompt is nil for a policy that installs silently.
	Prompt *policy.PromptSpec `json:"prompt"`
}

func (a *API) updateConfig(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r.URL.Query(), "app_id")
	if err != nil {
		return err
	}
	v, ok := q["app_id"]
	app, err := parseAppID(v, ok)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), versionCheckTimeout)
	defer cancel()
	g, ok, err := a.governingPolicy(ctx, app)
	if err != nil {
		if ctx.Err() != nil {
			return &apiError{Status: http.StatusServiceUnavailable, Message: "the configuration could not be read in time; try again later"}
		}
		return err
	}
	if !ok {
		return &apiError{Status: http.StatusNotFound, Message: fmt.Sprintf("no policy governs app %s: no assignment assigns a policy for it", app)}
	}
	mode := g.spec.Mode
	if mode == "" {
		mode = protocol.ModeDefault
	}
	return writeJSON(w, http.StatusOK, UpdateConfig{App: app, Policy: protocol.PolicyRef{Name: g.name, Revision: g.revision},
		Assignment: g.assignment, Mode: mode, Force: g.spec.Force, Prompt: g.spec.Prompt})
}

// EventReport is the body of POST /api/v1/event/report.
type EventReport struct {
	Events []json.RawMessage `json:"events"`
}

// EventReportResult says which events were stored and why the others
// were refused.
type EventReportResult struct {
	Accepted int             `json:"accepted"`
	Rejected []EventRejected `json:"rejected"`
}

// EventRejected is one refused event, by its index in the request.
type EventRejected struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// eventPublishTimeout bounds storing one event.
const eventPublishTimeout = 5 * time.Second

func (a *API) eventReport(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r.URL.Query()); err != nil {
		return err
	}
	var rep EventReport
	if err := decodeJSON(w, r, a.maxBody, &rep); err != nil {
		return err
	}
	if rep.Events == nil {
		return badRequest("field events is missing; want {\"events\": [event, ...]} with 1 to %d events", MaxEventsPerReport)
	}
	if n := len(rep.Events); n == 0 || n > MaxEventsPerReport {
		return badRequest("field events: %d events are not allowed; want 1 to %d per request", n, MaxEventsPerReport)
	}
	res := EventReportResult{Rejected: []EventRejected{}}
	for i, raw := range rep.Events {
		if err := a.storeEvent(r.Context(), raw); err != nil {
			res.Rejected = append(res.Rejected, EventRejected{Index: i, Error: err.Error()})
			continue
		}
		res.Accepted++
	}
	return writeJSON(w, http.StatusOK, res)
}

// storeEvent decodes, validates and stores one event: on its device's
// event subject, or without a device id on the app's event subject.
func (a *API) storeEvent(ctx context.Context, raw json.RawMessage) error {
	var e protocol.Event
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return fmt.Errorf("event is not acceptable: %s", jsonProblem(err))
	}
	if err := e.Validate(); err != nil {
		return err
	}
	subject, err := protocol.AppEventSubject(e.App)
	msgID := e.App + "/" + e.ID
	if e.DeviceID != "" {
		subject, err = protocol.EventSubject(e.DeviceID)
		msgID = e.DeviceID + "/" + e.ID
	}
	if err != nil {
		return err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("event %s: encode: %w", e.ID, err)
	}
	pctx, cancel := context.WithTimeout(ctx, eventPublishTimeout)
	defer cancel()
	if _, err := a.store.JetStream().Publish(pctx, subject, data, jetstream.WithMsgID(msgID)); err != nil {
		a.log.Error("event not stored", "device_id", e.DeviceID, "app", e.App, "event", string(e.Name), "error", err)
		return fmt.Errorf("event %s was not stored; send it again later", e.ID)
	}
	a.metrics.Events.WithLabelValues(string(e.Name)).Inc()
	return nil
}
