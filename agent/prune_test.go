package agent

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sluice-mdm/sluice/protocol"
)

func TestNewDirectivePrunesAPKsNoLongerTargeted(t *testing.T) {
	clk := newClock()
	priv, _ := protocol.GenerateKey()
	dev := device(t, t.TempDir())
	a, err := New(baseConfig(t, "nats://127.0.0.1:1", t.TempDir(), []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}, dev, clk))
	if err != nil {
		t.Fatal(err)
	}
	oldSHA, keepSHA := strings.Repeat("1", 64), strings.Repeat("2", 64)
	dir := func(shas ...string) *protocol.Directive {
		d := &protocol.Directive{}
		for _, s := range shas {
			d.Decisions = append(d.Decisions, protocol.Decision{App: posApp, Target: &protocol.Target{Artifact: &protocol.Artifact{SHA256: s, URLs: []string{"http://x/a.apk"}, Size: 1}}})
		}
		return d
	}
	for _, name := range []string{oldSHA + ".apk", keepSHA + ".apk", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(a.apkDir(), name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a.prune(dir(oldSHA, keepSHA), dir(keepSHA))
	des, _ := os.ReadDir(a.apkDir())
	var got []string
	for _, de := range des {
		got = append(got, de.Name())
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{keepSHA + ".apk", "notes.txt"}, got); diff != "" {
		t.Errorf("apk dir after prune (-want +got):\n%s", diff)
	}
}
