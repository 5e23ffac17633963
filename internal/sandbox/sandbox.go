package sandbox

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/sluice-mdm/sluice/controller"
	"github.com/sluice-mdm/sluice/internal/client"
)

// Defaults of [Config].
const (
	DefaultAddr              = "127.0.0.1:0"
	DefaultSenseInterval     = 200 * time.Millisecond
	DefaultReportInterval    = 2 * time.Second
	DefaultMaxReconnectDelay = time.Second
	// StartTimeout bounds how long Start and RestartController wait for
	// the controller to answer /readyz.
	StartTimeout = 30 * time.Second
)

// Config configures [Start]. Zero fields take the defaults their comments
// give.
type Config struct {
	// Dir is the root of the controller's data and of every device's sim
	// and data directories (t.TempDir() or os.MkdirTemp). Required; it
	// must not hold a controller's data already.
	Dir string
	// Clock is shared by the controller and every agent; nil is real time.
	Clock *Clock
	// HTTPAddr and NATSListen are where the controller's HTTP API and its
	// embedded NATS server listen; empty is DefaultAddr (a random loopback
	// port). `sluice demo --keep` uses 127.0.0.1:8080 and 127.0.0.1:4222.
	HTTPAddr, NATSListen string
	// Logger receives the controller's and the agents' logs; nil discards
	// them.
	Logger *slog.Logger
	// SenseInterval and ReportInterval configure every agent; 0 is
	// DefaultSenseInterval and DefaultReportInterval, small so that
	// stories move fast.
	SenseInterval, ReportInterval time.Duration
	// MaxReconnectDelay caps the agents' reconnect backoff; 0 is
	// DefaultMaxReconnectDelay, so that a restarted controller is found
	// within about a second.
	MaxReconnectDelay time.Duration
	// ResyncInterval is the controller's full re-evaluation period; 0 is
	// the controller's default. Clock jumps trigger a resync anyway.
	ResyncInterval time.Duration
}

// ErrConfig is wrapped by every *ConfigError.
var ErrConfig = errors.New("sandbox: invalid config")

// ConfigError names a field of [Config] or [DeviceSpec] at fault, its
// value and what is allowed.
type ConfigError struct {
	Field, Value, Want string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("sandbox: %s: %q is not allowed; want %s", e.Field, e.Value, e.Want)
}

func (e *ConfigError) Unwrap() error { return ErrConfig }

// System is a running controller and its simulated devices.
type System struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	apkDir  string
	unhook  func()
	keyFile string

	mu       sync.Mutex
	srv      *controller.Server
	stopSrv  context.CancelFunc
	srvDone  chan error
	httpAddr string // host:port actually bound, reused on restart
	natsAddr string
	natsURL  string
	pub      ed25519.PublicKey
	token    string
	client   *client.Client
	devices  []*Device
	ids      map[string]bool // device ids started or starting
	closed   bool
	apkMu    sync.Mutex // serializes writing test APKs into apkDir
}

// Start starts a controller with its embedded NATS server in cfg.Dir,
// waits until it answers /readyz, and keeps the bootstrap superadmin
// token it prints on first start.
func Start(ctx context.Context, cfg Config) (*System, error) {
	if cfg.Dir == "" {
		return nil, &ConfigError{Field: "Dir", Want: "a directory for the controller's and devices' data, such as t.TempDir()"}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"SenseInterval", cfg.SenseInterval}, {"ReportInterval", cfg.ReportInterval}, {"MaxReconnectDelay", cfg.MaxReconnectDelay}, {"ResyncInterval", cfg.ResyncInterval}} {
		if d.v < 0 {
			return nil, &ConfigError{Field: d.name, Value: d.v.String(), Want: "zero (the default) or a positive duration"}
		}
	}
	cfg.HTTPAddr = cmpOr(cfg.HTTPAddr, DefaultAddr)
	cfg.NATSListen = cmpOr(cfg.NATSListen, DefaultAddr)
	cfg.SenseInterval = cmpOr(cfg.SenseInterval, DefaultSenseInterval)
	cfg.ReportInterval = cmpOr(cfg.ReportInterval, DefaultReportInterval)
	cfg.MaxReconnectDelay = cmpOr(cfg.MaxReconnectDelay, DefaultMaxReconnectDelay)
	for _, a := range []struct{ name, addr string }{{"HTTPAddr", cfg.HTTPAddr}, {"NATSListen", cfg.NATSListen}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return nil, &ConfigError{Field: a.name, Value: a.addr, Want: "host:port, such as 127.0.0.1:0 for a random port"}
		}
	}
	ctlDir := filepath.Join(cfg.Dir, "controller")
	if _, err := os.Stat(filepath.Join(ctlDir, controller.KeyFile)); err == nil {
		return nil, &ConfigError{Field: "Dir", Value: cfg.Dir, Want: "a directory without a controller's data (its bootstrap token is printed only on first start)"}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &System{cfg: cfg, log: log, now: time.Now, apkDir: filepath.Join(cfg.Dir, "apks"), ids: map[string]bool{}}
	if cfg.Clock != nil {
		s.now = cfg.Clock.Now
	}
	if err := os.MkdirAll(s.apkDir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: start: %w", err)
	}
	var banner lockedBuffer
	if err := s.startController(ctx, cfg.HTTPAddr, cfg.NATSListen, &banner); err != nil {
		return nil, err
	}
	token := tokenPattern.FindString(banner.String())
	if token == "" {
		_ = s.StopController(ctx)
		return nil, errors.New("sandbox: start: the controller printed no bootstrap superadmin token")
	}
	c, err := client.New(client.Config{Server: s.HTTPURL(), Token: token, HTTPClient: newHTTPClient(0)})
	if err != nil {
		_ = s.StopController(ctx)
		return nil, fmt.Errorf("sandbox: start: %w", err)
	}
	s.mu.Lock()
	s.token, s.client = token, c
	s.mu.Unlock()
	if cfg.Clock != nil {
		s.unhook = cfg.Clock.onJump(func(time.Time) { s.resync() })
	}
	return s, nil
}

// tokenPattern finds the bootstrap token in the controller's first-start
// banner.
var tokenPattern = regexp.MustCompile(`sluice_[A-Za-z0-9_-]{20,}`)

// startController runs a controller on the given addresses and waits for
// /readyz.
func (s *System) startController(ctx context.Context, httpAddr, natsListen string, banner *lockedBuffer) error {
	cfg := controller.Config{
		DataDir: filepath.Join(s.cfg.Dir, "controller"), NATSListen: natsListen, HTTPAddr: httpAddr,
		Logger: s.log.With("component", "controller"), Now: s.now, ResyncInterval: s.cfg.ResyncInterval,
	}
	if banner != nil {
		cfg.Stdout = banner
	}
	srv, err := controller.NewServer(cfg)
	if err != nil {
		return fmt.Errorf("sandbox: start controller: %w", err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	select {
	case <-srv.Started():
	case err := <-done:
		stop()
		return fmt.Errorf("sandbox: start controller: %w", err)
	case <-ctx.Done():
		stop()
		<-done
		return fmt.Errorf("sandbox: start controller: %w", ctx.Err())
	}
	u, err := url.Parse(srv.NATSURL())
	if err != nil {
		stop()
		<-done
		return fmt.Errorf("sandbox: start controller: nats url %q: %w", srv.NATSURL(), err)
	}
	s.mu.Lock()
	s.srv, s.stopSrv, s.srvDone = srv, stop, done
	s.httpAddr, s.natsAddr, s.natsURL, s.pub = srv.Addr(), u.Host, srv.NATSURL(), srv.PublicKey()
	s.keyFile = filepath.Join(cfg.DataDir, controller.PublicKeyFile)
	s.mu.Unlock()

	probe, err := client.New(client.Config{Server: "http://" + srv.Addr(), HTTPClient: newHTTPClient(0)})
	if err == nil {
		err = WaitFor(ctx, StartTimeout, "the controller to answer /readyz", func() (bool, error) {
			if err := probe.Ready(ctx); err != nil {
				return false, err
			}
			return true, nil
		})
	}
	if err != nil {
		_ = s.StopController(context.WithoutCancel(ctx))
		return fmt.Errorf("sandbox: start controller: %w", err)
	}
	s.log.Info("sandbox controller ready", "http", srv.Addr(), "nats", srv.NATSURL())
	return nil
}

// resync asks the running controller to re-evaluate every device.
func (s *System) resync() {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return
	}
	if rec := srv.Reconciler(); rec != nil {
		rec.Resync()
	}
}

// Controller is the running controller, or nil while it is stopped.
func (s *System) Controller() *controller.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

// Client is an admin API client with the superadmin token.
func (s *System) Client() *client.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client
}

// HTTPURL is the controller's base URL, such as http://127.0.0.1:41234.
func (s *System) HTTPURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + s.httpAddr
}

// NATSURL is the URL agents connect to.
func (s *System) NATSURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.natsURL
}

// PublicKeyFile is the controller's public key file, the one agents pin.
func (s *System) PublicKeyFile() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keyFile
}

// Token is the bootstrap superadmin token.
func (s *System) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// Now is the system's clock.
func (s *System) Now() time.Time { return s.now() }

// StopController stops the controller and its embedded NATS server and
// waits for them; agents keep running and reconnect after
// RestartController. Stopping a stopped controller does nothing.
func (s *System) StopController(ctx context.Context) error {
	s.mu.Lock()
	stop, done := s.stopSrv, s.srvDone
	s.srv, s.stopSrv, s.srvDone = nil, nil, nil
	s.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("sandbox: stop controller: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sandbox: stop controller: %w", ctx.Err())
	}
}

// RestartController stops the controller if it runs and starts it again
// on the same data directory and the same ports, so that agents and
// artifact URLs find it where they were.
func (s *System) RestartController(ctx context.Context) error {
	if err := s.StopController(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	httpAddr, natsAddr, closed := s.httpAddr, s.natsAddr, s.closed
	s.mu.Unlock()
	if closed {
		return errors.New("sandbox: restart controller: the system is closed")
	}
	// A port just released may take a moment to bind again.
	return WaitFor(ctx, StartTimeout, "the controller to start again on "+httpAddr, func() (bool, error) {
		err := s.startController(ctx, httpAddr, natsAddr, nil)
		return err == nil, err
	})
}

// Devices are the devices started so far, in the order they were started.
func (s *System) Devices() []*Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.devices)
}

// Close stops every agent (all at once), then the controller, and waits
// for each. A second Close does nothing.
func (s *System) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	devices := slices.Clone(s.devices)
	s.mu.Unlock()
	if s.unhook != nil {
		s.unhook()
	}
	errs := make([]error, len(devices))
	var wg sync.WaitGroup
	for i, d := range devices {
		wg.Go(func() { errs[i] = d.Stop() })
	}
	wg.Wait()
	errs = append(errs, s.StopController(ctx))
	return errors.Join(errs...)
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// newHTTPClient is an HTTP client without keep-alive, so that no idle
// connection (and its goroutines) outlives a request, optionally limiting
// response bodies to rate bytes per second.
func newHTTPClient(rate int64) *http.Client {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
		DisableKeepAlives:     true,
	}
	if rate <= 0 {
		return &http.Client{Transport: tr}
	}
	return &http.Client{Transport: &throttle{next: tr, rate: rate}}
}
