package controller

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// DeviceRecord is a device in the inventory: what the decision engine
// needs, plus a summary of its last report.
type DeviceRecord struct {
	Device     policy.Device  `json:"device"`
	LastReport *ReportSummary `json:"lastReport,omitempty"`
}

// ReportSummary is what the controller keeps of a device's last report
// beyond its inventory: what the agent is doing, per app.
type ReportSummary struct {
	SentAt     time.Time `json:"sentAt"`
	ReceivedAt time.Time `json:"receivedAt"`
	// StreamSeq is the report's sequence in the reports stream.
	StreamSeq         uint64                        `json:"streamSeq,omitempty"`
	DirectiveSequence uint64                        `json:"directiveSequence,omitempty"`
	Status            map[string]protocol.AppStatus `json:"status,omitempty"`
	Dropped           uint64                        `json:"dropped,omitempty"`
}

// DirectiveRecord is the last signed directive issued to a device. Its
// Sequence is what the next directive must exceed; writing the next one
// with the record's revision as expected revision keeps two controller
// replicas from issuing the same sequence.
type DirectiveRecord struct {
	Sequence  uint64             `json:"sequence"`
	IssuedAt  time.Time          `json:"issuedAt"`
	ExpiresAt time.Time          `json:"expiresAt"`
	Envelope  *protocol.Envelope `json:"envelope"`
}

// Token is an API token. Only the SHA-256 of its secret is stored; the
// record's name is that hash ([TokenHash]), so a bearer secret is looked up
// directly.
type Token struct {
	// Name is the human name, recorded as the actor in the audit log.
	Name string `json:"name"`
	// Role is operator, admin, superadmin or auditor.
	Role      string    `json:"role"`
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy,omitempty"`
}

// TokenHash is the lowercase hex SHA-256 of a token secret: the name under
// which its [Token] is stored.
func TokenHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ReleaseName is the name of a release record: "<app>.<versionCode>".
func ReleaseName(app string, versionCode int64) string {
	return fmt.Sprintf("%s.%d", app, versionCode)
}

// AppReleases returns the releases of one app, lowest versionCode first.
func (s *Store) AppReleases(ctx context.Context, app string) ([]Record[policy.Release], error) {
	if err := protocol.ValidatePackageName(app); err != nil {
		return nil, &ValidationError{Kind: string(KindRelease), Field: "app", Value: app, Allowed: "an Android package name: " + err.Error()}
	}
	out, err := s.releases.list(ctx, app+".*")
	slices.SortFunc(out, func(a, b Record[policy.Release]) int {
		return cmp.Compare(a.Value.VersionCode, b.Value.VersionCode)
	})
	return out, err
}

// maxNameLen is the longest object name.
const maxNameLen = 253

// objectKey checks a name of a policy, group, assignment, rule, release,
// token or meta setting: 1 to 253 letters, digits, '.', '-' and '_',
// starting with a letter or digit, with no ".." and no trailing '.'. The
// name is its own KV key.
func objectKey(kind Kind, name string) (string, error) {
	bad := func(why string) error {
		return &ValidationError{Kind: string(kind), Field: "name", Value: name,
			Allowed: fmt.Sprintf("1 to %d letters, digits, '.', '-' and '_', starting with a letter or digit, without \"..\" or a trailing '.' (%s)", maxNameLen, why)}
	}
	if name == "" || len(name) > maxNameLen {
		return "", bad(fmt.Sprintf("it is %d bytes long", len(name)))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '-' && c != '_') {
			return "", bad(fmt.Sprintf("%q at byte %d", c, i))
		}
	}
	if strings.Contains(name, "..") || strings.HasSuffix(name, ".") {
		return "", bad(`it has ".." or ends with '.'`)
	}
	return name, nil
}

func identity(key string) string { return key }

// Device ids may hold ':', which KV keys may not; '=', which device ids may
// not hold, stands in for it.
func deviceKey(kind Kind, id string) (string, error) {
	if err := protocol.ValidateDeviceID(id); err != nil {
		return "", &ValidationError{Kind: string(kind), Field: "device id", Value: id, Allowed: err.Error()}
	}
	return strings.ReplaceAll(id, ":", "="), nil
}

func deviceName(key string) string { return strings.ReplaceAll(key, "=", ":") }

// sameName completes an empty name field with the record's name and
// refuses a different one.
func sameName(kind Kind, name, field string, v *string) error {
	if *v == "" {
		*v = name
		return nil
	}
	if *v != name {
		return &ValidationError{Kind: string(kind), Name: name, Field: field, Value: *v, Allowed: fmt.Sprintf("the record's name %q", name)}
	}
	return nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

func releaseRules() kindRules[policy.Release] {
	return kindRules[policy.Release]{
		key:  objectKey,
		name: identity,
		validate: func(kind Kind, name string, r *policy.Release) error {
			invalid := func(field string, v any, allowed string) error {
				return &ValidationError{Kind: string(kind), Name: name, Field: field, Value: v, Allowed: allowed}
			}
			if err := protocol.ValidatePackageName(r.App); err != nil {
				return invalid("app", r.App, "an Android package name: "+err.Error())
			}
			if r.VersionCode <= 0 {
				return invalid("versionCode", r.VersionCode, "a positive integer")
			}
			if want := ReleaseName(r.App, r.VersionCode); name != want {
				return invalid("name", name, fmt.Sprintf("%q, from app and versionCode", want))
			}
			switch {
			case r.Artifact.SHA256 == "" && r.AppStoreID == "":
				return invalid("artifact.sha256", r.Artifact.SHA256, "64 lowercase hex digits (or an appStoreId for an iOS release)")
			case r.Artifact.SHA256 != "" && !isSHA256Hex(r.Artifact.SHA256):
				return invalid("artifact.sha256", r.Artifact.SHA256, "64 lowercase hex digits")
			}
			return nil
		},
		same: func(stored, given *policy.Release) error {
			same := stored.Artifact.SHA256 == given.Artifact.SHA256
			if stored.Artifact.SHA256 == "" {
				same = same && stored.VersionName == given.VersionName && stored.AppStoreID == given.AppStoreID
			}
			if same {
				return nil
			}
			return &ImmutableError{App: stored.App, VersionCode: stored.VersionCode, StoredSHA256: stored.Artifact.SHA256, GivenSHA256: given.Artifact.SHA256}
		},
	}
}

func policyRules() kindRules[policy.UpdatePolicy] {
	return kindRules[policy.UpdatePolicy]{key: objectKey, name: identity}
}

func groupRules() kindRules[fleet.DeviceGroup] {
	return kindRules[fleet.DeviceGroup]{key: objectKey, name: identity,
		validate: func(kind Kind, name string, g *fleet.DeviceGroup) error { return sameName(kind, name, "name", &g.Name) }}
}

func assignmentRules() kindRules[fleet.Assignment] {
	return kindRules[fleet.Assignment]{key: objectKey, name: identity,
		validate: func(kind Kind, name string, a *fleet.Assignment) error { return sameName(kind, name, "name", &a.Name) }}
}

func ruleRules() kindRules[policy.Rule] {
	return kindRules[policy.Rule]{key: objectKey, name: identity,
		validate: func(kind Kind, name string, r *policy.Rule) error { return sameName(kind, name, "name", &r.Name) }}
}

func deviceRules() kindRules[DeviceRecord] {
	return kindRules[DeviceRecord]{key: deviceKey, name: deviceName,
		validate: func(kind Kind, name string, d *DeviceRecord) error {
			return sameName(kind, name, "device.id", &d.Device.ID)
		}}
}

func directiveRules() kindRules[DirectiveRecord] {
	return kindRules[DirectiveRecord]{key: deviceKey, name: deviceName,
		validate: func(kind Kind, name string, d *DirectiveRecord) error {
			if d.Sequence == 0 {
				return &ValidationError{Kind: string(kind), Name: name, Field: "sequence", Value: d.Sequence, Allowed: "a positive sequence number"}
			}
			if d.Envelope == nil || len(d.Envelope.Signature) == 0 {
				return &ValidationError{Kind: string(kind), Name: name, Field: "envelope", Value: "unsigned", Allowed: "a signed directive envelope"}
			}
			return nil
		}}
}

func tokenRules() kindRules[Token] {
	return kindRules[Token]{
		key: func(kind Kind, name string) (string, error) {
			if !isSHA256Hex(name) {
				return "", &ValidationError{Kind: string(kind), Field: "name", Value: name, Allowed: "the token's hash: 64 lowercase hex digits (TokenHash of the secret)"}
			}
			return name, nil
		},
		name: identity,
		validate: func(kind Kind, name string, t *Token) error {
			if err := sameName(kind, name, "hash", &t.Hash); err != nil {
				return err
			}
			if t.Name == "" {
				return &ValidationError{Kind: string(kind), Name: name, Field: "name", Value: t.Name, Allowed: "a non-empty token name"}
			}
			if t.Role == "" {
				return &ValidationError{Kind: string(kind), Name: name, Field: "role", Value: t.Role, Allowed: "a role (operator, admin, superadmin or auditor)"}
			}
			return nil
		},
	}
}

func metaRules() kindRules[json.RawMessage] {
	return kindRules[json.RawMessage]{key: objectKey, name: identity,
		validate: func(kind Kind, name string, v *json.RawMessage) error {
			if !json.Valid(*v) {
				return &ValidationError{Kind: string(kind), Name: name, Field: "value", Value: string(*v), Allowed: "a JSON value"}
			}
			return nil
		}}
}
