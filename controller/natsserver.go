package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// DefaultNATSListenAddr is where the embedded NATS server listens for
// devices unless told otherwise.
const DefaultNATSListenAddr = "127.0.0.1:4222"

// natsReadyTimeout bounds how long StartEmbeddedNATS waits for the server to
// accept clients.
const natsReadyTimeout = 30 * time.Second

// EmbeddedNATSConfig configures the NATS server the controller runs in its
// own process when no external NATS is given.
type EmbeddedNATSConfig struct {
	// DataDir is the controller's data directory; JetStream stores under
	// DataDir/nats. Required.
	DataDir string
	// ListenAddr is the host:port devices connect to; empty means
	// DefaultNATSListenAddr, port 0 a random free port (see ClientURL).
	ListenAddr string
	// MaxStore caps JetStream file storage in bytes; 0 leaves the server's
	// default (a share of the free disk).
	MaxStore int64
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
}

// EmbeddedNATS is a running in-process NATS server with JetStream.
type EmbeddedNATS struct {
	srv *server.Server
}

// StartEmbeddedNATS starts a NATS server with JetStream and waits until it
// accepts clients. Stop it with Shutdown.
func StartEmbeddedNATS(cfg EmbeddedNATSConfig) (*EmbeddedNATS, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("controller: embedded nats: data dir is required")
	}
	addr := cfg.ListenAddr
	if addr == "" {
		addr = DefaultNATSListenAddr
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("controller: embedded nats: listen address %q: want host:port: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("controller: embedded nats: listen address %q: port %q is not a number from 0 to 65535", addr, portText)
	}
	if port == 0 {
		// Port 0 means 4222 to nats-server; -1 asks it for a free port.
		port = server.RANDOM_PORT
	}
	storeDir := filepath.Join(cfg.DataDir, "nats")
	if err := os.MkdirAll(storeDir, 0o700); err != nil {
		return nil, fmt.Errorf("controller: embedded nats: %w", err)
	}
	opts := &server.Options{
		ServerName:        "sluice-controller",
		Host:              host,
		Port:              port,
		JetStream:         true,
		StoreDir:          storeDir,
		JetStreamMaxStore: cfg.MaxStore,
		NoSigs:            true,
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
		opts.NoLog = true
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("controller: embedded nats: %w", err)
	}
	debug := logger.Enabled(context.Background(), slog.LevelDebug)
	srv.SetLoggerV2(&natsLogger{log: logger.With("component", "nats")}, debug, false, false)
	srv.Start()
	if !srv.ReadyForConnections(natsReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("controller: embedded nats: not ready for connections on %s after %s", addr, natsReadyTimeout)
	}
	return &EmbeddedNATS{srv: srv}, nil
}

// ClientURL is the URL clients (the controller itself and devices) connect
// to, with the actual port when a random one was asked for.
func (e *EmbeddedNATS) ClientURL() string { return e.srv.ClientURL() }

// Server returns the underlying nats-server, for in-process connections
// (nats.InProcessServer) and monitoring.
func (e *EmbeddedNATS) Server() *server.Server { return e.srv }

// Shutdown stops the server, lets JetStream flush its files, and waits for
// it to finish or for ctx to end.
func (e *EmbeddedNATS) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("controller: embedded nats: shutdown: %w", ctx.Err())
	}
}

// natsLogger routes nats-server's printf-style logs to slog.
type natsLogger struct{ log *slog.Logger }

func (l *natsLogger) Noticef(format string, v ...any) { l.log.Info(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }

// Fatalf logs at error level; the server stops by itself after a fatal
// error, and only main may exit the process.
func (l *natsLogger) Fatalf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...), "fatal", true)
}

// NATSConnName is the client name the controller's connections carry.
const NATSConnName = "sluice-controller"

// ConnectNATS connects to urls (one or a comma-separated list) as the
// controller: it reconnects forever after the first connection succeeds,
// buffers up to 32 MiB of publishes while disconnected, and logs connection
// changes to logger (nil discards them). Extra options are applied last.
func ConnectNATS(urls string, logger *slog.Logger, extra ...nats.Option) (*nats.Conn, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "nats_client")
	opts := []nats.Option{
		nats.Name(NATSConnName),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.ReconnectBufSize(32 << 20),
		nats.Timeout(5 * time.Second),
		nats.PingInterval(20 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DrainTimeout(30 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(*nats.Conn) { logger.Info("nats connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Error("nats async error", "subject", subject, "err", err)
		}),
	}
	nc, err := nats.Connect(urls, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("controller: connect to nats %s: %w", redactURLs(urls), err)
	}
	return nc, nil
}

// redactURLs hides passwords in a comma-separated list of NATS URLs.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
