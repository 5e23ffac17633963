package protocol

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testDevice = "pos-berlin-01-0042"

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return k
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func TestSignAndOpenDirective(t *testing.T) {
	priv := newKey(t)
	d := goldenDirective()
	env, err := SignDirective(priv, d)
	if err != nil {
		t.Fatalf("SignDirective: %v", err)
	}
	if diff := cmp.Diff(KeyID(pubOf(priv)), env.KeyID); diff != "" {
		t.Errorf("key id (-want +got):\n%s", diff)
	}
	// Through JSON, as on the wire, with a rotated-out key pinned too.
	wire, err := json.Marshal(env)
	if err != nil {
		t.Fatalf("marshal envelope: %v", err)
	}
	var got Envelope
	if err := json.Unmarshal(wire, &got); err != nil {
		t.Fatalf("unmarshal envelope: %v", err)
	}
	opened, err := OpenDirective(&got, testDevice, d.Sequence-1, d.IssuedAt, pubOf(newKey(t)), pubOf(priv))
	if err != nil {
		t.Fatalf("OpenDirective: %v", err)
	}
	if diff := cmp.Diff(d, opened); diff != "" {
		t.Errorf("directive (-want +got):\n%s", diff)
	}
}

func TestVerifyRefuses(t *testing.T) {
	priv, other := newKey(t), newKey(t)
	pub := pubOf(priv)
	good, err := Sign(priv, map[string]string{"hello": "world"})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	// forged is signed by another key but claims the trusted key's id.
	forged, err := Sign(other, map[string]string{"hello": "world"})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	forged.KeyID = good.KeyID
	tampered := func(f func(e *Envelope)) *Envelope {
		e := &Envelope{KeyID: good.KeyID, Payload: append([]byte(nil), good.Payload...), Signature: append([]byte(nil), good.Signature...)}
		f(e)
		return e
	}
	tests := []struct {
		name string
		env  *Envelope
		keys []ed25519.PublicKey
		want error
	}{
		{name: "nil envelope", env: nil, keys: []ed25519.PublicKey{pub}, want: ErrUnsigned},
		{name: "no signature", env: tampered(func(e *Envelope) { e.Signature = nil }), keys: []ed25519.PublicKey{pub}, want: ErrUnsigned},
		{name: "unknown key", env: good, keys: []ed25519.PublicKey{pubOf(other)}, want: ErrUnknownKey},
		{name: "no keys pinned", env: good, keys: nil, want: ErrUnknownKey},
		{name: "key id changed", env: tampered(func(e *Envelope) { e.KeyID = "0000000000000000" }), keys: []ed25519.PublicKey{pub}, want: ErrUnknownKey},
		{name: "forged signature under the trusted key id", env: forged, keys: []ed25519.PublicKey{pub}, want: ErrBadSignature},
		{name: "signature bit flipped", env: tampered(func(e *Envelope) { e.Signature[10] ^= 0x01 }), keys: []ed25519.PublicKey{pub}, want: ErrBadSignature},
		{name: "signature truncated", env: tampered(func(e *Envelope) { e.Signature = e.Signature[:63] }), keys: []ed25519.PublicKey{pub}, want: ErrBadSignature},
		{name: "signature extended", env: tampered(func(e *Envelope) { e.Signature = append(e.Signature, 0) }), keys: []ed25519.PublicKey{pub}, want: ErrBadSignature},
		{name: "payload extended", env: tampered(func(e *Envelope) { e.Payload = append(e.Payload, ' ') }), keys: []ed25519.PublicKey{pub}, want: ErrBadSignature},
		{name: "payload emptied", env: tampered(func(e *Envelope) { e.Payload = nil }), keys: []ed25519.PublicKey{pub}, want: ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload, err := tt.env.Verify(tt.keys...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %q, %v; want %v", payload, err, tt.want)
			}
			if payload != nil {
				t.Errorf("Verify returned payload %q with an error", payload)
			}
		})
	}
	if _, err := good.Verify(pub); err != nil {
		t.Errorf("the untampered envelope does not verify: %v", err)
	}
	_, err = good.Verify(pubOf(other))
	want := fmt.Sprintf("protocol: signed with an unknown key: key id %q", good.KeyID)
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("unknown key message (-want +got):\n%s", diff)
	}
}

// Every single changed byte of a signed directive is caught.
func TestVerifyEveryPayloadByte(t *testing.T) {
	priv := newKey(t)
	pub := pubOf(priv)
	env, err := SignDirective(priv, goldenDirective())
	if err != nil {
		t.Fatalf("SignDirective: %v", err)
	}
	if len(env.Payload) < 1000 {
		t.Fatalf("payload is only %d bytes; the test wants a realistic directive", len(env.Payload))
	}
	for i := range env.Payload {
		for _, mask := range []byte{0x01, 0x80} {
			env.Payload[i] ^= mask
			_, err := env.Verify(pub)
			env.Payload[i] ^= mask
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("byte %d ^ %#x: Verify error = %v, want ErrBadSignature", i, mask, err)
			}
		}
	}
	if _, err := env.Verify(pub); err != nil {
		t.Fatalf("restored envelope does not verify: %v", err)
	}
}

func TestOpenDirectiveRefuses(t *testing.T) {
	priv := newKey(t)
	pub := pubOf(priv)
	sign := func(f func(d *Directive)) *Envelope {
		d := goldenDirective()
		f(d)
		env, err := SignDirective(priv, d)
		if err != nil {
			t.Fatalf("SignDirective: %v", err)
		}
		return env
	}
	notJSON, err := Sign(priv, "not a directive")
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	same := func(d *Directive) {}
	expires := goldenDirective().ExpiresAt
	tests := []struct {
		name    string
		env     *Envelope
		device  string
		last    uint64
		now     time.Time
		want    error // sentinel, or nil when only the message is checked
		wantMsg string
		// prefix: wantMsg is a prefix, followed by the JSON decoder's reason.
		prefix bool
	}{
		{name: "equal sequence", env: sign(same), device: testDevice, last: 12, now: t0, want: ErrReplayed,
			wantMsg: "protocol: sequence is not newer than the last accepted: got 12, last accepted 12"},
		{name: "older sequence", env: sign(same), device: testDevice, last: 40, now: t0, want: ErrReplayed,
			wantMsg: "protocol: sequence is not newer than the last accepted: got 12, last accepted 40"},
		{name: "expired exactly now", env: sign(same), device: testDevice, last: 11, now: expires, want: ErrExpired,
			wantMsg: "protocol: message has expired: expired at 2026-05-03T09:30:00Z, now 2026-05-03T09:30:00Z"},
		{name: "expired long ago", env: sign(same), device: testDevice, last: 0, now: expires.Add(48 * time.Hour), want: ErrExpired,
			wantMsg: "protocol: message has expired: expired at 2026-05-03T09:30:00Z, now 2026-05-05T09:30:00Z"},
		{name: "another device", env: sign(same), device: "pos-paris-01-0001", last: 0, now: t0, want: ErrWrongDevice,
			wantMsg: `protocol: directive is for another device: for "pos-berlin-01-0042", this is "pos-paris-01-0001"`},
		{name: "unsigned", env: &Envelope{KeyID: KeyID(pub), Payload: []byte("{}")}, device: testDevice, now: t0, want: ErrUnsigned,
			wantMsg: "protocol: message is not signed"},
		{name: "newer version", env: sign(func(d *Directive) { d.Version = Version + 1 }), device: testDevice, now: t0,
			wantMsg: "protocol: directive: version 2 is not supported; want 1"},
		{name: "missing version", env: sign(func(d *Directive) { d.Version = 0 }), device: testDevice, now: t0,
			wantMsg: "protocol: directive: version 0 is not supported; want 1"},
		{name: "payload is not a directive", env: notJSON, device: testDevice, now: t0,
			wantMsg: "protocol: directive: ", prefix: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := OpenDirective(tt.env, tt.device, tt.last, tt.now, pub)
			if err == nil {
				t.Fatalf("OpenDirective = %+v, want an error", d)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v does not wrap %v", err, tt.want)
			}
			for _, s := range []error{ErrUnsigned, ErrUnknownKey, ErrBadSignature, ErrReplayed, ErrExpired, ErrWrongDevice} {
				if s != tt.want && errors.Is(err, s) {
					t.Errorf("error %v also wraps %v", err, s)
				}
			}
			if tt.prefix {
				if got := err.Error(); !strings.HasPrefix(got, tt.wantMsg) || len(got) == len(tt.wantMsg) {
					t.Errorf("message %q does not start with %q followed by a reason", got, tt.wantMsg)
				}
				return
			}
			if diff := cmp.Diff(tt.wantMsg, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeyPEMRoundTrip(t *testing.T) {
	priv := newKey(t)
	privPEM, err := MarshalPrivateKey(priv)
	if err != nil {
		t.Fatalf("MarshalPrivateKey: %v", err)
	}
	pubPEM, err := MarshalPublicKey(pubOf(priv))
	if err != nil {
		t.Fatalf("MarshalPublicKey: %v", err)
	}
	if !strings.HasPrefix(string(privPEM), "-----BEGIN PRIVATE KEY-----\n") || !strings.HasPrefix(string(pubPEM), "-----BEGIN PUBLIC KEY-----\n") {
		t.Errorf("PEM headers: %q, %q", privPEM[:28], pubPEM[:27])
	}
	gotPriv, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatalf("ParsePrivateKey: %v", err)
	}
	gotPub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatalf("ParsePublicKey: %v", err)
	}
	if diff := cmp.Diff(priv, gotPriv); diff != "" {
		t.Errorf("private key (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(pubOf(priv), gotPub); diff != "" {
		t.Errorf("public key (-want +got):\n%s", diff)
	}
	// The parsed pair still signs and verifies together.
	env, err := Sign(gotPriv, "x")
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if _, err := env.Verify(gotPub); err != nil {
		t.Errorf("Verify with parsed key: %v", err)
	}
	other := newKey(t)
	if diff := cmp.Diff(false, KeyID(pubOf(other)) == KeyID(pubOf(priv))); diff != "" {
		t.Errorf("two generated keys share an id (-want +got):\n%s", diff)
	}
}

func TestParseKeyErrors(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("ecdsa key: %v", err)
	}
	ecPrivDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatalf("marshal ecdsa: %v", err)
	}
	ecPubDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatalf("marshal ecdsa public: %v", err)
	}
	block := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	priv := newKey(t)
	privPEM, _ := MarshalPrivateKey(priv)
	pubPEM, _ := MarshalPublicKey(pubOf(priv))

	const wantPrivBlock = "protocol: private key: want a PEM block of type PRIVATE KEY"
	const wantPubBlock = "protocol: public key: want a PEM block of type PUBLIC KEY"
	tests := []struct {
		name       string
		data       []byte
		public     bool
		want       string // the whole message, or a prefix when wantPrefix
		wantPrefix bool
	}{
		{name: "private: empty", data: nil, want: wantPrivBlock},
		{name: "private: not PEM", data: []byte("ed25519 key please"), want: wantPrivBlock},
		{name: "private: given a public key", data: pubPEM, want: wantPrivBlock},
		{name: "private: EC PRIVATE KEY block", data: block("EC PRIVATE KEY", ecPrivDER), want: wantPrivBlock},
		{name: "private: ECDSA key", data: block("PRIVATE KEY", ecPrivDER), want: "protocol: private key: *ecdsa.PrivateKey is not an Ed25519 key"},
		{name: "private: corrupt DER", data: block("PRIVATE KEY", []byte{0x30, 0x03, 0x01}), want: "protocol: private key: ", wantPrefix: true},
		{name: "public: empty", data: nil, public: true, want: wantPubBlock},
		{name: "public: given a private key", data: privPEM, public: true, want: wantPubBlock},
		{name: "public: ECDSA key", data: block("PUBLIC KEY", ecPubDER), public: true, want: "protocol: public key: *ecdsa.PublicKey is not an Ed25519 key"},
		{name: "public: corrupt DER", data: block("PUBLIC KEY", []byte("garbage")), public: true, want: "protocol: public key: ", wantPrefix: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.public {
				var k ed25519.PublicKey
				k, err = ParsePublicKey(tt.data)
				if k != nil {
					t.Errorf("ParsePublicKey returned a key with error %v", err)
				}
			} else {
				var k ed25519.PrivateKey
				k, err = ParsePrivateKey(tt.data)
				if k != nil {
					t.Errorf("ParsePrivateKey returned a key with error %v", err)
				}
			}
			if err == nil {
				t.Fatal("no error")
			}
			got := err.Error()
			if tt.wantPrefix {
				if !strings.HasPrefix(got, tt.want) || len(got) == len(tt.want) {
					t.Errorf("message %q does not start with %q followed by the parser's reason", got, tt.want)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}
