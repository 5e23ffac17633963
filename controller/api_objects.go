package controller

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/policy"
)

// adminTimeout bounds the store work of one admin request.
const adminTimeout = 30 * time.Second

// ObjectRecord is one stored object as the API returns it. Spec has the
// shape of the manifest kind's spec, so that a client can write the object
// back as a manifest; for devices it is the inventory record.
type ObjectRecord struct {
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	Revision  uint64    `json:"revision"`
	UpdatedAt time.Time `json:"updatedAt"`
	UpdatedBy string    `json:"updatedBy,omitempty"`
	Spec      any       `json:"spec"`
}

// Spec shapes of the kinds whose manifest spec is not the stored value.
type (
	groupSpecJSON struct {
		Selector string   `json:"selector,omitempty"`
		Members  []string `json:"members,omitempty"`
	}
	assignmentSpecJSON struct {
		Policy   string   `json:"policy"`
		Groups   []string `json:"groups"`
		Priority int      `json:"priority"`
	}
	ruleSpecJSON struct {
		Module string `json:"module"`
	}
)

// kindInfo ties a URL's KIND to the stored kind and the manifest kind.
type kindInfo struct {
	Path     string // "policies"
	Kind     Kind   // "policy"
	Manifest string // "UpdatePolicy"
}

var apiKinds = []kindInfo{
	{"releases", KindRelease, policy.KindRelease},
	{"policies", KindPolicy, policy.KindUpdatePolicy},
	{"groups", KindGroup, policy.KindDeviceGroup},
	{"assignments", KindAssignment, policy.KindAssignment},
	{"rules", KindRule, policy.KindRule},
	{"devices", KindDevice, policy.KindDevice},
}

// kindOf reads KIND, the path segment after /api/v1/.
func kindOf(r *http.Request) (kindInfo, error) {
	seg, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/api/v1/"), "/")
	for _, k := range apiKinds {
		if k.Path == seg {
			return k, nil
		}
	}
	names := make([]string, len(apiKinds))
	for i, k := range apiKinds {
		names[i] = k.Path
	}
	return kindInfo{}, &apiError{Status: http.StatusNotFound,
		Message: fmt.Sprintf("no route %s %s: %q is not a kind of object; want one of %s", r.Method, r.URL.Path, seg, strings.Join(names, ", "))}
}

func toRecord[T any](kind string, rec Record[T], spec func(T) any) ObjectRecord {
	return ObjectRecord{Kind: kind, Name: rec.Name, Revision: rec.Revision, UpdatedAt: rec.UpdatedAt, UpdatedBy: rec.UpdatedBy, Spec: spec(rec.Value)}
}

func same[T any](v T) any { return v }

func groupSpecOf(g fleet.DeviceGroup) any {
	return groupSpecJSON{Selector: g.Selector, Members: g.Members}
}

func assignmentSpecOf(a fleet.Assignment) any {
	return assignmentSpecJSON{Policy: a.Policy, Groups: a.Groups, Priority: a.Priority}
}

func ruleSpecOf(r policy.Rule) any { return ruleSpecJSON{Module: r.Module} }

// listRecords lists a collection as API records.
func listRecords[T any](ctx context.Context, c *Collection[T], kind string, spec func(T) any) ([]ObjectRecord, error) {
	recs, err := c.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ObjectRecord, len(recs))
	for i, rec := range recs {
		out[i] = toRecord(kind, rec, spec)
	}
	return out, nil
}

func getRecord[T any](ctx context.Context, c *Collection[T], kind, name string, spec func(T) any) (ObjectRecord, error) {
	rec, err := c.Get(ctx, name)
	if err != nil {
		return ObjectRecord{}, err
	}
	return toRecord(kind, rec, spec), nil
}

func (a *API) listObjects(w http.ResponseWriter, r *http.Request) error {
	k, err := kindOf(r)
	if err != nil {
		return err
	}
	if _, err := queryParams(r.URL.Query()); err != nil {
		return err
	}
	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	var items []ObjectRecord
	s := a.store
	switch k.Kind {
	case KindRelease:
		items, err = listRecords(ctx, s.Releases(), k.Manifest, same[policy.Release])
	case KindPolicy:
		items, err = listRecords(ctx, s.Policies(), k.Manifest, same[policy.UpdatePolicy])
	case KindGroup:
		items, err = listRecords(ctx, s.Groups(), k.Manifest, groupSpecOf)
	case KindAssignment:
		items, err = listRecords(ctx, s.Assignments(), k.Manifest, assignmentSpecOf)
	case KindRule:
		items, err = listRecords(ctx, s.Rules(), k.Manifest, ruleSpecOf)
	case KindDevice:
		items, err = listRecords(ctx, s.Devices(), k.Manifest, same[DeviceRecord])
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", k.Path, err)
	}
	if items == nil {
		items = []ObjectRecord{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (a *API) getObject(w http.ResponseWriter, r *http.Request) error {
	k, err := kindOf(r)
	if err != nil {
		return err
	}
	if _, err := queryParams(r.URL.Query()); err != nil {
		return err
	}
	name := r.PathValue("name")
	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	var rec ObjectRecord
	s := a.store
	switch k.Kind {
	case KindRelease:
		rec, err = getRecord(ctx, s.Releases(), k.Manifest, name, same[policy.Release])
	case KindPolicy:
		rec, err = getRecord(ctx, s.Policies(), k.Manifest, name, same[policy.UpdatePolicy])
	case KindGroup:
		rec, err = getRecord(ctx, s.Groups(), k.Manifest, name, groupSpecOf)
	case KindAssignment:
		rec, err = getRecord(ctx, s.Assignments(), k.Manifest, name, assignmentSpecOf)
	case KindRule:
		rec, err = getRecord(ctx, s.Rules(), k.Manifest, name, ruleSpecOf)
	case KindDevice:
		rec, err = getRecord(ctx, s.Devices(), k.Manifest, name, same[DeviceRecord])
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rec)
}

// deleteAnswer is the answer of a delete.
type deleteAnswer struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Revision uint64 `json:"revision"`
}

func (a *API) deleteObject(w http.ResponseWriter, r *http.Request) error {
	k, err := kindOf(r)
	if err != nil {
		return err
	}
	q, err := queryParams(r.URL.Query(), "revision")
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	target := auditTarget{Action: "delete", Kind: string(k.Kind), Name: name}
	if k.Kind == KindRule {
		if err := a.require(r, permSuper, fmt.Sprintf("deleting Rule %q", name), target); err != nil {
			return err
		}
	}
	expected := AnyRevision
	if v, ok := q["revision"]; ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return badParam("revision", v, "the positive revision being deleted, as sluice get shows it")
		}
		expected = n
	}
	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	rev, err := a.deleteStored(ctx, k.Kind, name, expected)
	target.Revision = rev
	a.auditResult(r, target, err)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, deleteAnswer{Kind: k.Manifest, Name: name, Revision: rev})
}

// deleteStored deletes one object after checking that nothing stored
// still refers to it, and returns the revision deleted.
func (a *API) deleteStored(ctx context.Context, kind Kind, name string, expected uint64) (uint64, error) {
	s := a.store
	switch kind {
	case KindRelease:
		return deleteFrom(ctx, s.Releases(), name, expected)
	case KindPolicy:
		if err := a.checkUnreferenced(ctx, kind, name, func(as fleet.Assignment) bool { return as.Policy == name }); err != nil {
			return 0, err
		}
		return deleteFrom(ctx, s.Policies(), name, expected)
	case KindGroup:
		if err := a.checkUnreferenced(ctx, kind, name, func(as fleet.Assignment) bool { return slices.Contains(as.Groups, name) }); err != nil {
			return 0, err
		}
		return deleteFrom(ctx, s.Groups(), name, expected)
	case KindAssignment:
		return deleteFrom(ctx, s.Assignments(), name, expected)
	case KindRule:
		return deleteFrom(ctx, s.Rules(), name, expected)
	case KindDevice:
		return deleteFrom(ctx, s.Devices(), name, expected)
	}
	return 0, fmt.Errorf("delete %s %q: kind cannot be deleted", kind, name)
}

// deleteFrom deletes name, at the revision expected or, with AnyRevision,
// at the revision it finds, and returns that revision.
func deleteFrom[T any](ctx context.Context, c *Collection[T], name string, expected uint64) (uint64, error) {
	if expected == AnyRevision {
		cur, err := c.Get(ctx, name)
		if err != nil {
			return 0, err
		}
		expected = cur.Revision
	}
	if err := c.Delete(ctx, name, expected); err != nil {
		return 0, err
	}
	return expected, nil
}

// checkUnreferenced refuses to delete a policy or group an assignment
// still names: the assignment would point at nothing.
func (a *API) checkUnreferenced(ctx context.Context, kind Kind, name string, refers func(fleet.Assignment) bool) error {
	assignments, err := a.store.Assignments().List(ctx)
	if err != nil {
		return fmt.Errorf("delete %s %q: list assignments: %w", kind, name, err)
	}
	var users []string
	for _, as := range assignments {
		if refers(as.Value) {
			users = append(users, strconv.Quote(as.Name))
		}
	}
	if len(users) > 0 {
		return &apiError{Status: http.StatusConflict, Message: fmt.Sprintf("%s %q is still named by assignment %s; delete or change %s first",
			kind, name, strings.Join(users, ", "), map[bool]string{true: "them", false: "it"}[len(users) > 1])}
	}
	return nil
}
