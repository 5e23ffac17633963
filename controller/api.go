package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Default limits of the HTTP API.
const (
	DefaultMaxBody   int64 = 4 << 20   // JSON and manifest bodies
	DefaultMaxUpload int64 = 512 << 20 // APK uploads and downloads at admission
)

// APIConfig configures [NewAPI]. Store and Decider are required; every
// other zero field has the default its comment gives.
type APIConfig struct {
	Store   *Store
	Decider Decider
	// Artifacts serves GET /artifacts/SHA256; nil answers 404 there.
	Artifacts http.Handler
	// Metrics receives HTTP latency by route and code and is served at
	// /metrics; nil creates a private one.
	Metrics *Metrics
	// PublicURL is the base URL devices reach the controller at
	// ("https://sluice.example.com"); uploaded releases get
	// PublicURL/artifacts/SHA256 as their URL. Empty refuses uploads.
	PublicURL string
	// HTTPClient downloads APKs at release admission; nil is a client with
	// a 10 s connect and header timeout and a 10 minute overall limit.
	HTTPClient *http.Client
	// MaxBody caps JSON and manifest request bodies (DefaultMaxBody if 0).
	MaxBody int64
	// MaxUpload caps APK uploads and admission downloads (DefaultMaxUpload
	// if 0).
	MaxUpload int64
	// RateLimit limits the app-facing routes per client address.
	RateLimit RateLimit
	// TempDir holds APKs while they are checked; empty is os.TempDir().
	TempDir string
	// ShareLinkHosts are the hosts whose "dl=0" share links answer with an
	// HTML preview page and are rewritten to "dl=1" at admission; nil is
	// DropboxHosts. Links to other hosts are used exactly as given.
	ShareLinkHosts []string
	// Logger receives request failures; nil discards.
	Logger *slog.Logger
	// Now is the clock of admissions, audit entries and rate limits; nil is
	// time.Now.
	Now func() time.Time
}

// API is the controller's HTTP interface: the admin routes under /api/v1
// (bearer tokens with roles, every change and denial audited), the
// app-facing routes (no token, rate limited), artifacts, health and
// metrics. See API.md for the contract.
type API struct {
	store      *Store
	decider    Decider
	artifacts  http.Handler
	metrics    *Metrics
	publicURL  string
	client     *http.Client
	maxBody    int64
	maxUpload  int64
	limiter    *rateLimiter
	tempDir    string
	shareHosts []string
	log        *slog.Logger
	now        func() time.Time
	mux        *http.ServeMux
}

// NewAPI checks cfg and builds the API.
func NewAPI(cfg APIConfig) (*API, error) {
	if cfg.Store == nil {
		return nil, errors.New("controller: new API: Store is required")
	}
	if cfg.Decider == nil {
		return nil, errors.New("controller: new API: Decider is required")
	}
	a := &API{
		store: cfg.Store, decider: cfg.Decider, artifacts: cfg.Artifacts, metrics: cfg.Metrics,
		publicURL: strings.TrimRight(cfg.PublicURL, "/"), client: cfg.HTTPClient,
		maxBody: cfg.MaxBody, maxUpload: cfg.MaxUpload, tempDir: cfg.TempDir, shareHosts: cfg.ShareLinkHosts,
		log: cfg.Logger, now: cfg.Now,
	}
	if a.publicURL != "" && !strings.HasPrefix(a.publicURL, "http://") && !strings.HasPrefix(a.publicURL, "https://") {
		return nil, fmt.Errorf("controller: new API: PublicURL %q is not allowed; want an http:// or https:// base URL", cfg.PublicURL)
	}
	if a.maxBody < 0 || a.maxUpload < 0 {
		return nil, fmt.Errorf("controller: new API: MaxBody %d and MaxUpload %d must not be negative (0 for the defaults)", a.maxBody, a.maxUpload)
	}
	if a.metrics == nil {
		a.metrics = NewMetrics()
	}
	if a.client == nil {
		a.client = defaultAdmissionClient()
	}
	if a.maxBody == 0 {
		a.maxBody = DefaultMaxBody
	}
	if a.maxUpload == 0 {
		a.maxUpload = DefaultMaxUpload
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	lim, err := newRateLimiter(cfg.RateLimit, a.now)
	if err != nil {
		return nil, fmt.Errorf("controller: new API: %w", err)
	}
	a.limiter = lim
	a.mux = a.routes()
	return a, nil
}

// Handler serves everything: /api/v1/..., /artifacts/, /healthz, /readyz
// and /metrics.
func (a *API) Handler() http.Handler { return a.mux }

// apiFunc is a route handler; a returned error becomes the JSON error
// answer (see writeError).
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// methods maps HTTP methods to the handlers of one route.
type methods map[string]apiFunc

func (a *API) routes() *http.ServeMux {
	mux := http.NewServeMux()
	handle := func(pattern string, m methods) { mux.Handle(pattern, a.route(pattern, m)) }

	// Objects.
	handle("/api/v1/{kind}", methods{http.MethodGet: a.authed(permRead, a.listObjects)})
	handle("/api/v1/{kind}/{name}", methods{
		http.MethodGet:    a.authed(permRead, a.getObject),
		http.MethodDelete: a.authed(permPrivileged, a.deleteObject),
	})
	handle("/api/v1/apply", methods{http.MethodPost: a.authed(permChange, a.apply)})
	handle("/api/v1/devices/{name}/explain", methods{http.MethodGet: a.authed(permRead, a.explain)})
	handle("/api/v1/rollout", methods{http.MethodGet: a.authed(permRead, a.rollout)})

	// Releases.
	handle("/api/v1/releases", methods{
		http.MethodGet:  a.authed(permRead, a.listObjects),
		http.MethodPost: a.authed(permChange, a.addRelease),
	})
	handle("/api/v1/releases/upload", methods{http.MethodPost: a.authed(permChange, a.uploadRelease)})

	// Logs and tokens.
	handle("/api/v1/decisions", methods{http.MethodGet: a.authed(permLogs, a.queryDecisions)})
	handle("/api/v1/decisions/{id}", methods{http.MethodGet: a.authed(permLogs, a.getDecision)})
	handle("/api/v1/decisions/{id}/replay", methods{http.MethodPost: a.authed(permLogs, a.replayDecision)})
	handle("/api/v1/audit", methods{http.MethodGet: a.authed(permLogs, a.queryAudit)})
	handle("/api/v1/tokens", methods{
		http.MethodGet:  a.authed(permSuper, a.listTokens),
		http.MethodPost: a.authed(permSuper, a.createToken),
	})
	handle("/api/v1/tokens/{name}", methods{http.MethodDelete: a.authed(permSuper, a.deleteToken)})

	// App-facing.
	handle("/api/v1/version/check", methods{http.MethodGet: a.limited(a.versionCheck)})
	handle("/api/v1/config/update", methods{http.MethodGet: a.limited(a.updateConfig)})
	handle("/api/v1/event/report", methods{http.MethodPost: a.limited(a.eventReport)})

	// Artifacts, health and metrics.
	handle("/artifacts/", methods{
		http.MethodGet:  a.serveArtifact,
		http.MethodHead: a.serveArtifact,
	})
	handle("/healthz", methods{http.MethodGet: func(w http.ResponseWriter, r *http.Request) error {
		return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}})
	handle("/readyz", methods{http.MethodGet: func(w http.ResponseWriter, r *http.Request) error {
		if !a.decider.Ready() {
			return &apiError{Status: http.StatusServiceUnavailable, Message: "the controller is not ready: the catalog is not loaded or NATS is not connected"}
		}
		return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}})
	metrics := promhttp.HandlerFor(a.metrics.Registry, promhttp.HandlerOpts{})
	handle("/metrics", methods{http.MethodGet: func(w http.ResponseWriter, r *http.Request) error {
		metrics.ServeHTTP(w, r)
		return nil
	}})
	handle("/", methods{}) // everything else: 404 JSON
	return mux
}

// route dispatches by method, answers 405 for a method the route does not
// have and 404 for the catch-all, writes errors as JSON and records the
// latency by route and status code.
func (a *API) route(pattern string, m methods) http.Handler {
	allowed := make([]string, 0, len(m))
	for method := range m {
		allowed = append(allowed, method)
	}
	slices.Sort(allowed)
	label := pattern
	if pattern == "/" {
		label = "unmatched"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		var err error
		switch h, ok := m[r.Method]; {
		case pattern == "/":
			err = &apiError{Status: http.StatusNotFound, Message: fmt.Sprintf("no route %s %s; the API lives under /api/v1 (see API.md)", r.Method, r.URL.Path)}
		case !ok:
			sw.Header().Set("Allow", strings.Join(allowed, ", "))
			err = &apiError{Status: http.StatusMethodNotAllowed, Message: fmt.Sprintf("method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allowed, ", "))}
		default:
			err = h(sw, r)
		}
		if err != nil {
			a.writeError(sw, r, err)
		}
		code := sw.status
		if code == 0 {
			code = http.StatusOK
		}
		a.metrics.HTTPRequestSeconds.WithLabelValues(label, strconv.Itoa(code)).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (a *API) serveArtifact(w http.ResponseWriter, r *http.Request) error {
	if a.artifacts == nil {
		return &apiError{Status: http.StatusNotFound, Message: "this controller serves no artifacts"}
	}
	a.artifacts.ServeHTTP(w, r)
	return nil
}

// requestContext bounds a request's work: admin reads and writes must not
// hang on a stalled NATS connection.
func requestContext(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}
