package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// VersionCheckQuery is what an app that checks for itself sends.
type VersionCheckQuery struct {
	// App is the package name (required); VersionCode the installed one
	// (required, positive); Platform android or ios.
	App         string
	VersionCode int64
	Platform    string
	Channel     string
	DeviceID    string
}

// VersionCheck is the controller's answer to a version check.
type VersionCheck struct {
	UpdateAvailable bool                `json:"updateAvailable"`
	Action          protocol.Action     `json:"action"`
	VersionName     string              `json:"versionName,omitempty"`
	VersionCode     int64               `json:"versionCode,omitempty"`
	DownloadURL     string              `json:"downloadUrl,omitempty"`
	Mirrors         []string            `json:"mirrors,omitempty"`
	Size            int64               `json:"size,omitempty"`
	SHA256          string              `json:"sha256,omitempty"`
	Force           bool                `json:"force"`
	Closable        bool                `json:"closable"`
	PromptText      string              `json:"promptText,omitempty"`
	Button          string              `json:"button,omitempty"`
	ReleaseNotes    string              `json:"releaseNotes,omitempty"`
	StoreURL        string              `json:"storeUrl,omitempty"`
	WebURL          string              `json:"webUrl,omitempty"`
	Reasons         []protocol.Reason   `json:"reasons"`
	DecisionID      string              `json:"decisionId,omitempty"`
	Policy          *protocol.PolicyRef `json:"policy,omitempty"`
}

// CheckVersion asks whether an app should update (no token needed).
func (c *Client) CheckVersion(ctx context.Context, vq VersionCheckQuery) (VersionCheck, error) {
	q := url.Values{}
	q.Set("app_id", vq.App)
	q.Set("version_code", strconv.FormatInt(vq.VersionCode, 10))
	for k, v := range map[string]string{"platform": vq.Platform, "channel": vq.Channel, "device_id": vq.DeviceID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out VersionCheck
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/version/check", query: q}, &out)
	return out, err
}

// UpdateConfig is how the policy governing an app prompts for updates.
type UpdateConfig struct {
	App        string             `json:"app"`
	Policy     protocol.PolicyRef `json:"policy"`
	Assignment string             `json:"assignment"`
	Mode       protocol.Mode      `json:"mode"`
	Force      bool               `json:"force"`
	// Prompt is nil for a policy that installs silently.
	Prompt *policy.PromptSpec `json:"prompt"`
}

// UpdateConfig reads the prompt configuration of an app's policy.
func (c *Client) UpdateConfig(ctx context.Context, app string) (UpdateConfig, error) {
	var out UpdateConfig
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/config/update", query: url.Values{"app_id": {app}}}, &out)
	return out, err
}

// EventReportResult says how many events were stored and why the others
// were refused (by their index in the request).
type EventReportResult struct {
	Accepted int `json:"accepted"`
	Rejected []struct {
		Index int    `json:"index"`
		Error string `json:"error"`
	} `json:"rejected"`
}

// ReportEvents sends app events; good ones are stored even when others
// are refused.
func (c *Client) ReportEvents(ctx context.Context, events []protocol.Event) (EventReportResult, error) {
	body, err := jsonBody(map[string]any{"events": events})
	if err != nil {
		return EventReportResult{}, err
	}
	var out EventReportResult
	err = c.do(ctx, request{method: http.MethodPost, path: "/api/v1/event/report", body: body, contentType: "application/json"}, &out)
	return out, err
}

// OpenArtifact opens the APK stored under sha256, from byte offset on
// (a Range request when offset > 0). The caller closes the reader.
func (c *Client) OpenArtifact(ctx context.Context, sha256 string, offset int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("client: artifact %s: offset %d is negative", sha256, offset)
	}
	h := http.Header{"Accept": {APKContentType + ", application/octet-stream"}}
	if offset > 0 {
		h.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "/artifacts/" + pathEscape(sha256), header: h})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Healthy asks /healthz whether the controller process is alive.
func (c *Client) Healthy(ctx context.Context) error {
	return c.do(ctx, request{method: http.MethodGet, path: "/healthz"}, nil)
}

// Ready asks /readyz whether the controller has loaded its catalog and is
// connected to NATS; an error matching ErrNotReady says it is not yet.
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, request{method: http.MethodGet, path: "/readyz"}, nil)
}
