package client

import (
	"context"
	"net/http"
	"time"
)

// Roles a token may have; see API.md for what each may do.
const (
	RoleAuditor    = "auditor"
	RoleOperator   = "operator"
	RoleAdmin      = "admin"
	RoleSuperadmin = "superadmin"
)

// Roles lists the roles, least powerful first (auditor only reads logs).
func Roles() []string { return []string{RoleAuditor, RoleOperator, RoleAdmin, RoleSuperadmin} }

// CreatedToken is a new token with its secret, which the controller shows
// only this once.
type CreatedToken struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	Token string `json:"token"`
}

// TokenInfo is a token as listed, without its secret.
type TokenInfo struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy,omitempty"`
}

// CreateToken creates a token with a role.
func (c *Client) CreateToken(ctx context.Context, name, role string) (CreatedToken, error) {
	body, err := jsonBody(map[string]string{"name": name, "role": role})
	if err != nil {
		return CreatedToken{}, err
	}
	var out CreatedToken
	err = c.do(ctx, request{method: http.MethodPost, path: "/api/v1/tokens", body: body, contentType: "application/json"}, &out)
	return out, err
}

// Tokens lists the tokens, sorted by name.
func (c *Client) Tokens(ctx context.Context) ([]TokenInfo, error) {
	var out struct {
		Items []TokenInfo `json:"items"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/tokens"}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// DeleteToken deletes a token by name; requests with its secret are
// refused from then on.
func (c *Client) DeleteToken(ctx context.Context, name string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: "/api/v1/tokens/" + pathEscape(name)}, nil)
}
