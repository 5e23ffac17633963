package controller

import (
	"context"
	"time"

	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// Decider is what the HTTP API needs from the reconciler: explanations,
// the impact of a change before it is made, replays of logged decisions and
// decisions for apps that check for themselves. *Reconciler implements it;
// API tests may use any implementation backed by a real engine.
type Decider interface {
	// Explain evaluates the device's decisions now (one app, or every app
	// when app is empty) and gathers what the controller knows of it.
	Explain(ctx context.Context, deviceID, app string) (*Explanation, error)
	// DryRun evaluates every device against the catalog as it would be with
	// changes applied (and deletions removed), without storing anything.
	DryRun(ctx context.Context, changes *manifest.Set, deletions []ObjectRef) (*Impact, error)
	// Replay evaluates a logged input again with the current engine.
	Replay(ctx context.Context, in policy.Input) (policy.Decision, error)
	// DecideFor evaluates one app for a device description that need not be
	// in the inventory (the app-facing version check).
	DecideFor(ctx context.Context, dev policy.Device, app string) (policy.Decision, error)
	// Ready reports whether the catalog is loaded and NATS is connected.
	Ready() bool
}

// ObjectRef names one stored object.
type ObjectRef struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"`
}

// Explanation answers "why is this device (not) updating?".
type Explanation struct {
	Device    policy.Device                 `json:"device"`
	Groups    []string                      `json:"groups"`
	Decisions []policy.Decision             `json:"decisions"`
	Status    map[string]protocol.AppStatus `json:"status,omitempty"`
	LastSeen  time.Time                     `json:"lastSeen,omitzero"`
	Directive *DirectiveInfo                `json:"directive,omitempty"`
}

// DirectiveInfo summarises the last directive issued to a device.
type DirectiveInfo struct {
	Sequence  uint64    `json:"sequence"`
	IssuedAt  time.Time `json:"issuedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Acknowledged is the sequence the device last reported enforcing.
	Acknowledged uint64 `json:"acknowledged,omitempty"`
}

// Impact is what a change would do to the fleet's decisions.
type Impact struct {
	// Devices is how many devices were evaluated.
	Devices int `json:"devices"`
	// Changed is how many (device, app) decisions would change.
	Changed int            `json:"changed"`
	Sample  []ImpactChange `json:"sample"`
}

// ImpactChange is one decision that would change.
type ImpactChange struct {
	Device string          `json:"device"`
	App    string          `json:"app"`
	From   protocol.Action `json:"from"`
	To     protocol.Action `json:"to"`
	Reason string          `json:"reason"`
}
