package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// readyTimeout bounds how long a test waits for a server to accept clients.
const readyTimeout = 10 * time.Second

// Start runs an embedded NATS server with JetStream on a random loopback
// port, storing under a fresh t.TempDir(). It returns the server and its
// client URL; the server is shut down, and waited for, in t.Cleanup.
func Start(t testing.TB) (*server.Server, string) {
	t.Helper()
	return StartAt(t, t.TempDir())
}

// StartAt is [Start] with JetStream storing under storeDir, so that a test
// can shut a server down and start another one on the same data to check
// that nothing was lost.
func StartAt(t testing.TB, storeDir string) (*server.Server, string) {
	t.Helper()
	opts := &server.Options{
		ServerName: "natstest",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   storeDir,
		NoLog:      true,
		NoSigs:     true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: new server: %v", err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(readyTimeout) {
		t.Fatalf("natstest: server not ready for connections after %s", readyTimeout)
	}
	return s, s.ClientURL()
}

// Connect opens a client connection to url, closed in t.Cleanup. It
// reconnects for a short while, long enough for a test that restarts a
// server on the same port, and fails the test if the first connection
// cannot be made.
func Connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url,
		nats.Name("natstest"),
		nats.MaxReconnects(20),
		nats.ReconnectWait(50*time.Millisecond),
		nats.Timeout(readyTimeout),
	)
	if err != nil {
		t.Fatalf("natstest: connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}
