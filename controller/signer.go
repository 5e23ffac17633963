package controller

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice-mdm/sluice/protocol"
)

// Files the controller keeps in its data directory.
const (
	// KeyFile is the controller's Ed25519 signing key (PKCS #8 PEM, mode
	// 0600). Whoever holds it can command the fleet.
	KeyFile = "controller.key"
	// PublicKeyFile is the matching public key (PKIX PEM): the file agents
	// pin to verify directives.
	PublicKeyFile = "controller.pub"
)

// ErrKeyPermissions is wrapped by [KeyPermissionError].
var ErrKeyPermissions = errors.New("controller: signing key file is readable by others")

// KeyPermissionError refuses a key file that group or other users may
// read or write.
type KeyPermissionError struct {
	Path string
	Mode fs.FileMode
}

func (e *KeyPermissionError) Error() string {
	return fmt.Sprintf("controller: signing key %s has mode %04o; it must be readable by its owner only (run: chmod 600 %s)",
		e.Path, e.Mode.Perm(), e.Path)
}

// Is makes errors.Is(err, ErrKeyPermissions) true.
func (e *KeyPermissionError) Is(target error) bool { return target == ErrKeyPermissions }

// Signer signs directives with the controller's Ed25519 key.
type Signer struct {
	priv    ed25519.PrivateKey
	pub     ed25519.PublicKey
	pubPath string
}

// NewSigner signs with priv. Most callers use [LoadOrCreateSigner].
func NewSigner(priv ed25519.PrivateKey) *Signer {
	return &Signer{priv: priv, pub: priv.Public().(ed25519.PublicKey)}
}

// PublicKey is the key agents pin.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.pub }

// PublicKeyPath is where the public key was written, or "" for a signer
// not backed by a data directory.
func (s *Signer) PublicKeyPath() string { return s.pubPath }

// KeyID is the id directives carry ([protocol.KeyID] of the public key).
func (s *Signer) KeyID() string { return protocol.KeyID(s.pub) }

// SignDirective signs d.
func (s *Signer) SignDirective(d *protocol.Directive) (*protocol.Envelope, error) {
	return protocol.SignDirective(s.priv, d)
}

// LoadOrCreateSigner loads the signing key from dataDir, or on first start
// creates dataDir (mode 0700), a new key (KeyFile, mode 0600) and its
// public key (PublicKeyFile). created says whether the key is new. A key
// file that group or other users can access is refused with a
// *KeyPermissionError; a missing or stale public key file is rewritten
// from the private key.
func LoadOrCreateSigner(dataDir string) (s *Signer, created bool, err error) {
	if dataDir == "" {
		return nil, false, errors.New("controller: signing key: data dir is empty")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("controller: signing key: %w", err)
	}
	keyPath := filepath.Join(dataDir, KeyFile)
	priv, err := loadKey(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		priv, created, err = createKey(keyPath)
	}
	if err != nil {
		return nil, false, err
	}
	s = NewSigner(priv)
	s.pubPath = filepath.Join(dataDir, PublicKeyFile)
	if err := writePublicKey(s.pubPath, s.pub); err != nil {
		return nil, false, err
	}
	return s, created, nil
}

func loadKey(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, &KeyPermissionError{Path: path, Mode: fi.Mode()}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("controller: signing key: %w", err)
	}
	priv, err := protocol.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("controller: signing key %s: %w", path, err)
	}
	return priv, nil
}

// createKey writes a new key next to path and links it into place, so
// that two processes starting on one data dir agree on a single key.
func createKey(path string) (ed25519.PrivateKey, bool, error) {
	priv, err := protocol.GenerateKey()
	if err != nil {
		return nil, false, err
	}
	pemBytes, err := protocol.MarshalPrivateKey(priv)
	if err != nil {
		return nil, false, err
	}
	tmp, err := writeTemp(filepath.Dir(path), ".controller.key-*", pemBytes)
	if err != nil {
		return nil, false, fmt.Errorf("controller: signing key: %w", err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			k, lerr := loadKey(path)
			return k, false, lerr
		}
		return nil, false, fmt.Errorf("controller: signing key: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, false, fmt.Errorf("controller: signing key: %w", err)
	}
	return priv, true, nil
}

func writePublicKey(path string, pub ed25519.PublicKey) error {
	want, err := protocol.MarshalPublicKey(pub)
	if err != nil {
		return err
	}
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, want) {
		return nil
	}
	tmp, err := writeTemp(filepath.Dir(path), ".controller.pub-*", want)
	if err != nil {
		return fmt.Errorf("controller: public key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("controller: public key: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("controller: public key: %w", err)
	}
	return nil
}

// writeTemp writes data to a new mode-0600 file in dir and syncs it.
func writeTemp(dir, pattern string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// bootstrapRole is the role of the token created at first start.
const bootstrapRole = "superadmin"

// bootstrapMeta is the meta record that marks the first-start token as
// created, whichever replica created it.
const bootstrapMeta = "bootstrap"

type bootstrapRecord struct {
	TokenName string    `json:"tokenName"`
	TokenHash string    `json:"tokenHash"`
	CreatedAt time.Time `json:"createdAt"`
}

// BootstrapTokenName is the name of the first superadmin token.
const BootstrapTokenName = "bootstrap-superadmin"

// BootstrapToken creates the first superadmin API token unless one was
// created before (by this or another replica sharing the store). It
// returns the secret, which is stored only as its [TokenHash] and must be
// shown once; secret is "" when nothing was created.
func BootstrapToken(ctx context.Context, store *Store, now time.Time) (secret string, err error) {
	if _, err := store.Meta().Get(ctx, bootstrapMeta); err == nil {
		return "", nil
	} else if !errors.Is(err, ErrNotFound) {
		return "", fmt.Errorf("controller: bootstrap token: %w", err)
	}
	secret, err = newTokenSecret()
	if err != nil {
		return "", err
	}
	hash := TokenHash(secret)
	tok := Token{Name: BootstrapTokenName, Role: bootstrapRole, Hash: hash, CreatedAt: now.UTC(), CreatedBy: "bootstrap"}
	if _, err := store.Tokens().Put(ctx, hash, tok, CreateOnly, "bootstrap"); err != nil {
		return "", fmt.Errorf("controller: bootstrap token: %w", err)
	}
	mark, err := json.Marshal(bootstrapRecord{TokenName: tok.Name, TokenHash: hash, CreatedAt: tok.CreatedAt})
	if err != nil {
		return "", fmt.Errorf("controller: bootstrap token: %w", err)
	}
	if _, err := store.Meta().Put(ctx, bootstrapMeta, json.RawMessage(mark), CreateOnly, "bootstrap"); err != nil {
		// Another replica bootstrapped first, or the write failed: either
		// way this token must not stay usable without anyone knowing it.
		if derr := store.Tokens().Delete(ctx, hash, AnyRevision); derr != nil {
			return "", fmt.Errorf("controller: bootstrap token: %w (and removing the unused token failed: %v)", err, derr)
		}
		if errors.Is(err, ErrConflict) {
			return "", nil
		}
		return "", fmt.Errorf("controller: bootstrap token: %w", err)
	}
	return secret, nil
}

// tokenPrefix marks Sluice API tokens, so that secret scanners and people
// recognise them.
const tokenPrefix = "sluice_"

// newTokenSecret returns a new random API token secret: "sluice_" and 32
// random bytes in unpadded URL-safe base64.
func newTokenSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("controller: token secret: %w", err)
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}
