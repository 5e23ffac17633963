package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sluice-mdm/sluice/protocol"
)

// DecisionEntry is one decision-log entry, shaped like an OPA decision-log
// event: the input the engine saw and the decision it produced.
type DecisionEntry struct {
	DecisionID string              `json:"decision_id"`
	Timestamp  time.Time           `json:"timestamp"`
	Path       string              `json:"path,omitempty"`
	Input      json.RawMessage     `json:"input"`
	Result     json.RawMessage     `json:"result"`
	Labels     map[string]string   `json:"labels,omitempty"`
	Device     string              `json:"device,omitempty"`
	App        string              `json:"app,omitempty"`
	Policy     *protocol.PolicyRef `json:"policy,omitempty"`
	Seq        uint64              `json:"seq,omitempty"`
}

// Decision decodes the entry's result.
func (e DecisionEntry) Decision() (protocol.Decision, error) {
	var d protocol.Decision
	if err := json.Unmarshal(e.Result, &d); err != nil {
		return d, fmt.Errorf("client: decision %s: decode result: %w", e.DecisionID, err)
	}
	return d, nil
}

// DecisionQuery selects decision-log entries. Zero fields do not filter.
type DecisionQuery struct {
	Device string
	App    string
	// Since is an RFC 3339 time or a Go duration counted back from the
	// server's now ("24h"); the server checks it.
	Since string
	// Limit keeps the newest entries only; 0 is the server's default.
	Limit int
}

func logQuery(q url.Values, since string, limit int) url.Values {
	if since != "" {
		q.Set("since", since)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}

// Decisions reads the decision log, newest last.
func (c *Client) Decisions(ctx context.Context, dq DecisionQuery) ([]DecisionEntry, error) {
	q := url.Values{}
	if dq.Device != "" {
		q.Set("device", dq.Device)
	}
	if dq.App != "" {
		q.Set("app", dq.App)
	}
	var out struct {
		Items []DecisionEntry `json:"items"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/decisions", query: logQuery(q, dq.Since, dq.Limit)}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// Decision reads one decision-log entry.
func (c *Client) Decision(ctx context.Context, id string) (DecisionEntry, error) {
	var out DecisionEntry
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/decisions/" + pathEscape(id)}, &out)
	return out, err
}

// ReplayResult says whether a logged decision's input, evaluated again,
// gives the same outcome.
type ReplayResult struct {
	Identical bool              `json:"identical"`
	Diff      string            `json:"diff"`
	Logged    protocol.Decision `json:"logged"`
	Replayed  protocol.Decision `json:"replayed"`
}

// Replay re-evaluates a logged decision's input.
func (c *Client) Replay(ctx context.Context, id string) (ReplayResult, error) {
	var out ReplayResult
	err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/decisions/" + pathEscape(id) + "/replay"}, &out)
	return out, err
}

// AuditEntry is one admin audit-log entry: who did what to which object,
// and how it ended (ok, denied, error).
type AuditEntry struct {
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Role     string    `json:"role,omitempty"`
	Action   string    `json:"action"`
	Kind     string    `json:"kind,omitempty"`
	Name     string    `json:"name,omitempty"`
	Revision uint64    `json:"revision,omitempty"`
	Outcome  string    `json:"outcome"`
	Detail   string    `json:"detail,omitempty"`
	Seq      uint64    `json:"seq,omitempty"`
}

// AuditQuery selects audit-log entries. Zero fields do not filter.
type AuditQuery struct {
	Actor string
	// Since is as in [DecisionQuery].
	Since string
	Limit int
}

// Audit reads the admin audit log, newest last.
func (c *Client) Audit(ctx context.Context, aq AuditQuery) ([]AuditEntry, error) {
	q := url.Values{}
	if aq.Actor != "" {
		q.Set("actor", aq.Actor)
	}
	var out struct {
		Items []AuditEntry `json:"items"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/audit", query: logQuery(q, aq.Since, aq.Limit)}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}
