package protocol

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Envelope errors, checked with errors.Is.
var (
	ErrUnsigned     = errors.New("protocol: message is not signed")
	ErrUnknownKey   = errors.New("protocol: signed with an unknown key")
	ErrBadSignature = errors.New("protocol: signature does not verify")
	ErrReplayed     = errors.New("protocol: sequence is not newer than the last accepted")
	ErrExpired      = errors.New("protocol: message has expired")
	ErrWrongDevice  = errors.New("protocol: directive is for another device")
)

// signingContext separates Sluice envelope signatures from any other use of
// the same key.
const signingContext = "sluice-envelope-v1\n"

// Envelope carries a JSON payload with the Ed25519 signature of the key
// named by KeyID. The payload bytes are exactly what was signed.
type Envelope struct {
	KeyID     string `json:"keyId"`
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
}

// KeyID returns the id of a public key: the first 8 bytes of its SHA-256,
// in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

func signedBytes(keyID string, payload []byte) []byte {
	b := make([]byte, 0, len(signingContext)+len(keyID)+1+len(payload))
	b = append(b, signingContext...)
	b = append(b, keyID...)
	b = append(b, '\n')
	return append(b, payload...)
}

// Sign marshals v as JSON and signs it with priv.
func Sign(priv ed25519.PrivateKey, v any) (*Envelope, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("protocol: sign: %w", err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	id := KeyID(pub)
	return &Envelope{KeyID: id, Payload: payload, Signature: ed25519.Sign(priv, signedBytes(id, payload))}, nil
}

// Verify checks the envelope's signature against the pinned keys and
// returns the payload. Keys are matched by their [KeyID].
func (e *Envelope) Verify(keys ...ed25519.PublicKey) ([]byte, error) {
	if e == nil || len(e.Signature) == 0 {
		return nil, ErrUnsigned
	}
	for _, k := range keys {
		if KeyID(k) != e.KeyID {
			continue
		}
		if len(e.Signature) != ed25519.SignatureSize || !ed25519.Verify(k, signedBytes(e.KeyID, e.Payload), e.Signature) {
			return nil, ErrBadSignature
		}
		return e.Payload, nil
	}
	return nil, fmt.Errorf("%w: key id %q", ErrUnknownKey, e.KeyID)
}

// SignDirective signs d.
func SignDirective(priv ed25519.PrivateKey, d *Directive) (*Envelope, error) { return Sign(priv, d) }

// OpenDirective verifies env and returns its directive if it is signed by
// one of keys, addressed to deviceID, newer than lastSequence and not
// expired at now. The errors wrap ErrUnsigned, ErrUnknownKey,
// ErrBadSignature, ErrWrongDevice, ErrReplayed or ErrExpired.
func OpenDirective(env *Envelope, deviceID string, lastSequence uint64, now time.Time, keys ...ed25519.PublicKey) (*Directive, error) {
	payload, err := env.Verify(keys...)
	if err != nil {
		return nil, err
	}
	var d Directive
	if err := json.Unmarshal(payload, &d); err != nil {
		return nil, fmt.Errorf("protocol: directive: %w", err)
	}
	if d.Version != Version {
		return nil, fmt.Errorf("protocol: directive: version %d is not supported; want %d", d.Version, Version)
	}
	if d.DeviceID != deviceID {
		return nil, fmt.Errorf("%w: for %q, this is %q", ErrWrongDevice, d.DeviceID, deviceID)
	}
	if d.Sequence <= lastSequence {
		return nil, fmt.Errorf("%w: got %d, last accepted %d", ErrReplayed, d.Sequence, lastSequence)
	}
	if !now.Before(d.ExpiresAt) {
		return nil, fmt.Errorf("%w: expired at %s, now %s", ErrExpired, d.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return &d, nil
}

// GenerateKey creates a new Ed25519 signing key.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("protocol: generate key: %w", err)
	}
	return priv, nil
}

// MarshalPrivateKey encodes priv as a PKCS #8 PEM block.
func MarshalPrivateKey(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("protocol: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKey encodes pub as a PKIX PEM block, the file agents pin.
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("protocol: marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePrivateKey decodes a PKCS #8 PEM Ed25519 private key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("protocol: private key: want a PEM block of type PRIVATE KEY")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("protocol: private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("protocol: private key: %T is not an Ed25519 key", k)
	}
	return priv, nil
}

// ParsePublicKey decodes a PKIX PEM Ed25519 public key.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("protocol: public key: want a PEM block of type PUBLIC KEY")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("protocol: public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("protocol: public key: %T is not an Ed25519 key", k)
	}
	return pub, nil
}
