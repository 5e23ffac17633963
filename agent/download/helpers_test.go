package download

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mdm/sluice/protocol"
)

// testData returns n reproducible pseudo-random bytes.
func testData(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func artifactFor(data []byte, urls ...string) protocol.Artifact {
	return protocol.Artifact{URLs: urls, SHA256: sum(data), Size: int64(len(data))}
}

// seen is what a test server recorded about one request.
type seen struct {
	Range, IfRange string
}

// server is a real HTTP server on 127.0.0.1 whose handler gets the index
// of each request, and which records the Range headers it received.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newServer(t testing.TB, handle func(n int, w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, seen{Range: r.Header.Get("Range"), IfRange: r.Header.Get("If-Range")})
		s.mu.Unlock()
		handle(n, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

// url returns the server's URL for name.
func (s *server) url(name string) string { return s.URL + "/" + name }

// serve answers with data through http.ServeContent, which implements
// Range, If-Range and 416.
func serve(w http.ResponseWriter, r *http.Request, data []byte, etag string) {
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	http.ServeContent(w, r, "app.apk", time.Date(2026, 5, 2, 10, 0, 0, 0, time.UTC), bytes.NewReader(data))
}

// cut answers 200 with the full Content-Length, sends only the first n
// bytes, then hijacks the connection and closes it.
func cut(t testing.TB, w http.ResponseWriter, data []byte, n int, etag string) {
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data[:n])
	rc := http.NewResponseController(w)
	rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

// stall sends the first n bytes of a 200 answer, then waits until the
// client goes away.
func stall(w http.ResponseWriter, r *http.Request, data []byte, n int, etag string) {
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data[:n])
	http.NewResponseController(w).Flush()
	<-r.Context().Done()
}

// sleeper is an injected Config.Sleep that records the waits and returns
// at once.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waits)
}

// logBuffer collects JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// records returns the log records whose message is msg, as maps.
func (l *logBuffer) records(t testing.TB, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(l.buf.Bytes()))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("decode log: %v", err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// failures lists the "code url" of every failed attempt logged.
func (l *logBuffer) failures(t testing.TB) []string {
	var out []string
	for _, m := range l.records(t, "download attempt failed") {
		out = append(out, m["code"].(string)+" "+m["url"].(string))
	}
	return out
}

// env is a Downloader under test with its directory, log and sleeper.
type env struct {
	d     *Downloader
	dir   string
	dest  string
	log   *logBuffer
	sleep *sleeper
}

// newEnv makes a Downloader on a fresh directory; edit changes the
// config before New.
func newEnv(t testing.TB, edit func(*Config)) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{dir: filepath.Join(root, "partial"), dest: filepath.Join(root, "app.apk"), log: &logBuffer{}, sleep: &sleeper{}}
	cfg := Config{
		Dir:         e.dir,
		Logger:      slog.New(slog.NewJSONHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Sleep:       e.sleep.Sleep,
		IdleTimeout: 5 * time.Second,
		BaseBackoff: 10 * time.Millisecond,
		MaxBackoff:  80 * time.Millisecond,
		FreeSpace:   func(string) (int64, error) { return 1 << 40, nil },
	}
	if edit != nil {
		edit(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.d = d
	return e
}

// reopen makes a new Downloader on the same directory, as after an agent
// restart.
func (e *env) reopen(t testing.TB, edit func(*Config)) *env {
	t.Helper()
	e2 := newEnv(t, func(c *Config) {
		c.Dir = e.dir
		if edit != nil {
			edit(c)
		}
	})
	e2.dest, e2.dir = e.dest, e.dir
	return e2
}

// files lists the names in the partial directory.
func (e *env) files(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ent := range ents {
		names = append(names, ent.Name())
	}
	return names
}

// readMeta reads the metadata of the partial of data.
func (e *env) readMeta(t testing.TB, data []byte) meta {
	t.Helper()
	raw, err := os.ReadFile(metaPath(e.dir, sum(data)))
	if err != nil {
		t.Fatalf("read metadata: %v", err)
	}
	var m meta
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode metadata: %v", err)
	}
	return m
}

// checkDest fails unless path holds exactly want.
func checkDest(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read dest: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("dest holds %d bytes with sha256 %s, want %d bytes with %s", len(got), sum(got), len(want), sum(want))
	}
}

// checkNoFile fails if path exists.
func checkNoFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("%s exists (stat error %v), want it absent", path, err)
	}
}
