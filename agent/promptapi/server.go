package promptapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sluice-mdm/sluice/agent/state"
	"github.com/sluice-mdm/sluice/protocol"
)

// Errors a [Backend] returns, checked with errors.Is.
var (
	// ErrNoDecision: the directive has no decision for the app (404).
	ErrNoDecision = errors.New("promptapi: no decision for this app")
	// ErrNoUpdate: there is nothing to update or cancel (409).
	ErrNoUpdate = errors.New("promptapi: no update to act on")
)

// Progress is one app's download and install progress.
type Progress struct {
	// State is the app's state: idle, waiting, downloading, verifying,
	// installing, installed, failed, prompting.
	State          string  `json:"state"`
	Downloaded     int64   `json:"downloaded"`
	Total          int64   `json:"total"`
	BytesPerSecond float64 `json:"bytesPerSecond"`
	// RemainingSeconds is the estimated time left, 0 when unknown.
	RemainingSeconds float64 `json:"remainingSeconds"`
	Error            string  `json:"error,omitempty"`
}

// Backend is what the API needs from the agent.
type Backend interface {
	// App returns the app's decision and installed version (nil when not
	// installed); it wraps ErrNoDecision when the directive has none.
	App(pkg string) (protocol.Decision, *protocol.InstalledApp, error)
	// UpdateNow starts the download and install of the app's target at
	// once, ignoring constraints; it returns without waiting for them.
	UpdateNow(pkg string) error
	// Cancel stops a running download of the app, keeping the partial.
	Cancel(pkg string) error
	// Progress reports the app's progress.
	Progress(pkg string) Progress
	// Status is the agent's status, encoded as JSON for GET /v1/status.
	Status() any
	// Emit records one event for the app, linked to decisionID.
	Emit(pkg string, name protocol.EventName, decisionID string, params map[string]string)
	// Location is the device's time zone.
	Location() *time.Location
}

// Config configures a [Server].
type Config struct {
	// Addr is "host:port" on a loopback address, or "unix:/path/to/socket".
	Addr string
	// DataDir keeps the prompt records (prompts.json). Required.
	DataDir string
	Backend Backend
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server serves the local prompt API.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store *recordStore

	mu   sync.Mutex // serializes prompt decisions and record updates
	addr chan net.Addr
}

// New checks cfg and loads the prompt records.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("promptapi: config: Backend is required")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("promptapi: config: DataDir is required")
	}
	if cfg.Addr != "" {
		if _, _, err := listenArgs(cfg.Addr); err != nil {
			return nil, err
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := openRecords(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, log: log, store: st, addr: make(chan net.Addr, 1)}, nil
}

// listenArgs turns Addr into net.Listen arguments, refusing addresses that
// are not loopback.
func listenArgs(addr string) (network, address string, err error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return "", "", fmt.Errorf("promptapi: addr: %q has no socket path; want unix:/path/to/socket", addr)
		}
		return "unix", path, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("promptapi: addr: %q is not host:port or unix:/path: %v", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", "", fmt.Errorf("promptapi: addr: %q is not a loopback address; want 127.0.0.1:PORT, [::1]:PORT or unix:/path", addr)
	}
	return "tcp", addr, nil
}

// Run listens on the configured address and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	network, address, err := listenArgs(s.cfg.Addr)
	if err != nil {
		return err
	}
	if network == "unix" {
		_ = os.Remove(address) // a socket left by an earlier run
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return fmt.Errorf("promptapi: listen on %s: %w", s.cfg.Addr, err)
	}
	if network == "unix" {
		defer os.Remove(address)
	}
	return s.Serve(ctx, ln)
}

// Addr waits for the listening address of Run or Serve.
func (s *Server) Addr(ctx context.Context) (net.Addr, error) {
	select {
	case a := <-s.addr:
		s.addr <- a
		return a, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Serve serves on ln until ctx ends, then shuts down within 5 seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.addr <- ln.Addr()
	s.log.Info("prompt api listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("promptapi: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("promptapi: shutdown: %w", err)
	}
	return nil
}

// Handler returns the API's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/apps/{pkg}/prompt", s.prompt)
	mux.HandleFunc("/v1/apps/{pkg}/progress", s.progress)
	mux.HandleFunc("/v1/status", s.status)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, &apiError{Message: fmt.Sprintf("path %q is not part of the API; see /v1/apps/{pkg}/prompt, /v1/apps/{pkg}/progress, /v1/status", r.URL.Path), Field: "path", Value: r.URL.Path})
	})
	return mux
}

// apiError is the JSON body of every error answer.
type apiError struct {
	Message string `json:"error"`
	Field   string `json:"field,omitempty"`
	Value   string `json:"value,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, e *apiError) { writeJSON(w, code, e) }

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allowed ...string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeError(w, http.StatusMethodNotAllowed, &apiError{
		Message: fmt.Sprintf("method %s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allowed, " or ")),
		Field:   "method", Value: r.Method,
	})
}

// pkgOf validates the {pkg} path segment.
func pkgOf(w http.ResponseWriter, r *http.Request) (string, bool) {
	pkg := r.PathValue("pkg")
	if err := protocol.ValidatePackageName(pkg); err != nil {
		writeError(w, http.StatusBadRequest, &apiError{Message: "pkg: " + err.Error(), Field: "pkg", Value: pkg})
		return "", false
	}
	return pkg, true
}

func (s *Server) prompt(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if pkg, ok := pkgOf(w, r); ok {
			s.getPrompt(w, pkg, r.Method == http.MethodGet)
		}
	case http.MethodPost:
		if pkg, ok := pkgOf(w, r); ok {
			s.postPrompt(w, r, pkg)
		}
	default:
		methodNotAllowed(w, r, http.MethodGet, http.MethodPost)
	}
}

func (s *Server) progress(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, http.MethodGet)
		return
	}
	pkg, ok := pkgOf(w, r)
	if !ok {
		return
	}
	if _, _, err := s.cfg.Backend.App(pkg); err != nil && errors.Is(err, ErrNoDecision) {
		writeError(w, http.StatusNotFound, &apiError{Message: fmt.Sprintf("pkg: no update is known for %s", pkg), Field: "pkg", Value: pkg})
		return
	}
	writeJSON(w, http.StatusOK, s.cfg.Backend.Progress(pkg))
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, http.MethodGet)
		return
	}
	writeJSON(w, http.StatusOK, s.cfg.Backend.Status())
}

// versionInfo is the zz_version_info parameter: "2.0.0 (200)".
func versionInfo(name string, code int64) string { return fmt.Sprintf("%s (%d)", name, code) }

// getPrompt answers whether the prompt shows now. Only a GET (record set)
// is a check and a show; a HEAD answers alike without using up a show.
func (s *Server) getPrompt(w http.ResponseWriter, pkg string, record bool) {
	be := s.cfg.Backend
	dec, installed, err := be.App(pkg)
	if err != nil && !errors.Is(err, ErrNoDecision) {
		writeError(w, http.StatusInternalServerError, &apiError{Message: err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	loc := be.Location()
	ans := state.PromptAnswer{Reason: state.ReasonNoPrompt}
	if err == nil {
		ans = state.PromptNow(dec, installed, s.store.get(pkg), loc, now)
	}
	if !record {
		writeJSON(w, http.StatusOK, ans)
		return
	}
	check := map[string]string{protocol.ParamUpdateType: updateType(dec, ans)}
	if ans.VersionName != "" {
		check[protocol.ParamNewVersion] = ans.VersionName
	}
	be.Emit(pkg, protocol.EventUpdateCheck, dec.DecisionID, check)
	if ans.Show {
		if !ans.Forced {
			if err := s.store.put(pkg, s.store.get(pkg).RecordShow(dec, loc, now)); err != nil {
				writeError(w, http.StatusInternalServerError, &apiError{Message: err.Error()})
				return
			}
		}
		dialog := "closable"
		if ans.Forced {
			dialog = "forced"
		}
		be.Emit(pkg, protocol.EventUpdateDialogShow, dec.DecisionID, map[string]string{
			protocol.ParamDialogType:  dialog,
			protocol.ParamForceUpdate: fmt.Sprint(ans.Forced),
			protocol.ParamNewVersion:  ans.VersionName,
			protocol.ParamVersionInfo: versionInfo(ans.VersionName, ans.VersionCode),
		})
	}
	writeJSON(w, http.StatusOK, ans)
}

func updateType(dec protocol.Decision, ans state.PromptAnswer) string {
	switch {
	case ans.Forced:
		return "force"
	case ans.Closable:
		return "prompt"
	case dec.Action != "":
		return string(dec.Action)
	}
	return "none"
}

// Actions of POST /v1/apps/{pkg}/prompt.
const (
	ActionUpdate = "update"
	ActionLater  = "later"
	ActionCancel = "cancel"
)

type postBody struct {
	Action string `json:"action"`
}

const maxBody = 4 << 10

func (s *Server) postPrompt(w http.ResponseWriter, r *http.Request, pkg string) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, &apiError{Message: fmt.Sprintf("Content-Type: %q is not allowed; send application/json", ct), Field: "Content-Type", Value: ct})
		return
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	var body postBody
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, &apiError{Message: fmt.Sprintf("body: not a JSON object like {\"action\": \"update\"}: %v", err), Field: "body"})
		return
	}
	be := s.cfg.Backend
	d, _, err := be.App(pkg)
	if errors.Is(err, ErrNoDecision) {
		writeError(w, http.StatusNotFound, &apiError{Message: fmt.Sprintf("pkg: no update is known for %s", pkg), Field: "pkg", Value: pkg})
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, &apiError{Message: err.Error()})
		return
	}
	switch body.Action {
	case ActionUpdate, ActionLater, ActionCancel:
	default:
		writeError(w, http.StatusBadRequest, &apiError{
			Message: fmt.Sprintf("action: %q is not one of %s, %s, %s", body.Action, ActionUpdate, ActionLater, ActionCancel),
			Field:   "action", Value: body.Action,
		})
		return
	}
	click := func() {
		be.Emit(pkg, protocol.EventUpdateButtonClick, d.DecisionID, map[string]string{protocol.ParamButtonAction: body.Action})
	}
	switch body.Action {
	case ActionUpdate:
		// The click is recorded before the update starts: the download
		// reports its own events, which must follow it in the stream.
		click()
		err = be.UpdateNow(pkg)
	case ActionLater:
		err = s.later(pkg, d)
	case ActionCancel:
		err = be.Cancel(pkg)
	}
	if err != nil {
		var fe *forcedError
		switch {
		case errors.As(err, &fe):
			writeError(w, http.StatusConflict, &apiError{Message: err.Error(), Field: "action", Value: body.Action})
		case errors.Is(err, ErrNoUpdate):
			writeError(w, http.StatusConflict, &apiError{Message: fmt.Sprintf("action: %s: %v", body.Action, err), Field: "action", Value: body.Action})
		default:
			writeError(w, http.StatusInternalServerError, &apiError{Message: err.Error()})
		}
		return
	}
	if body.Action != ActionUpdate {
		click()
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"action": body.Action, "app": pkg})
}

// forcedError refuses "later" on a prompt that cannot be dismissed.
type forcedError struct{ pkg string }

func (e *forcedError) Error() string {
	return fmt.Sprintf("action: later is not allowed: the update of %s is forced; use update", e.pkg)
}

func (s *Server) later(pkg string, dec protocol.Decision) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	loc := s.cfg.Backend.Location()
	rec := s.store.get(pkg)
	ans := state.PromptNow(dec, nil, rec, loc, now)
	if ans.Forced {
		return &forcedError{pkg: pkg}
	}
	if dec.Action != protocol.ActionPrompt {
		return fmt.Errorf("%w: %s has no prompt", ErrNoUpdate, pkg)
	}
	return s.store.put(pkg, rec.Later(dec, loc, now))
}
