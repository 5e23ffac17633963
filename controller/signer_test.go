package controller

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/protocol"
)

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestLoadOrCreateSignerCreatesOnceThenLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, created, err := LoadOrCreateSigner(dir)
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]os.FileMode{
		"dir": fileMode(t, dir), KeyFile: fileMode(t, filepath.Join(dir, KeyFile)), PublicKeyFile: fileMode(t, filepath.Join(dir, PublicKeyFile)),
	}
	if diff := cmp.Diff(map[string]os.FileMode{"dir": 0o700, KeyFile: 0o600, PublicKeyFile: 0o600}, modes); diff != "" {
		t.Errorf("modes (-want +got):\n%s", diff)
	}
	pem, err := os.ReadFile(filepath.Join(dir, PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := protocol.ParsePublicKey(pem)
	if err != nil {
		t.Fatal(err)
	}

	// The public key file is rewritten from the private key if lost.
	if err := os.Remove(filepath.Join(dir, PublicKeyFile)); err != nil {
		t.Fatal(err)
	}
	second, createdAgain, err := LoadOrCreateSigner(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{true, false, first.KeyID(), first.KeyID()}, []any{created, createdAgain, second.KeyID(), protocol.KeyID(pinned)}); diff != "" {
		t.Errorf("(created, created again, key id, pinned key id) (-want +got):\n%s", diff)
	}

	env, err := second.SignDirective(&protocol.Directive{Version: protocol.Version, DeviceID: "till-1", Sequence: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Verify(pinned); err != nil {
		t.Errorf("directive signed after a restart does not verify with the pinned key: %v", err)
	}
}

func TestLoadOrCreateSignerRefusesBadKeyFiles(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, keyPath string)
		want  string
		is    error
	}{
		{
			name:  "readable by group",
			setup: func(t *testing.T, p string) { chmod(t, p, 0o640) },
			want:  "has mode 0640; it must be readable by its owner only (run: chmod 600 ",
			is:    ErrKeyPermissions,
		},
		{
			name:  "readable by everyone",
			setup: func(t *testing.T, p string) { chmod(t, p, 0o644) },
			want:  "has mode 0644",
			is:    ErrKeyPermissions,
		},
		{
			name: "not a key",
			setup: func(t *testing.T, p string) {
				if err := os.WriteFile(p, []byte("hello"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "want a PEM block of type PRIVATE KEY",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, _, err := LoadOrCreateSigner(dir); err != nil {
				t.Fatal(err)
			}
			keyPath := filepath.Join(dir, KeyFile)
			before, _ := os.ReadFile(keyPath)
			tt.setup(t, keyPath)
			after, _ := os.ReadFile(keyPath)
			_, _, err := LoadOrCreateSigner(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			now, _ := os.ReadFile(keyPath)
			if string(now) != string(after) {
				t.Errorf("the refused key file was changed")
			}
			_ = before
		})
	}
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func TestBootstrapTokenOnlyOnce(t *testing.T) {
	store, clock, url := newTestStore(t)
	ctx := testCtx(t)
	secret, err := BootstrapToken(ctx, store, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) != len(tokenPrefix)+43 {
		t.Fatalf("secret %q: want %s and 43 base64 characters", secret, tokenPrefix)
	}
	// A second replica on the same store, and a restart, create nothing.
	other := openTestStore(t, natsConnect(t, url), clock)
	again, err := BootstrapToken(ctx, other, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := store.Tokens().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type tok struct{ Name, Key, Role, Hash string }
	var got []tok
	for _, r := range tokens {
		got = append(got, tok{r.Value.Name, r.Name, r.Value.Role, r.Value.Hash})
	}
	want := []tok{{BootstrapTokenName, TokenHash(secret), "superadmin", TokenHash(secret)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tokens (-want +got):\n%s", diff)
	}
	if again != "" {
		t.Errorf("second bootstrap returned a secret %q, want none", again)
	}
}
