package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// Explanation answers "why is this device (not) updating?": the device,
// its groups, its current decisions, what its agent last reported per app,
// and the last directive issued to it.
type Explanation struct {
	Device    policy.Device                 `json:"device"`
	Groups    []string                      `json:"groups"`
	Decisions []protocol.Decision           `json:"decisions"`
	Status    map[string]protocol.AppStatus `json:"status,omitempty"`
	LastSeen  time.Time                     `json:"lastSeen,omitzero"`
	Directive *DirectiveInfo                `json:"directive,omitempty"`
}

// DirectiveInfo summarises the last directive issued to a device.
type DirectiveInfo struct {
	Sequence  uint64    `json:"sequence"`
	IssuedAt  time.Time `json:"issuedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Acknowledged is the sequence the device last reported enforcing; 0
	// when it has reported none.
	Acknowledged uint64 `json:"acknowledged,omitempty"`
}

// Explain evaluates a device's decisions now: for app only, or for every
// app the device's policies govern when app is empty.
func (c *Client) Explain(ctx context.Context, device, app string) (Explanation, error) {
	q := url.Values{}
	if app != "" {
		q.Set("app", app)
	}
	var out Explanation
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/devices/" + pathEscape(device) + "/explain", query: q}, &out)
	return out, err
}

// RolloutItem is the progress of one policy across its devices.
type RolloutItem struct {
	Policy   string `json:"policy"`
	App      string `json:"app"`
	Revision uint64 `json:"revision"`
	// Target is the version most of the policy's decisions move to; nil
	// when none has a target.
	Target *RolloutTarget `json:"target,omitempty"`
	// Devices is how many devices' last directives hold a decision of the
	// policy; ByAction counts those decisions by action and ByState the
	// devices by the state their agent reported ("unknown" before any).
	Devices  int                     `json:"devices"`
	ByAction map[protocol.Action]int `json:"byAction"`
	ByState  map[string]int          `json:"byState"`
}

// RolloutTarget names a target version.
type RolloutTarget struct {
	VersionName string `json:"versionName"`
	VersionCode int64  `json:"versionCode"`
}

// Rollout returns the progress of one policy, or of every policy when
// name is empty.
func (c *Client) Rollout(ctx context.Context, name string) ([]RolloutItem, error) {
	q := url.Values{}
	if name != "" {
		q.Set("policy", name)
	}
	var out struct {
		Items []RolloutItem `json:"items"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/rollout", query: q}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}
