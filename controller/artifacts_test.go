package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type artifactFixture struct {
	store   *Store
	handler *ArtifactHandler
	srv     *httptest.Server
	apk     []byte
	info    ArtifactInfo
	cache   string
}

func newArtifactFixture(t *testing.T) *artifactFixture {
	t.Helper()
	s, _, _ := newTestStore(t)
	apk := testAPK(250_000)
	info, err := s.PutArtifact(testCtx(t), sha256Hex(apk), bytes.NewReader(apk))
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "artifact-cache")
	h, err := NewArtifactHandler(ArtifactHandlerConfig{Source: s, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(ArtifactPathPrefix, h)
	srv := httptest.NewServer(mux) // loopback
	t.Cleanup(srv.Close)
	return &artifactFixture{store: s, handler: h, srv: srv, apk: apk, info: info, cache: cache}
}

// response is what a test compares of an HTTP answer.
type response struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

// cmpBytesAsString compares bodies as strings: element-wise comparison of
// large byte slices is slow under the race detector.
var cmpBytesAsString = cmp.Transformer("string", func(b []byte) string { return string(b) })

var artifactHeaders = []string{"Content-Length", "Content-Range", "Accept-Ranges", "Etag", "Last-Modified", "Content-Type"}

func (f *artifactFixture) do(t *testing.T, method, path string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	got := response{Status: res.StatusCode, Headers: map[string]string{}, Body: body}
	for _, k := range artifactHeaders {
		if v := res.Header.Get(k); v != "" {
			got.Headers[k] = v
		}
	}
	return got
}

func TestArtifactHandlerRanges(t *testing.T) {
	f := newArtifactFixture(t)
	sha, size := f.info.SHA256, len(f.apk)
	path := ArtifactPathPrefix + sha
	etag := `"` + sha + `"`
	lastMod := f.info.ModTime.UTC().Format(http.TimeFormat)
	full := map[string]string{
		"Content-Length": fmt.Sprint(size), "Accept-Ranges": "bytes", "Etag": etag,
		"Last-Modified": lastMod, "Content-Type": "application/vnd.android.package-archive",
	}
	partial := func(from, to int) response {
		return response{Status: http.StatusPartialContent, Body: f.apk[from : to+1], Headers: map[string]string{
			"Content-Length": fmt.Sprint(to - from + 1), "Content-Range": fmt.Sprintf("bytes %d-%d/%d", from, to, size),
			"Accept-Ranges": "bytes", "Etag": etag, "Last-Modified": lastMod, "Content-Type": "application/vnd.android.package-archive",
		}}
	}
	tests := []struct {
		name   string
		method string
		hdr    map[string]string
		want   response
	}{
		{"full GET", "GET", nil, response{Status: 200, Headers: full, Body: f.apk}},
		{"resume from the middle", "GET", map[string]string{"Range": fmt.Sprintf("bytes=%d-", size/2)}, partial(size/2, size-1)},
		{"bounded range", "GET", map[string]string{"Range": "bytes=100-199"}, partial(100, 199)},
		{"suffix range", "GET", map[string]string{"Range": "bytes=-500"}, partial(size-500, size-1)},
		{"range past the end", "GET", map[string]string{"Range": fmt.Sprintf("bytes=%d-", size+10)}, response{
			Status: http.StatusRequestedRangeNotSatisfiable, Body: []byte("invalid range: failed to overlap\n"),
			Headers: map[string]string{"Content-Range": fmt.Sprintf("bytes */%d", size), "Content-Length": "33", "Content-Type": "text/plain; charset=utf-8"},
		}},
		{"If-Range with the current ETag", "GET", map[string]string{"Range": "bytes=1000-", "If-Range": etag}, partial(1000, size-1)},
		{"If-Range with a stale ETag", "GET", map[string]string{"Range": "bytes=1000-", "If-Range": `"0000"`}, response{Status: 200, Headers: full, Body: f.apk}},
		{"If-None-Match", "GET", map[string]string{"If-None-Match": etag}, response{Status: http.StatusNotModified, Body: []byte{},
			Headers: map[string]string{"Etag": etag}}},
		{"HEAD", "HEAD", nil, response{Status: 200, Headers: full, Body: []byte{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.do(t, tt.method, path, tt.hdr)
			if diff := cmp.Diff(tt.want, got, cmpBytesAsString); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestArtifactHandlerRefusesBadRequests(t *testing.T) {
	f := newArtifactFixture(t)
	unknown := sha256Hex([]byte("never stored"))
	jsonBody := func(v map[string]string) []byte {
		b, _ := json.Marshal(v)
		return append(b, '\n')
	}
	tests := []struct {
		name   string
		method string
		path   string
		want   response
	}{
		{"bad sha256", "GET", ArtifactPathPrefix + "not-a-digest", response{Status: 400,
			Headers: map[string]string{"Content-Type": "application/json"},
			Body:    jsonBody(map[string]string{"error": `artifact path: sha256 "not-a-digest" is not 64 lowercase hex digits`, "field": "sha256", "value": "not-a-digest"})}},
		{"uppercase sha256", "GET", ArtifactPathPrefix + "A" + f.info.SHA256[1:], response{Status: 400,
			Headers: map[string]string{"Content-Type": "application/json"},
			Body:    jsonBody(map[string]string{"error": `artifact path: sha256 "A` + f.info.SHA256[1:] + `" is not 64 lowercase hex digits`, "field": "sha256", "value": "A" + f.info.SHA256[1:]})}},
		{"unknown", "GET", ArtifactPathPrefix + unknown, response{Status: 404,
			Headers: map[string]string{"Content-Type": "application/json"},
			Body:    jsonBody(map[string]string{"error": "artifact " + unknown + " not found"})}},
		{"POST", "POST", ArtifactPathPrefix + f.info.SHA256, response{Status: 405,
			Headers: map[string]string{"Content-Type": "application/json"},
			Body:    jsonBody(map[string]string{"error": "method POST is not allowed on artifacts; use GET or HEAD"})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.do(t, tt.method, tt.path, nil)
			delete(got.Headers, "Content-Length")
			if diff := cmp.Diff(tt.want, got, cmpBytesAsString); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

// gatedSource holds the first copy from the store until every client has
// looked the artifact up, so that all requests are first requests.
type gatedSource struct {
	*Store
	clients int32
	lookups atomic.Int32
	opens   atomic.Int32
}

func (g *gatedSource) ArtifactInfo(ctx context.Context, sha string) (ArtifactInfo, error) {
	g.lookups.Add(1)
	return g.Store.ArtifactInfo(ctx, sha)
}

func (g *gatedSource) OpenArtifact(ctx context.Context, sha string) (io.ReadCloser, ArtifactInfo, error) {
	g.opens.Add(1)
	deadline := time.Now().Add(10 * time.Second)
	for g.lookups.Load() < g.clients && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return g.Store.OpenArtifact(ctx, sha)
}

func TestArtifactConcurrentFirstRequestsFillTheCacheOnce(t *testing.T) {
	f := newArtifactFixture(t)
	const clients = 8
	gate := &gatedSource{Store: f.store, clients: clients}
	h, err := NewArtifactHandler(ArtifactHandlerConfig{Source: gate, CacheDir: f.cache})
	if err != nil {
		t.Fatal(err)
	}
	f.handler = h
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	var wg sync.WaitGroup
	got := make([]response, clients)
	start := make(chan struct{})
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			hdr := map[string]string(nil)
			if i%2 == 1 {
				hdr = map[string]string{"Range": "bytes=1000-"}
			}
			got[i] = f.do(t, "GET", ArtifactPathPrefix+f.info.SHA256, hdr)
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range got {
		want, wantStatus := f.apk, 200
		if i%2 == 1 {
			want, wantStatus = f.apk[1000:], 206
		}
		if r.Status != wantStatus || !bytes.Equal(want, r.Body) {
			t.Errorf("client %d: status %d with %d bytes; want %d with %d bytes", i, r.Status, len(r.Body), wantStatus, len(want))
		}
	}
	type counts struct{ Lookups, Opens, Fills int64 }
	if diff := cmp.Diff(counts{clients, 1, 1}, counts{int64(gate.lookups.Load()), int64(gate.opens.Load()), h.fills.Load()}); diff != "" {
		t.Errorf("store lookups, store reads and cache fills (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(f.cache)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{f.info.SHA256}, names); diff != "" {
		t.Errorf("cache files (-want +got):\n%s", diff)
	}
	cached, err := os.ReadFile(filepath.Join(f.cache, f.info.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f.info.SHA256, sha256Hex(cached)); diff != "" {
		t.Errorf("cached copy digest (-want +got):\n%s", diff)
	}
}

func TestArtifactDeletedFromStoreLeavesTheCache(t *testing.T) {
	f := newArtifactFixture(t)
	path := ArtifactPathPrefix + f.info.SHA256
	if got := f.do(t, "GET", path, nil); got.Status != 200 {
		t.Fatalf("first GET: status %d", got.Status)
	}
	if err := f.store.DeleteArtifact(testCtx(t), f.info.SHA256); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(404, f.do(t, "GET", path, nil).Status); diff != "" {
		t.Errorf("status after delete (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(f.cache, f.info.SHA256)); !os.IsNotExist(err) {
		t.Errorf("cached copy still present after delete: %v", err)
	}
}

func TestNewArtifactHandlerRemovesPartialCopies(t *testing.T) {
	s, _, _ := newTestStore(t)
	dir := t.TempDir()
	partial := filepath.Join(dir, shaA+tmpMarker+"123")
	complete := filepath.Join(dir, shaB)
	for _, p := range []string{partial, complete} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewArtifactHandler(ArtifactHandlerConfig{Source: s, CacheDir: dir}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{shaB}, names); diff != "" {
		t.Errorf("cache files (-want +got):\n%s", diff)
	}
	_, err = NewArtifactHandler(ArtifactHandlerConfig{CacheDir: dir})
	if diff := cmp.Diff("controller: artifact handler: source is required", errorText(err)); diff != "" {
		t.Errorf("no source (-want +got):\n%s", diff)
	}
}
