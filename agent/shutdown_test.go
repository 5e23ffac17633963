package agent

import (
	"context"
	"crypto/ed25519"
	"net"
	"testing"
	"time"

	"github.com/sluice-mdm/sluice/internal/natstest"
)

// TestRunReturnsWhenPromptAPICannotListen: a taken prompt port ends Run
// with an error instead of leaving it blocked on its own goroutines.
func TestRunReturnsWhenPromptAPICannotListen(t *testing.T) {
	_, url := natstest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	clk := newClock()
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	cfg := baseConfig(t, url, t.TempDir(), []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}, device(t, t.TempDir()), clk)
	cfg.PromptAddr = ln.Addr().String()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Run returned nil with the prompt port taken; want an error")
		}
	case <-time.After(10 * time.Second):
		cancel() // let the goroutines go so the test binary can end
		t.Fatal("Run did not return within 10 s of the prompt API failing to listen")
	}
}
