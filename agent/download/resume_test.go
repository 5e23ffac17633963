package download

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFetchRestartsWhenETagChanges(t *testing.T) {
	data := testData(1<<20, 20)
	const at = 400 << 10
	tests := []struct {
		name string
		// second answers the resume request.
		second          func(w http.ResponseWriter, r *http.Request)
		wantReqs        []seen
		wantTransferred int64
	}{
		{
			// The server honours If-Range: a new ETag means 200 with
			// everything.
			name:            "If-Range honoured",
			second:          func(w http.ResponseWriter, r *http.Request) { serve(w, r, data, `"v2"`) },
			wantReqs:        []seen{{}, {Range: "bytes=409600-", IfRange: `"v1"`}},
			wantTransferred: at + int64(len(data)),
		},
		{
			// The server ignores If-Range and answers 206 with another
			// ETag: the range is refused before its body is read, and the
			// file is fetched again from zero.
			name: "If-Range ignored",
			second: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("ETag", `"v2"`)
				w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", at, len(data)-1, len(data)))
				w.Header().Set("Content-Length", strconv.Itoa(len(data)-at))
				w.WriteHeader(http.StatusPartialContent)
				w.Write(data[at:])
			},
			wantReqs:        []seen{{}, {Range: "bytes=409600-", IfRange: `"v1"`}, {}},
			wantTransferred: at + int64(len(data)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
				switch n {
				case 0:
					cut(t, w, data, at, `"v1"`)
				case 1:
					tt.second(w, r)
				default:
					serve(w, r, data, `"v2"`)
				}
			})
			e := newEnv(t, nil)
			got, err := e.d.Fetch(t.Context(), artifactFor(data, srv.url("a.apk")), e.dest, nil)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			want := Result{Path: e.dest, URL: srv.url("a.apk"), Transferred: tt.wantTransferred, Attempts: len(tt.wantReqs)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantReqs, srv.requests()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			checkDest(t, e.dest, data)
		})
	}
}

func TestFetchLastModifiedValidator(t *testing.T) {
	data := testData(600<<10, 21)
	const at = 200 << 10
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			w.Header().Set("Last-Modified", "Sat, 02 May 2026 10:00:00 GMT")
			cut(t, w, data, at, `W/"weak"`)
			return
		}
		serve(w, r, data, "")
	})
	e := newEnv(t, nil)
	if _, err := e.d.Fetch(t.Context(), artifactFor(data, srv.url("a.apk")), e.dest, nil); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	// A weak ETag cannot validate a range: Last-Modified is used.
	want := []seen{{}, {Range: "bytes=204800-", IfRange: "Sat, 02 May 2026 10:00:00 GMT"}}
	if diff := cmp.Diff(want, srv.requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	checkDest(t, e.dest, data)
}

func TestFetchRangeNotSatisfiableRestarts(t *testing.T) {
	data := testData(500<<10, 22)
	const at = 100 << 10
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 0:
			cut(t, w, data, at, "")
		case 1:
			w.Header().Set("Content-Range", "bytes */"+strconv.Itoa(len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		default:
			serve(w, r, data, "")
		}
	})
	e := newEnv(t, nil)
	got, err := e.d.Fetch(t.Context(), artifactFor(data, srv.url("a.apk")), e.dest, nil)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	want := Result{Path: e.dest, URL: srv.url("a.apk"), Transferred: at + int64(len(data)), Attempts: 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]seen{{}, {Range: "bytes=102400-"}, {}}, srv.requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	checkDest(t, e.dest, data)
}

func TestFetchBadContentRange(t *testing.T) {
	data := testData(300<<10, 23)
	const at = 100 << 10
	tests := []struct {
		name     string
		header   string
		wantCode string
	}{
		{name: "wrong start", header: fmt.Sprintf("bytes %d-%d/%d", at+1, len(data)-1, len(data)), wantCode: CodeNetworkError},
		{name: "wrong total", header: fmt.Sprintf("bytes %d-%d/%d", at, len(data)-1, len(data)+5), wantCode: CodeSizeMismatch},
		{name: "garbage", header: "bytes=oops", wantCode: CodeNetworkError},
		{name: "missing", header: "", wantCode: CodeNetworkError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			primary := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 0 {
					cut(t, w, data, at, "")
					return
				}
				if tt.header != "" {
					w.Header().Set("Content-Range", tt.header)
				}
				w.WriteHeader(http.StatusPartialContent)
				w.Write(data[at:])
			})
			mirror := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r, data, "") })
			e := newEnv(t, nil)
			got, err := e.d.Fetch(t.Context(), artifactFor(data, primary.url("a.apk"), mirror.url("a.apk")), e.dest, nil)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			// The primary's first bytes are kept; the mirror continues.
			want := Result{Path: e.dest, URL: mirror.url("a.apk"), Transferred: int64(len(data)), Resumed: true, Attempts: 3}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			wantFailures := []string{"NETWORK_ERROR " + primary.url("a.apk"), tt.wantCode + " " + primary.url("a.apk")}
			if diff := cmp.Diff(wantFailures, e.log.failures(t)); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]seen{{Range: "bytes=102400-"}}, mirror.requests()); diff != "" {
				t.Errorf("mirror requests (-want +got):\n%s", diff)
			}
			checkDest(t, e.dest, data)
		})
	}
}

func TestFetchShorterRangeContinues(t *testing.T) {
	data := testData(1<<20, 24)
	const chunk = 300 << 10
	// The server answers every range with at most chunk bytes.
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			cut(t, w, data, chunk, "")
			return
		}
		var start int
		fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &start)
		end := min(start+chunk, len(data)) - 1
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, len(data)))
		w.Header().Set("Content-Length", strconv.Itoa(end-start+1))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(data[start : end+1])
	})
	e := newEnv(t, nil)
	got, err := e.d.Fetch(t.Context(), artifactFor(data, srv.url("a.apk")), e.dest, nil)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	want := Result{Path: e.dest, URL: srv.url("a.apk"), Transferred: int64(len(data)), Resumed: true, Attempts: 4}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	wantReqs := []seen{{}, {Range: "bytes=307200-"}, {Range: "bytes=614400-"}, {Range: "bytes=921600-"}}
	if diff := cmp.Diff(wantReqs, srv.requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	checkDest(t, e.dest, data)
}

// pause fetches data from url until at least n bytes are on disk, then
// cancels, leaving a partial in e's directory.
func pause(t *testing.T, e *env, data []byte, url string, n int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := e.d.Fetch(ctx, artifactFor(data, url), e.dest, pauseAt(cancel, n))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("paused Fetch: got %v, want context.Canceled", err)
	}
}

func TestFetchCorruptPartialOnDisk(t *testing.T) {
	data := testData(800<<10, 25)
	const at = 300 << 10
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			stall(w, r, data, at, `"e"`)
			return
		}
		serve(w, r, data, `"e"`)
	})
	e := newEnv(t, func(c *Config) { c.ProgressEvery = time.Nanosecond })
	pause(t, e, data, srv.url("a.apk"), at)
	// Damage a byte of the partial on disk.
	f, err := os.OpenFile(partPath(e.dir, sum(data)), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{^data[10]}, 10); err != nil {
		t.Fatal(err)
	}
	f.Close()

	e2 := e.reopen(t, nil)
	got, err := e2.d.Fetch(t.Context(), artifactFor(data, srv.url("a.apk")), e2.dest, nil)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	// The damage is found by re-hashing the partial: it starts over
	// without blaming the server.
	want := Result{Path: e2.dest, URL: srv.url("a.apk"), Transferred: int64(len(data)), Attempts: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]seen{{}, {}}, srv.requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	recs := e2.log.records(t, "download partial restarted")
	if len(recs) != 1 || !strings.HasPrefix(recs[0]["reason"].(string), "partial file changed on disk") {
		t.Errorf("restart logs = %v, want one saying the partial changed on disk", recs)
	}
	checkDest(t, e2.dest, data)
}

func TestFetchMixedSourcesMismatchRetriesFromZero(t *testing.T) {
	data := testData(800<<10, 29)
	bad := append([]byte(nil), data...)
	bad[5] ^= 0x55
	const at = 200 << 10
	// The primary sends a corrupt beginning, is cut, then is gone.
	primary := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			cut(t, w, bad, at, "")
			return
		}
		http.NotFound(w, r)
	})
	mirror := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r, data, `"m"`) })
	e := newEnv(t, nil)
	got, err := e.d.Fetch(t.Context(), artifactFor(data, primary.url("a.apk"), mirror.url("a.apk")), e.dest, nil)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	// The mirror continued the primary's bytes; the mismatch cannot be
	// blamed on the mirror alone, so it is asked again from zero.
	want := Result{Path: e.dest, URL: mirror.url("a.apk"), Transferred: int64(len(data)) + int64(len(data)), Resumed: true, Attempts: 4}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]seen{{Range: "bytes=204800-"}, {}}, mirror.requests()); diff != "" {
		t.Errorf("mirror requests (-want +got):\n%s", diff)
	}
	wantFailures := []string{"NETWORK_ERROR " + primary.url("a.apk"), "HTTP_404 " + primary.url("a.apk"), "HASH_MISMATCH " + mirror.url("a.apk")}
	if diff := cmp.Diff(wantFailures, e.log.failures(t)); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	checkDest(t, e.dest, data)
}

func TestFetchUnusableMetadataStartsOver(t *testing.T) {
	data := testData(400<<10, 26)
	const at = 100 << 10
	tests := []struct {
		name  string
		write func(t *testing.T, e *env)
	}{
		{name: "not JSON", write: func(t *testing.T, e *env) {
			os.WriteFile(metaPath(e.dir, sum(data)), []byte("{oops"), 0o600)
		}},
		{name: "other size", write: func(t *testing.T, e *env) {
			m := e.readMeta(t, data)
			m.Size++
			writeMeta(t, e, data, m)
		}},
		{name: "durable beyond file", write: func(t *testing.T, e *env) {
			os.Truncate(partPath(e.dir, sum(data)), at-1)
		}},
		{name: "bad hash state", write: func(t *testing.T, e *env) {
			m := e.readMeta(t, data)
			m.HashState = []byte("nope")
			writeMeta(t, e, data, m)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 0 {
					stall(w, r, data, at, "")
					return
				}
				serve(w, r, data, "")
			})
			e := newEnv(t, func(c *Config) { c.ProgressEvery = time.Nanosecond })
			pause(t, e, data, srv.url("a.apk"), at)
			tt.write(t, e)
			got, err := e.d.Fetch(t.Context(), artifactFor(data, srv.url("a.apk")), e.dest, nil)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			want := Result{Path: e.dest, URL: srv.url("a.apk"), Transferred: int64(len(data)), Attempts: 1}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(1, len(e.log.records(t, "download partial restarted"))); diff != "" {
				t.Errorf("restart logs (-want +got):\n%s", diff)
			}
			checkDest(t, e.dest, data)
		})
	}
}

func writeMeta(t *testing.T, e *env, data []byte, m meta) {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(metaPath(e.dir, sum(data)), raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFetchAlreadyComplete(t *testing.T) {
	data := testData(200<<10, 27)
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r, data, "") })
	a := artifactFor(data, srv.url("a.apk"))
	e := newEnv(t, nil)
	if _, err := e.d.Fetch(t.Context(), a, e.dest, nil); err != nil {
		t.Fatalf("first Fetch: %v", err)
	}
	var reports []Progress
	got, err := e.d.Fetch(t.Context(), a, e.dest, func(p Progress) { reports = append(reports, p) })
	if err != nil {
		t.Fatalf("second Fetch: %v", err)
	}
	if diff := cmp.Diff(Result{Path: e.dest}, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Progress{{Downloaded: a.Size, Total: a.Size}}, reports); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(1, len(srv.requests())); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}

	// A different file at dest is replaced, never trusted.
	if err := os.WriteFile(e.dest, make([]byte, len(data)), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err = e.d.Fetch(t.Context(), a, e.dest, nil)
	if err != nil {
		t.Fatalf("third Fetch: %v", err)
	}
	want := Result{Path: e.dest, URL: srv.url("a.apk"), Transferred: a.Size, Attempts: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result over a wrong file (-want +got):\n%s", diff)
	}
	checkDest(t, e.dest, data)
}

func TestFetchCompletePartialNeedsNoRequest(t *testing.T) {
	data := testData(100<<10, 28)
	e := newEnv(t, nil)
	// A crash after the last byte was made durable, before the rename.
	p, why, err := openPartial(e.dir, sum(data), int64(len(data)), make([]byte, 4096))
	if err != nil || why != "" {
		t.Fatalf("openPartial: %v %q", err, why)
	}
	p.url = "http://127.0.0.1:1/gone.apk"
	if _, err := p.f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	p.h.Write(data)
	p.offset = int64(len(data))
	if err := p.checkpoint(time.Now()); err != nil {
		t.Fatal(err)
	}
	p.close()
	e2 := e.reopen(t, nil)
	got, err := e2.d.Fetch(t.Context(), artifactFor(data, "http://127.0.0.1:1/gone.apk"), e2.dest, nil)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	want := Result{Path: e2.dest, URL: "http://127.0.0.1:1/gone.apk", Resumed: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	checkDest(t, e2.dest, data)
	if diff := cmp.Diff([]string(nil), e2.files(t)); diff != "" {
		t.Errorf("partial dir (-want +got):\n%s", diff)
	}
}

func TestFetchKeepsVerifiedFileWhenMoveFails(t *testing.T) {
	data := testData(150<<10, 34)
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r, data, "") })
	a := artifactFor(data, srv.url("a.apk"))
	e := newEnv(t, nil)
	dest := filepath.Join(t.TempDir(), "missing", "app.apk")
	if _, err := e.d.Fetch(t.Context(), a, dest, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Fetch into a missing directory: got %v, want fs.ErrNotExist", err)
	}
	if err := os.Mkdir(filepath.Dir(dest), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := e.d.Fetch(t.Context(), a, dest, nil)
	if err != nil {
		t.Fatalf("second Fetch: %v", err)
	}
	want := Result{Path: dest, URL: srv.url("a.apk"), Resumed: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(1, len(srv.requests())); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	checkDest(t, dest, data)
}

func TestFetchNeverAcceptsContentEncoding(t *testing.T) {
	data := testData(200<<10, 35)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(data)
	zw.Close()
	var encodings []string
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		encodings = append(encodings, r.Header.Get("Accept-Encoding"))
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(zipped.Bytes())
			return
		}
		serve(w, r, data, "")
	})
	// A caller's client with Go's transparent decompression enabled.
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	e := newEnv(t, func(c *Config) { c.Client = &http.Client{Transport: tr} })
	if _, err := e.d.Fetch(t.Context(), artifactFor(data, srv.url("a.apk")), e.dest, nil); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if diff := cmp.Diff([]string{"identity"}, encodings); diff != "" {
		t.Errorf("Accept-Encoding sent (-want +got):\n%s", diff)
	}
	checkDest(t, e.dest, data)
}
