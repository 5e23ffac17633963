package controller

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// parseSince reads a since parameter: an RFC 3339 time, or a Go duration
// counted back from now ("24h").
func parseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, badParam("since", v, `an RFC 3339 time ("2026-05-02T09:00:00Z") or a positive Go duration ("24h")`)
}

func parseLimit(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxLogLimit {
		return 0, badParam("limit", v, fmt.Sprintf("a whole number from 1 to %d", MaxLogLimit))
	}
	return n, nil
}

// logFilters reads since and limit, common to both logs.
func (a *API) logFilters(q map[string]string) (since time.Time, limit int, err error) {
	if v, ok := q["since"]; ok {
		if since, err = parseSince(v, a.now()); err != nil {
			return since, 0, err
		}
	}
	if v, ok := q["limit"]; ok {
		if limit, err = parseLimit(v); err != nil {
			return since, 0, err
		}
	}
	return since, limit, nil
}

func (a *API) queryDecisions(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r.URL.Query(), "device", "app", "since", "limit")
	if err != nil {
		return err
	}
	dq := DecisionQuery{Device: q["device"], App: q["app"], Tail: true}
	if dq.Device != "" {
		if err := protocol.ValidateDeviceID(dq.Device); err != nil {
			return badParam("device", dq.Device, "a device id of letters, digits, '-', '_' and ':'")
		}
	}
	if dq.App != "" {
		if err := protocol.ValidatePackageName(dq.App); err != nil {
			return badParam("app", dq.App, "a package name such as com.example.pos")
		}
	}
	if dq.Since, dq.Limit, err = a.logFilters(q); err != nil {
		return err
	}
	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	items, err := a.store.QueryDecisions(ctx, dq)
	if err != nil && !errors.Is(err, ErrMalformed) {
		return err
	}
	if err != nil {
		a.log.Warn("decision log holds malformed entries", "error", err)
	}
	if items == nil {
		items = []DecisionLogEntry{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (a *API) getDecision(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r.URL.Query()); err != nil {
		return err
	}
	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	e, err := a.store.GetDecision(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}

// ReplayResult is the answer of POST /api/v1/decisions/ID/replay.
type ReplayResult struct {
	Identical bool            `json:"identical"`
	Diff      string          `json:"diff"`
	Logged    policy.Decision `json:"logged"`
	Replayed  policy.Decision `json:"replayed"`
}

func (a *API) replayDecision(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r.URL.Query()); err != nil {
		return err
	}
	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	id := r.PathValue("id")
	e, err := a.store.GetDecision(ctx, id)
	if err != nil {
		return err
	}
	var in policy.Input
	if err := json.Unmarshal(e.Input, &in); err != nil {
		return &apiError{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf("decision %s has no replayable input: %v", id, err)}
	}
	var logged policy.Decision
	if err := json.Unmarshal(e.Result, &logged); err != nil {
		return &apiError{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf("decision %s has no readable result: %v", id, err)}
	}
	replayed, err := a.decider.Replay(ctx, in)
	if err != nil {
		return fmt.Errorf("replay decision %s: %w", id, err)
	}
	diff := policy.SameOutcome(logged, replayed)
	return writeJSON(w, http.StatusOK, ReplayResult{Identical: diff == "", Diff: diff, Logged: logged, Replayed: replayed})
}

func (a *API) queryAudit(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r.URL.Query(), "since", "actor", "limit")
	if err != nil {
		return err
	}
	aq := AuditQuery{Actor: q["actor"], Tail: true}
	if aq.Since, aq.Limit, err = a.logFilters(q); err != nil {
		return err
	}
	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	items, err := a.store.QueryAudit(ctx, aq)
	if err != nil && !errors.Is(err, ErrMalformed) {
		return err
	}
	if err != nil {
		a.log.Warn("audit log holds malformed entries", "error", err)
	}
	if items == nil {
		items = []AuditEntry{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items})
}
