package controller

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// tokenSecretBytes is the randomness of a token secret.
const tokenSecretBytes = 32

// NewTokenSecret returns a fresh random token secret: 32 bytes, base64url
// without padding, prefixed "sluice_" so that leaked tokens are easy to
// recognise.
func NewTokenSecret() (string, error) {
	b := make([]byte, tokenSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("controller: token secret: %w", err)
	}
	return "sluice_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// TokenInfo is a token as listed: never its secret or hash.
type TokenInfo struct {
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy,omitempty"`
}

// CreatedToken is the answer of POST /api/v1/tokens: the secret is shown
// this once.
type CreatedToken struct {
	Name  string `json:"name"`
	Role  Role   `json:"role"`
	Token string `json:"token"`
}

type tokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// CreateToken stores a new token with a fresh secret and returns the
// secret. Token names are unique: a second token of the same name is
// refused with a *ConflictError. by names the creator.
func (s *Store) CreateToken(ctx context.Context, name string, role Role, by string) (string, error) {
	if _, err := objectKey(KindToken, name); err != nil {
		return "", err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", err
	}
	if _, err := findToken(ctx, s, name); err == nil {
		return "", &TokenExistsError{Name: name}
	} else if !errors.Is(err, ErrNotFound) {
		return "", err
	}
	secret, err := NewTokenSecret()
	if err != nil {
		return "", err
	}
	hash := TokenHash(secret)
	_, err = s.Tokens().Put(ctx, hash, Token{Name: name, Role: string(role), Hash: hash, CreatedAt: s.now().UTC(), CreatedBy: by}, CreateOnly, by)
	if err != nil {
		return "", err
	}
	return secret, nil
}

// findToken returns the stored token named name.
func findToken(ctx context.Context, s *Store, name string) (Record[Token], error) {
	recs, err := s.Tokens().List(ctx)
	if err != nil {
		return Record[Token]{}, fmt.Errorf("list tokens: %w", err)
	}
	for _, rec := range recs {
		if rec.Value.Name == name {
			return rec, nil
		}
	}
	return Record[Token]{}, &NotFoundError{Kind: KindToken, Name: name}
}

// TokenExistsError refuses a second token with a name already in use.
type TokenExistsError struct{ Name string }

func (e *TokenExistsError) Error() string {
	return fmt.Sprintf("controller: a token named %q exists; delete it first or choose another name", e.Name)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *TokenExistsError) Is(target error) bool { return target == ErrConflict }

func (a *API) createToken(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r.URL.Query()); err != nil {
		return err
	}
	var req tokenRequest
	if err := decodeJSON(w, r, a.maxBody, &req); err != nil {
		return err
	}
	if _, err := objectKey(KindToken, req.Name); err != nil {
		return err
	}
	role, err := ParseRole(req.Role)
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	who := principalFrom(r.Context())
	secret, err := a.store.CreateToken(ctx, req.Name, role, who.Name)
	a.auditResult(r, auditTarget{Action: "token create", Kind: string(KindToken), Name: req.Name, Detail: "role " + string(role)}, err)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, CreatedToken{Name: req.Name, Role: role, Token: secret})
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r.URL.Query()); err != nil {
		return err
	}
	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	recs, err := a.store.Tokens().List(ctx)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	items := make([]TokenInfo, 0, len(recs))
	for _, rec := range recs {
		t := rec.Value
		items = append(items, TokenInfo{Name: t.Name, Role: Role(t.Role), CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy})
	}
	slices.SortFunc(items, func(x, y TokenInfo) int { return strings.Compare(x.Name, y.Name) })
	return writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r.URL.Query()); err != nil {
		return err
	}
	name := r.PathValue("name")
	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	rec, err := findToken(ctx, a.store, name)
	if err == nil {
		err = a.store.Tokens().Delete(ctx, rec.Name, rec.Revision)
	}
	a.auditResult(r, auditTarget{Action: "token delete", Kind: string(KindToken), Name: name}, err)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, deleteAnswer{Kind: "Token", Name: name, Revision: rec.Revision})
}
