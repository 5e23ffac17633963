package controller

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
)

// syncBuffer is a bytes.Buffer safe for the server's logging goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestEmbeddedNATSServesJetStreamAndLogsToSlog(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	e, err := StartEmbeddedNATS(EmbeddedNATSConfig{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: logger})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	if strings.HasSuffix(e.ClientURL(), ":4222") || strings.HasSuffix(e.ClientURL(), ":0") {
		t.Errorf("ClientURL %q: want a random port", e.ClientURL())
	}

	nc, err := ConnectNATS(e.ClientURL(), logger)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	if diff := cmp.Diff(NATSConnName, nc.Opts.Name); diff != "" {
		t.Errorf("connection name (-want +got):\n%s", diff)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := js.AccountInfo(ctx)
	if err != nil {
		t.Fatalf("jetstream account info: %v", err)
	}
	if info.Limits.MaxStore == 0 {
		t.Errorf("jetstream storage limit is 0; want JetStream enabled with storage")
	}
	if !strings.Contains(logs.String(), `msg="Server is ready" component=nats`) {
		t.Errorf("server logs were not routed to slog; got:\n%s", logs.String())
	}

	nc.Close()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if e.Server().Running() {
		t.Errorf("server still running after Shutdown")
	}
}

func TestStartEmbeddedNATSRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  EmbeddedNATSConfig
		want string
	}{
		{"no data dir", EmbeddedNATSConfig{ListenAddr: "127.0.0.1:0"}, "controller: embedded nats: data dir is required"},
		{"no port", EmbeddedNATSConfig{DataDir: dir, ListenAddr: "127.0.0.1"}, `controller: embedded nats: listen address "127.0.0.1": want host:port: address 127.0.0.1: missing port in address`},
		{"port not a number", EmbeddedNATSConfig{DataDir: dir, ListenAddr: "127.0.0.1:http"}, `controller: embedded nats: listen address "127.0.0.1:http": port "http" is not a number from 0 to 65535`},
		{"port too large", EmbeddedNATSConfig{DataDir: dir, ListenAddr: "127.0.0.1:70000"}, `controller: embedded nats: listen address "127.0.0.1:70000": port "70000" is not a number from 0 to 65535`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := StartEmbeddedNATS(tt.cfg)
			if err == nil {
				_ = e.Shutdown(context.Background())
				t.Fatalf("started; want error %q", tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConnectNATSRedactsPasswordInError(t *testing.T) {
	_, err := ConnectNATS("nats://admin:s3cret@127.0.0.1:1", nil)
	if err == nil {
		t.Fatal("connected to port 1; want an error")
	}
	if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "nats://admin:xxxxx@127.0.0.1:1") {
		t.Errorf("error %q: want the URL with its password redacted", err)
	}
}
