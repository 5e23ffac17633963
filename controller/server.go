package controller

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Server defaults.
const (
	DefaultDataDir  = "./sluice-data"
	DefaultHTTPAddr = "127.0.0.1:8080"
)

// shutdownTimeout bounds each step of a clean shutdown: HTTP requests in
// flight, the NATS drain, the embedded server's stop.
const shutdownTimeout = 20 * time.Second

// Config configures a [Server]. The zero value runs a single controller
// with an embedded NATS server under ./sluice-data.
type Config struct {
	// DataDir holds the signing key and, with the embedded NATS server,
	// the JetStream data; empty is DefaultDataDir.
	DataDir string
	// NATSURL is an external NATS (cluster) to use, one URL or a
	// comma-separated list; empty runs an embedded NATS server.
	NATSURL string
	// NATSListen is where the embedded NATS server listens for devices;
	// empty is DefaultNATSListenAddr, port 0 a free port (see NATSURL).
	NATSListen string
	// HTTPAddr is where the HTTP API listens; empty is DefaultHTTPAddr,
	// port 0 a free port (see Addr).
	HTTPAddr string
	// PublicURL is the base URL devices reach /artifacts at; empty is
	// http:// and the address actually bound.
	PublicURL string
	// Replicas is the JetStream replica count of every bucket and stream:
	// 0 or 1 on one NATS server, 3 or 5 on a cluster.
	Replicas int
	// DirectiveTTL and ResyncInterval configure the reconciler (see
	// ReconcilerConfig); 0 takes the defaults.
	DirectiveTTL, ResyncInterval time.Duration
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Now is the controller's clock; nil is time.Now.
	Now func() time.Time
	// Stdout receives the first-start banner with the superadmin token;
	// nil discards it (and with it the only copy of the token).
	Stdout io.Writer
}

// Server runs a whole controller: NATS (embedded or external), the store,
// the reconciler with its device wiring, and the HTTP API.
type Server struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	addr    string
	natsURL string
	pub     ed25519.PublicKey
	rec     *Reconciler
	started chan struct{}
}

// NewServer checks cfg and fills in its defaults; Run starts the server.
func NewServer(cfg Config) (*Server, error) {
	cfg.DataDir = cmpOr(cfg.DataDir, DefaultDataDir)
	cfg.NATSListen = cmpOr(cfg.NATSListen, DefaultNATSListenAddr)
	cfg.HTTPAddr = cmpOr(cfg.HTTPAddr, DefaultHTTPAddr)
	if cfg.Replicas < 0 || cfg.Replicas > 5 {
		return nil, fmt.Errorf("controller: server: replicas %d is not allowed; want 1 to 5 (0 means 1)", cfg.Replicas)
	}
	if cfg.DirectiveTTL < 0 {
		return nil, fmt.Errorf("controller: server: directive TTL %s is negative; want a positive duration (0 means %s)", cfg.DirectiveTTL, DefaultDirectiveTTL)
	}
	if cfg.ResyncInterval < 0 {
		return nil, fmt.Errorf("controller: server: resync interval %s is negative; want a positive duration (0 means %s)", cfg.ResyncInterval, DefaultResyncInterval)
	}
	for _, a := range []struct{ name, addr string }{{"HTTP address", cfg.HTTPAddr}, {"NATS listen address", cfg.NATSListen}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return nil, fmt.Errorf("controller: server: %s %q is not host:port: %w", a.name, a.addr, err)
		}
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("controller: server: public URL %q is not allowed; want an absolute http:// or https:// URL such as https://sluice.example.com", cfg.PublicURL)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, log: log, started: make(chan struct{})}, nil
}

// Addr is the HTTP address actually bound, once started.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// NATSURL is the URL devices connect to: the embedded server's client URL
// (with the port actually bound), or the external URL.
func (s *Server) NATSURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.natsURL
}

// PublicKey is the key directives are signed with, once started.
func (s *Server) PublicKey() ed25519.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pub
}

// Reconciler is the running reconciler, once started.
func (s *Server) Reconciler() *Reconciler {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec
}

// Started is closed once the server answers devices and HTTP requests.
func (s *Server) Started() <-chan struct{} { return s.started }

// Run starts NATS, opens the store, creates the signing key and the first
// token on first start, and serves until ctx ends; then it shuts down in
// order: HTTP stops taking requests and finishes those in flight, the
// reconciler stops taking device messages and finishes its queue, the NATS
// connection drains, and the embedded NATS server stops.
func (s *Server) Run(ctx context.Context) (err error) {
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()

	signer, created, err := LoadOrCreateSigner(s.cfg.DataDir)
	if err != nil {
		return err
	}
	if created {
		s.log.Info("created signing key", "path", filepath.Join(s.cfg.DataDir, KeyFile))
	}

	natsURL := s.cfg.NATSURL
	var extra []nats.Option
	if natsURL == "" {
		emb, err := StartEmbeddedNATS(EmbeddedNATSConfig{DataDir: s.cfg.DataDir, ListenAddr: s.cfg.NATSListen, Logger: s.log})
		if err != nil {
			return err
		}
		cleanups = append(cleanups, func() {
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := emb.Shutdown(sctx); err != nil {
				s.log.Error("embedded nats shutdown", "err", err)
			}
		})
		natsURL = emb.ClientURL()
		extra = append(extra, nats.InProcessServer(emb.Server()))
		s.log.Info("embedded nats listening", "url", natsURL)
	}
	nc, err := ConnectNATS(natsURL, s.log, extra...)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { drainConn(nc, s.log) })

	store, err := OpenStore(ctx, nc, StoreConfig{Replicas: s.cfg.Replicas, Logger: s.log, Now: s.cfg.Now})
	if err != nil {
		return err
	}
	secret, err := BootstrapToken(ctx, store, s.cfg.Now())
	if err != nil {
		return err
	}

	metrics := NewMetrics()
	rec, err := NewReconciler(ReconcilerConfig{
		Store: store, Conn: nc, Signer: signer, Metrics: metrics, Logger: s.log, Now: s.cfg.Now,
		DirectiveTTL: s.cfg.DirectiveTTL, ResyncInterval: s.cfg.ResyncInterval,
	})
	if err != nil {
		return err
	}
	recCtx, stopRec := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRec()
	recDone := make(chan error, 1)
	go func() { recDone <- rec.Run(recCtx) }()
	select {
	case <-rec.Synced():
	case err := <-recDone:
		return err
	case <-ctx.Done():
		stopRec()
		return <-recDone
	}

	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		stopRec()
		<-recDone
		return fmt.Errorf("controller: listen for http on %s: %w", s.cfg.HTTPAddr, err)
	}
	addr := ln.Addr().String()
	publicURL := cmpOr(s.cfg.PublicURL, "http://"+addr)
	handler, err := s.handler(store, rec, metrics, publicURL)
	if err != nil {
		ln.Close()
		stopRec()
		<-recDone
		return err
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	httpDone := make(chan error, 1)
	go func() { httpDone <- hs.Serve(ln) }()

	s.mu.Lock()
	s.addr, s.natsURL, s.pub, s.rec = addr, natsURL, signer.PublicKey(), rec
	s.mu.Unlock()
	s.log.Info("controller started", "http", addr, "nats", natsURL, "public_url", publicURL, "public_key", signer.PublicKeyPath())
	if err := s.banner(secret, signer, addr); err != nil {
		s.log.Warn("print first-start banner", "err", err)
	}
	close(s.started)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-recDone:
		recDone <- runErr
		if runErr == nil {
			runErr = errors.New("controller: reconciler stopped")
		}
	case runErr = <-httpDone:
		httpDone <- runErr
	}
	s.log.Info("controller shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		s.log.Error("http shutdown", "err", err)
	}
	if err := <-httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) && runErr == nil {
		runErr = fmt.Errorf("controller: http: %w", err)
	}
	stopRec()
	if err := <-recDone; err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// drainConn lets pending publishes and handlers finish, then closes nc.
func drainConn(nc *nats.Conn, log *slog.Logger) {
	if err := nc.Drain(); err != nil {
		nc.Close()
		return
	}
	deadline := time.Now().Add(shutdownTimeout)
	for !nc.IsClosed() {
		if time.Now().After(deadline) {
			log.Warn("nats drain timed out; closing")
			nc.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// banner prints, on first start only, where the public key is and the
// superadmin token, which is shown nowhere else.
func (s *Server) banner(secret string, signer *Signer, addr string) error {
	if secret == "" {
		return nil
	}
	pubPath, err := filepath.Abs(signer.PublicKeyPath())
	if err != nil {
		pubPath = signer.PublicKeyPath()
	}
	_, err = fmt.Fprintf(s.cfg.Stdout, `Sluice controller initialised in %s

Agents must pin the controller's public key (copy it to every device):
  %s

Superadmin API token (shown this once; only its hash is stored):
  %s

Use it from the sluice command line (or as a bearer token over HTTP):
  export SLUICE_SERVER=http://%s SLUICE_TOKEN=%s
  sluice get devices
Create tokens for people and scripts with 'sluice token create --name NAME --role ROLE'.

`, s.cfg.DataDir, pubPath, secret, addr, secret)
	return err
}
