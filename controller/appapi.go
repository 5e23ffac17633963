package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// versionCheckTimeout bounds a version check: apps give up after 3 s, so
// the controller answers (if only with 503) well before.
const versionCheckTimeout = 2 * time.Second

// MaxAppIDLen is the longest app_id the app-facing API accepts.
const MaxAppIDLen = 32

// AnonymousDeviceID is the device id of a version check that names no
// device (or one the inventory does not know). Rollouts place devices by a
// hash of their id, so all such checks share one place: a rollout below
// 100% offers the update to all of them or to none.
const AnonymousDeviceID = "anonymous"

// VersionCheck is the answer of GET /api/v1/version/check.
type VersionCheck struct {
	UpdateAvailable bool            `json:"updateAvailable"`
	Action          protocol.Action `json:"action"`
	VersionName     string          `json:"versionName,omitempty"`
	VersionCode     int64           `json:"versionCode,omitempty"`
	DownloadURL     string          `json:"downloadUrl,omitempty"`
	Mirrors         []string        `json:"mirrors,omitempty"`
	Size            int64           `json:"size,omitempty"`
	SHA256          string          `json:"sha256,omitempty"`
	Force           bool            `json:"force"`
	Closable        bool            `json:"closable"`
	PromptText      string          `json:"promptText,omitempty"`
	Button          string          `json:"button,omitempty"`
	ReleaseNotes    string          `json:"releaseNotes,omitempty"`
	// StoreURL and WebURL are set for iOS (storeRedirect).
	StoreURL   string              `json:"storeUrl,omitempty"`
	WebURL     string              `json:"webUrl,omitempty"`
	Reasons    []protocol.Reason   `json:"reasons"`
	DecisionID string              `json:"decisionId,omitempty"`
	Policy     *protocol.PolicyRef `json:"policy,omitempty"`
}

// checkQuery is a parsed version check.
type checkQuery struct {
	app         string
	versionCode int64
	platform    string
	channel     string
	deviceID    string
}

func parseAppID(v string, present bool) (string, error) {
	const allowed = "a package name of at most 32 characters, such as com.example.pos"
	if !present || v == "" {
		return "", &apiError{Status: http.StatusBadRequest, Message: "parameter app_id is required; want " + allowed}
	}
	if len(v) > MaxAppIDLen || protocol.ValidatePackageName(v) != nil {
		return "", badParam("app_id", v, allowed)
	}
	return v, nil
}

func parseCheckQuery(r *http.Request) (checkQuery, error) {
	q, err := queryParams(r.URL.Query(), "app_id", "version_code", "platform", "channel", "device_id")
	if err != nil {
		return checkQuery{}, err
	}
	var c checkQuery
	v, ok := q["app_id"]
	if c.app, err = parseAppID(v, ok); err != nil {
		return c, err
	}
	v, ok = q["version_code"]
	if !ok || v == "" {
		return c, &apiError{Status: http.StatusBadRequest, Message: "parameter version_code is required; want the app's own versionCode, a positive whole number"}
	}
	if c.versionCode, err = strconv.ParseInt(v, 10, 64); err != nil || c.versionCode <= 0 {
		return c, badParam("version_code", v, "a positive whole number (the app's own versionCode)")
	}
	c.platform = protocol.PlatformAndroid
	if v, ok := q["platform"]; ok {
		if v != protocol.PlatformAndroid && v != protocol.PlatformIOS {
			return c, badParam("platform", v, "android or ios (android when left out)")
		}
		c.platform = v
	}
	if v, ok := q["channel"]; ok {
		if _, err := checkTrack(v); err != nil || v == "" {
			return c, badParam("channel", v, "1 to 63 lowercase letters, digits, '-', '_' and '.'")
		}
		c.channel = v
	}
	if v, ok := q["device_id"]; ok {
		if err := protocol.ValidateDeviceID(v); err != nil {
			return c, badParam("device_id", v, fmt.Sprintf("1 to %d letters, digits, '-', '_' and ':'", protocol.MaxDeviceIDLen))
		}
		c.deviceID = v
	}
	return c, nil
}

func (a *API) versionCheck(w http.ResponseWriter, r *http.Request) error {
	c, err := parseCheckQuery(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), versionCheckTimeout)
	defer cancel()
	d, err := a.decideForApp(ctx, c)
	if err != nil {
		if ctx.Err() != nil {
			return &apiError{Status: http.StatusServiceUnavailable, Message: "the version check did not finish in time; try again later"}
		}
		return err
	}
	return writeJSON(w, http.StatusOK, versionAnswer(d, c.platform))
}

// decideForApp decides for the app that checks for itself. A device the
// inventory knows is decided as it stands there, with the app at the
// version it reports. Otherwise the device is described from the query;
// if that matches no assignment (it has no labels), the app's governing
// policy (see governingPolicy) decides.
func (a *API) decideForApp(ctx context.Context, c checkQuery) (policy.Decision, error) {
	installed := protocol.InstalledApp{VersionCode: c.versionCode}
	if rel, err := a.store.Releases().Get(ctx, ReleaseName(c.app, c.versionCode)); err == nil {
		installed.VersionName = rel.Value.VersionName
	} else if !errors.Is(err, ErrNotFound) {
		return policy.Decision{}, fmt.Errorf("version check %s: %w", c.app, err)
	}
	dev := policy.Device{ID: AnonymousDeviceID, Platform: c.platform, Channel: c.channel}
	known := false
	if c.deviceID != "" {
		rec, err := a.store.Devices().Get(ctx, c.deviceID)
		switch {
		case err == nil:
			dev, known = rec.Value.Device, true
		case errors.Is(err, ErrNotFound):
			dev.ID = c.deviceID
		default:
			return policy.Decision{}, fmt.Errorf("version check %s: device %s: %w", c.app, c.deviceID, err)
		}
	}
	if c.channel != "" {
		dev.Channel = c.channel
	}
	if prev, ok := dev.Apps[c.app]; ok && prev.VersionCode == c.versionCode {
		installed = prev
	}
	apps := make(map[string]protocol.InstalledApp, len(dev.Apps)+1)
	for k, v := range dev.Apps {
		apps[k] = v
	}
	apps[c.app] = installed
	dev.Apps = apps
	// The app's own version is its client version.
	dev.AgentVersion = installed.VersionName

	d, err := a.decider.DecideFor(ctx, dev, c.app)
	if err != nil {
		return policy.Decision{}, fmt.Errorf("version check %s: %w", c.app, err)
	}
	if known || !onlyReason(d, protocol.ReasonNoPolicy) {
		return d, nil
	}
	gp, ok, err := a.governingPolicy(ctx, c.app)
	if err != nil || !ok {
		return d, err
	}
	rels, err := a.store.AppReleases(ctx, c.app)
	if err != nil {
		return policy.Decision{}, fmt.Errorf("version check %s: releases: %w", c.app, err)
	}
	specs := make([]policy.Release, len(rels))
	for i, rel := range rels {
		specs[i] = rel.Value
	}
	in, err := policy.BuildInput(policy.Request{Device: dev, App: c.app, Policy: &gp.spec, PolicyName: gp.name,
		PolicyRevision: gp.revision, Releases: specs, At: a.now()})
	if err != nil {
		return policy.Decision{}, fmt.Errorf("version check %s: %w", c.app, err)
	}
	return a.decider.Replay(ctx, in)
}

func onlyReason(d policy.Decision, code string) bool {
	return len(d.Reasons) == 1 && d.Reasons[0].Code == code
}

// versionAnswer shapes a decision for the app.
func versionAnswer(d policy.Decision, platform string) VersionCheck {
	v := VersionCheck{Action: d.Action, Reasons: d.Reasons, DecisionID: d.DecisionID, Policy: d.Policy}
	if v.Reasons == nil {
		v.Reasons = []protocol.Reason{}
	}
	switch d.Action {
	case protocol.ActionInstall, protocol.ActionPrompt, protocol.ActionForce, protocol.ActionStoreRedirect:
		v.UpdateAvailable = d.Target != nil
	}
	v.Force = d.Action == protocol.ActionForce
	v.Closable = !v.Force
	if t := d.Target; t != nil {
		v.VersionName, v.VersionCode, v.ReleaseNotes = t.VersionName, t.VersionCode, t.ReleaseNotes
		if art := t.Artifact; art != nil && platform == protocol.PlatformAndroid {
			if len(art.URLs) > 0 {
				v.DownloadURL, v.Mirrors = art.URLs[0], art.URLs[1:]
			}
			v.Size, v.SHA256 = art.Size, art.SHA256
		}
	}
	if p := d.Prompt; p != nil {
		v.Closable = p.Closable && !v.Force
		v.PromptText, v.Button = p.Text, p.Button
		v.StoreURL, v.WebURL = p.StoreURL, p.WebURL
	}
	if platform == protocol.PlatformIOS && v.UpdateAvailable {
		v.Action = protocol.ActionStoreRedirect
		v.DownloadURL, v.Mirrors, v.Size, v.SHA256 = "", nil, 0, ""
		if id := d.Target.AppStoreID; id != "" && v.StoreURL == "" {
			v.StoreURL = "itms-apps://itunes.apple.com/app/id" + id
			v.WebURL = "https://apps.apple.com/app/id" + id
		}
	}
	return v
}

// governing is the policy that governs an app for apps that check for
// themselves without a device the inventory knows.
type governing struct {
	name, assignment string
	revision         uint64
	spec             policy.UpdatePolicy
}

// governingPolicy is the documented rule for a device-less app: the policy
// of the highest-priority assignment of a policy for the app, the first by
// assignment name on equal priority. ok is false when no assignment
// assigns a policy for the app.
func (a *API) governingPolicy(ctx context.Context, app string) (governing, bool, error) {
	assignments, err := a.store.Assignments().List(ctx)
	if err != nil {
		return governing{}, false, fmt.Errorf("policy of %s: list assignments: %w", app, err)
	}
	slices.SortStableFunc(assignments, func(x, y Record[fleet.Assignment]) int {
		if x.Value.Priority != y.Value.Priority {
			return y.Value.Priority - x.Value.Priority
		}
		return strings.Compare(x.Name, y.Name)
	})
	for _, as := range assignments {
		if as.Value.App != "" && as.Value.App != app {
			continue
		}
		p, err := a.store.Policies().Get(ctx, as.Value.Policy)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return governing{}, false, fmt.Errorf("policy of %s: %w", app, err)
		}
		if p.Value.App == app {
			return governing{name: p.Name, assignment: as.Name, revision: p.Revision, spec: p.Value}, true, nil
		}
	}
	return governing{}, false, nil
}
