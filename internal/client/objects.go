package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// Kind is a kind of stored object as the API's paths name it.
type Kind string

// Kinds of objects.
const (
	Releases    Kind = "releases"
	Policies    Kind = "policies"
	Groups      Kind = "groups"
	Assignments Kind = "assignments"
	Rules       Kind = "rules"
	Devices     Kind = "devices"
)

// kindNames lists each kind with its manifest kind and singular name.
var kindNames = []struct {
	kind               Kind
	manifest, singular string
}{
	{Releases, policy.KindRelease, "release"},
	{Policies, policy.KindUpdatePolicy, "policy"},
	{Groups, policy.KindDeviceGroup, "group"},
	{Assignments, policy.KindAssignment, "assignment"},
	{Rules, policy.KindRule, "rule"},
	{Devices, policy.KindDevice, "device"},
}

// AllKinds lists the kinds in the order the API documents them.
func AllKinds() []Kind {
	out := make([]Kind, len(kindNames))
	for i, k := range kindNames {
		out[i] = k.kind
	}
	return out
}

// ParseKind reads a kind the way a person types it: the path form
// ("policies"), the singular ("policy") or the manifest kind
// ("UpdatePolicy"), in any case.
func ParseKind(s string) (Kind, error) {
	for _, k := range kindNames {
		if strings.EqualFold(s, string(k.kind)) || strings.EqualFold(s, k.singular) || strings.EqualFold(s, k.manifest) {
			return k.kind, nil
		}
	}
	names := make([]string, len(kindNames))
	for i, k := range kindNames {
		names[i] = string(k.kind)
	}
	return "", fmt.Errorf("kind %q is not known; want one of %s", s, strings.Join(names, ", "))
}

// Manifest is the manifest kind of k ("UpdatePolicy").
func (k Kind) Manifest() string {
	for _, n := range kindNames {
		if n.kind == k {
			return n.manifest
		}
	}
	return string(k)
}

// Record is one stored object: its manifest kind, name, revision, who
// changed it last and when, and its spec in the shape of the manifest
// kind's spec (for devices, a [DeviceRecord]).
type Record struct {
	Kind      string          `json:"kind"`
	Name      string          `json:"name"`
	Revision  uint64          `json:"revision"`
	UpdatedAt time.Time       `json:"updatedAt"`
	UpdatedBy string          `json:"updatedBy,omitempty"`
	Spec      json.RawMessage `json:"spec"`
}

// DecodeSpec decodes the record's spec into v.
func (r Record) DecodeSpec(v any) error {
	if err := json.Unmarshal(r.Spec, v); err != nil {
		return fmt.Errorf("client: %s %q: decode spec: %w", r.Kind, r.Name, err)
	}
	return nil
}

// Release is the spec of a release record.
func (r Record) Release() (policy.Release, error) {
	var v policy.Release
	return v, r.DecodeSpec(&v)
}

// Policy is the spec of an UpdatePolicy record.
func (r Record) Policy() (policy.UpdatePolicy, error) {
	var v policy.UpdatePolicy
	return v, r.DecodeSpec(&v)
}

// Group is the spec of a DeviceGroup record, named.
func (r Record) Group() (fleet.DeviceGroup, error) {
	v := fleet.DeviceGroup{}
	err := r.DecodeSpec(&v)
	v.Name = r.Name
	return v, err
}

// Assignment is the spec of an Assignment record, named.
func (r Record) Assignment() (fleet.Assignment, error) {
	v := fleet.Assignment{}
	err := r.DecodeSpec(&v)
	v.Name = r.Name
	return v, err
}

// Rule is the spec of a Rule record, named.
func (r Record) Rule() (policy.Rule, error) {
	v := policy.Rule{}
	err := r.DecodeSpec(&v)
	v.Name = r.Name
	return v, err
}

// Device is the spec of a device record.
func (r Record) Device() (DeviceRecord, error) {
	var v DeviceRecord
	return v, r.DecodeSpec(&v)
}

// DeviceRecord is a device in the inventory: what the decision engine
// knows of it, and what its agent last reported beyond that.
type DeviceRecord struct {
	Device     policy.Device  `json:"device"`
	LastReport *ReportSummary `json:"lastReport,omitempty"`
}

// ReportSummary is the controller's summary of a device's last report.
type ReportSummary struct {
	SentAt            time.Time                     `json:"sentAt"`
	ReceivedAt        time.Time                     `json:"receivedAt"`
	DirectiveSequence uint64                        `json:"directiveSequence,omitempty"`
	Status            map[string]protocol.AppStatus `json:"status,omitempty"`
	Dropped           uint64                        `json:"dropped,omitempty"`
}

// List returns every object of kind, sorted by name.
func (c *Client) List(ctx context.Context, kind Kind) ([]Record, error) {
	var out struct {
		Items []Record `json:"items"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/" + string(kind)}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// Get returns one object.
func (c *Client) Get(ctx context.Context, kind Kind, name string) (Record, error) {
	var out Record
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/" + string(kind) + "/" + pathEscape(name)}, &out)
	return out, err
}

// Deleted is what a delete removed.
type Deleted struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Revision uint64 `json:"revision"`
}

// Delete removes one object. With revision 0 it removes whatever revision
// is current; otherwise only that revision (a newer one is a conflict).
func (c *Client) Delete(ctx context.Context, kind Kind, name string, revision uint64) (Deleted, error) {
	q := url.Values{}
	if revision > 0 {
		q.Set("revision", strconv.FormatUint(revision, 10))
	}
	var out Deleted
	err := c.do(ctx, request{method: http.MethodDelete, path: "/api/v1/" + string(kind) + "/" + pathEscape(name), query: q}, &out)
	return out, err
}
