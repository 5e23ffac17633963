package main

import (
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestServiceEndsWhenTheAgentFails: under a service manager, an agent
// that stops on its own (here: its prompt port is taken) ends the service
// run with the agent's error, so that the manager can restart it, instead of
// leaving a process that does nothing.
func TestServiceEndsWhenTheAgentFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	r, err := parseRunArgs([]string{"--nats", "nats://127.0.0.1:1", "--device-id", "pos-001", "--data", filepath.Join(dir, "data"),
		"--controller-key", writeKey(t, dir), "--platform", "sim", "--prompt-addr", ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	p := &program{r: r, logw: io.Discard}
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { p.runWait()(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(15 * time.Second):
		_ = p.Stop(nil)
		t.Fatal("the service kept waiting for a signal after the agent stopped")
	}
	if err := p.Stop(nil); err == nil {
		t.Error("Stop after the agent failed returned nil; want the agent's error")
	}
}
