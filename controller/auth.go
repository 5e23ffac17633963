package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Role is what an API token may do.
type Role string

// Roles. Operator, admin and superadmin each include the ones before;
// auditor only reads the logs.
const (
	RoleAuditor    Role = "auditor"
	RoleOperator   Role = "operator"
	RoleAdmin      Role = "admin"
	RoleSuperadmin Role = "superadmin"
)

// Roles lists every role, least powerful first.
func Roles() []Role { return []Role{RoleAuditor, RoleOperator, RoleAdmin, RoleSuperadmin} }

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles(), r) {
		return "", &ValidationError{Kind: string(KindToken), Field: "role", Value: s, Allowed: "one of auditor, operator, admin, superadmin"}
	}
	return r, nil
}

// permission is a class of request.
type permission int

// Permissions, each held by the roles listed.
const (
	// permRead reads objects, devices, explanations and rollouts:
	// operator, admin, superadmin.
	permRead permission = iota + 1
	// permChange applies non-forced policies, groups, assignments and
	// releases: operator, admin, superadmin.
	permChange
	// permPrivileged sets force, forceAfter, excludedVersions and pins, and
	// deletes objects: admin, superadmin.
	permPrivileged
	// permSuper changes rules (Rego) and tokens: superadmin.
	permSuper
	// permLogs reads the decision and audit logs and replays decisions:
	// auditor, admin, superadmin.
	permLogs
)

// holders lists the roles that hold p, the least powerful first.
func (p permission) holders() []Role {
	switch p {
	case permRead, permChange:
		return []Role{RoleOperator, RoleAdmin, RoleSuperadmin}
	case permPrivileged:
		return []Role{RoleAdmin, RoleSuperadmin}
	case permSuper:
		return []Role{RoleSuperadmin}
	case permLogs:
		return []Role{RoleAuditor, RoleAdmin, RoleSuperadmin}
	}
	return nil
}

// allows reports whether r holds p.
func (r Role) allows(p permission) bool { return slices.Contains(p.holders(), r) }

// needs words the roles that hold p for a 403: "the admin role (or
// superadmin)".
func (p permission) needs() string {
	h := p.holders()
	if len(h) == 1 {
		return fmt.Sprintf("the %s role", h[0])
	}
	rest := make([]string, len(h)-1)
	for i, r := range h[1:] {
		rest[i] = string(r)
	}
	return fmt.Sprintf("the %s role (or %s)", h[0], strings.Join(rest, " or "))
}

// principal is who makes a request: the token's name and role.
type principal struct {
	Name string
	Role Role
}

type principalKey struct{}

func principalFrom(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// authenticate looks the bearer token up: 401 without one or for an
// unknown one.
func (a *API) authenticate(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if h == "" {
		return principal{}, &apiError{Status: http.StatusUnauthorized, Message: "this route needs a token: send Authorization: Bearer <token> (sluice token create makes one)"}
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return principal{}, &apiError{Status: http.StatusUnauthorized, Message: "the Authorization header is not acceptable; want Authorization: Bearer <token>"}
	}
	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	rec, err := a.store.Tokens().Get(ctx, TokenHash(strings.TrimSpace(secret)))
	if errors.Is(err, ErrNotFound) {
		return principal{}, &apiError{Status: http.StatusUnauthorized, Message: "the token is not known (it may have been deleted)"}
	}
	if err != nil {
		return principal{}, fmt.Errorf("look up token: %w", err)
	}
	role, err := ParseRole(rec.Value.Role)
	if err != nil {
		return principal{}, fmt.Errorf("token %q: %w", rec.Value.Name, err)
	}
	return principal{Name: rec.Value.Name, Role: role}, nil
}

// authed wraps an admin route: the caller must present a token whose role
// holds p. A refusal is audited.
func (a *API) authed(p permission, next apiFunc) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		who, err := a.authenticate(r)
		if err != nil {
			return err
		}
		ctx := context.WithValue(r.Context(), principalKey{}, who)
		r = r.WithContext(ctx)
		if err := a.require(r, p, r.Method+" "+r.URL.Path, auditTarget{Kind: "none", Action: actionOf(r)}); err != nil {
			return err
		}
		return next(w, r)
	}
}

// actionOf names the action a request takes, for denials of whole routes.
func actionOf(r *http.Request) string {
	path := strings.TrimPrefix(r.URL.Path, "/api/v1/")
	first, _, _ := strings.Cut(path, "/")
	return strings.ToLower(r.Method) + " " + first
}

// require answers 403, naming the missing role and what it was needed
// for, unless the caller holds p, and audits the denial.
func (a *API) require(r *http.Request, p permission, what string, t auditTarget) error {
	who := principalFrom(r.Context())
	if who.Role.allows(p) {
		return nil
	}
	msg := fmt.Sprintf("%s needs %s; token %q has the %s role", what, p.needs(), who.Name, who.Role)
	t.Outcome, t.Detail = AuditDenied, msg
	a.audit(r, t)
	return &apiError{Status: http.StatusForbidden, Message: msg}
}
