package download

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFetchResumesAfterCut(t *testing.T) {
	data := testData(3<<20+17, 1)
	const at = 1<<20 + 123
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			cut(t, w, data, at, `"v1"`)
			return
		}
		serve(w, r, data, `"v1"`)
	})
	e := newEnv(t, nil)
	got, err := e.d.Fetch(t.Context(), artifactFor(data, srv.url("app.apk")), e.dest, nil)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	want := Result{Path: e.dest, URL: srv.url("app.apk"), Transferred: int64(len(data)), Resumed: true, Attempts: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	wantReqs := []seen{{}, {Range: "bytes=1048699-", IfRange: `"v1"`}}
	if diff := cmp.Diff(wantReqs, srv.requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	checkDest(t, e.dest, data)
	if diff := cmp.Diff([]string(nil), e.files(t)); diff != "" {
		t.Errorf("partial dir after success (-want +got):\n%s", diff)
	}
	if got := e.sleep.count(); got != 0 {
		t.Errorf("slept %d times after a cut that made progress, want 0", got)
	}
}

// pauseAt returns a progress callback that cancels when at least n bytes
// are downloaded.
func pauseAt(cancel context.CancelFunc, n int64) func(Progress) {
	return func(p Progress) {
		if p.Downloaded >= n {
			cancel()
		}
	}
}

func TestFetchResumesAfterRestart(t *testing.T) {
	data := testData(2<<20, 2)
	const half = 1 << 20
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			stall(w, r, data, half, `"v1"`)
			return
		}
		serve(w, r, data, `"v1"`)
	})
	a := artifactFor(data, srv.url("app.apk"))
	first := newEnv(t, func(c *Config) { c.ProgressEvery = time.Nanosecond })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	res, err := first.d.Fetch(ctx, a, first.dest, pauseAt(cancel, half))
	var derr *Error
	if !errors.As(err, &derr) || derr.Code != CodeCancelled || !errors.Is(err, context.Canceled) {
		t.Fatalf("paused Fetch: got %v, want a CANCELLED *Error wrapping context.Canceled", err)
	}
	if diff := cmp.Diff(Result{URL: "", Transferred: half, Attempts: 1}, res); diff != "" {
		t.Errorf("paused result (-want +got):\n%s", diff)
	}
	m := first.readMeta(t, data)
	if diff := cmp.Diff([]any{int64(half), srv.url("app.apk"), `"v1"`}, []any{m.Durable, m.URL, m.ETag}); diff != "" {
		t.Errorf("metadata durable, url, etag (-want +got):\n%s", diff)
	}
	checkNoFile(t, first.dest)

	second := first.reopen(t, nil)
	got, err := second.d.Fetch(t.Context(), a, second.dest, nil)
	if err != nil {
		t.Fatalf("resumed Fetch: %v", err)
	}
	want := Result{Path: second.dest, URL: srv.url("app.apk"), Transferred: int64(len(data) - half), Resumed: true, Attempts: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resumed result (-want +got):\n%s", diff)
	}
	wantReqs := []seen{{}, {Range: "bytes=1048576-", IfRange: `"v1"`}}
	if diff := cmp.Diff(wantReqs, srv.requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	checkDest(t, second.dest, data)
}

func TestFetchFallsBackToMirror(t *testing.T) {
	data := testData(256<<10, 3)
	tests := []struct {
		name        string
		status      int
		wantPrimary int // requests the primary gets
		wantSleeps  int
	}{
		{name: "500 retried then mirror", status: 500, wantPrimary: 3, wantSleeps: 2},
		{name: "503 retried then mirror", status: 503, wantPrimary: 3, wantSleeps: 2},
		{name: "429 retried then mirror", status: 429, wantPrimary: 3, wantSleeps: 2},
		{name: "408 retried then mirror", status: 408, wantPrimary: 3, wantSleeps: 2},
		{name: "404 mirror at once", status: 404, wantPrimary: 1, wantSleeps: 0},
		{name: "403 mirror at once", status: 403, wantPrimary: 1, wantSleeps: 0},
		{name: "416 without a range, mirror at once", status: 416, wantPrimary: 1, wantSleeps: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			primary := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
				http.Error(w, "no", tt.status)
			})
			mirror := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r, data, "") })
			e := newEnv(t, func(c *Config) { c.MaxAttempts = 3 })
			got, err := e.d.Fetch(t.Context(), artifactFor(data, primary.url("a.apk"), mirror.url("a.apk")), e.dest, nil)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			want := Result{Path: e.dest, URL: mirror.url("a.apk"), Transferred: int64(len(data)), Attempts: tt.wantPrimary + 1}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantPrimary, len(primary.requests())); diff != "" {
				t.Errorf("primary requests (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSleeps, e.sleep.count()); diff != "" {
				t.Errorf("backoff waits (-want +got):\n%s", diff)
			}
			for i, w := range e.sleep.waits {
				base := 10 * time.Millisecond << i
				if w < base/2 || w > base {
					t.Errorf("wait %d is %s, want within [%s, %s]", i, w, base/2, base)
				}
			}
			checkDest(t, e.dest, data)
		})
	}
}

func TestFetchAllURLsFail(t *testing.T) {
	data := testData(64<<10, 4)
	primary := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 502) })
	mirror := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	e := newEnv(t, func(c *Config) { c.MaxAttempts = 2 })
	_, err := e.d.Fetch(t.Context(), artifactFor(data, primary.url("a.apk"), mirror.url("a.apk")), e.dest, nil)
	var derr *Error
	if !errors.As(err, &derr) {
		t.Fatalf("Fetch: got %v, want *Error", err)
	}
	if diff := cmp.Diff([]string{"HTTP_404", mirror.url("a.apk")}, []string{derr.Code, derr.URL}); diff != "" {
		t.Errorf("last failure (-want +got):\n%s", diff)
	}
	wantFailures := []string{"HTTP_502 " + primary.url("a.apk"), "HTTP_502 " + primary.url("a.apk"), "HTTP_404 " + mirror.url("a.apk")}
	if diff := cmp.Diff(wantFailures, e.log.failures(t)); diff != "" {
		t.Errorf("logged failures (-want +got):\n%s", diff)
	}
	checkNoFile(t, e.dest)
}

func TestFetchHonoursRetryAfter(t *testing.T) {
	data := testData(1000, 5)
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			w.Header().Set("Retry-After", "7")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		serve(w, r, data, "")
	})
	e := newEnv(t, func(c *Config) { c.MaxBackoff = 5 * time.Second })
	if _, err := e.d.Fetch(t.Context(), artifactFor(data, srv.url("a.apk")), e.dest, nil); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	// Retry-After (7 s) is capped at MaxBackoff.
	if diff := cmp.Diff([]time.Duration{5 * time.Second}, e.sleep.waits); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	checkDest(t, e.dest, data)
}

func TestFetchCorruptPrimaryUsesMirror(t *testing.T) {
	data := testData(700<<10, 6)
	bad := append([]byte(nil), data...)
	bad[len(bad)/2] ^= 0xff
	primary := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r, bad, `"p"`) })
	mirror := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r, data, `"m"`) })
	e := newEnv(t, nil)
	got, err := e.d.Fetch(t.Context(), artifactFor(data, primary.url("a.apk"), mirror.url("a.apk")), e.dest, nil)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	want := Result{Path: e.dest, URL: mirror.url("a.apk"), Transferred: 2 * int64(len(data)), Attempts: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"HASH_MISMATCH " + primary.url("a.apk")}, e.log.failures(t)); diff != "" {
		t.Errorf("logged failures (-want +got):\n%s", diff)
	}
	// The mirror is asked from zero: nothing of the corrupt file is kept.
	if diff := cmp.Diff([]seen{{}}, mirror.requests()); diff != "" {
		t.Errorf("mirror requests (-want +got):\n%s", diff)
	}
	checkDest(t, e.dest, data)
}

func TestFetchHashMismatchEverywhere(t *testing.T) {
	data := testData(300<<10, 7)
	bad := append([]byte(nil), data...)
	bad[0] ^= 1
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r, bad, "") })
	e := newEnv(t, nil)
	_, err := e.d.Fetch(t.Context(), artifactFor(data, srv.url("a.apk"), srv.url("b.apk")), e.dest, nil)
	var derr *Error
	if !errors.As(err, &derr) || !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("Fetch: got %v, want *Error wrapping ErrHashMismatch", err)
	}
	if diff := cmp.Diff([]string{CodeHashMismatch, srv.url("b.apk")}, []string{derr.Code, derr.URL}); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	checkNoFile(t, e.dest)
	if diff := cmp.Diff([]string(nil), e.files(t)); diff != "" {
		t.Errorf("partial dir after mismatches (-want +got):\n%s", diff)
	}
}

func TestFetchServerIgnoresRange(t *testing.T) {
	data := testData(1<<20, 8)
	const at = 300 << 10
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			cut(t, w, data, at, "")
			return
		}
		w.Write(data) // no Range support: always 200 with everything
	})
	e := newEnv(t, nil)
	got, err := e.d.Fetch(t.Context(), artifactFor(data, srv.url("a.apk")), e.dest, nil)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	want := Result{Path: e.dest, URL: srv.url("a.apk"), Transferred: at + int64(len(data)), Attempts: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]seen{{}, {Range: "bytes=307200-"}}, srv.requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	checkDest(t, e.dest, data)
}

func TestFetchIdleTimeoutRetries(t *testing.T) {
	data := testData(512<<10, 9)
	const at = 100 << 10
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			stall(w, r, data, at, `"x"`)
			return
		}
		serve(w, r, data, `"x"`)
	})
	e := newEnv(t, func(c *Config) { c.IdleTimeout = 150 * time.Millisecond })
	start := time.Now()
	got, err := e.d.Fetch(t.Context(), artifactFor(data, srv.url("a.apk")), e.dest, nil)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("Fetch took %s, less than the idle timeout", el)
	}
	want := Result{Path: e.dest, URL: srv.url("a.apk"), Transferred: int64(len(data)), Resumed: true, Attempts: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	recs := e.log.records(t, "download attempt failed")
	if len(recs) != 1 || recs[0]["code"] != CodeNetworkError {
		t.Fatalf("failure logs = %v, want one NETWORK_ERROR", recs)
	}
	if diff := cmp.Diff("download: no data received within the idle timeout (150ms)", recs[0]["err"]); diff != "" {
		t.Errorf("logged cause (-want +got):\n%s", diff)
	}
	checkDest(t, e.dest, data)
}

func TestFetchStorage(t *testing.T) {
	data := testData(1<<20, 10)
	size := int64(len(data))
	margin := int64(minStorageMargin) + size/storageMarginDiv
	tests := []struct {
		name     string
		free     int64
		wantCode string // "" for success
	}{
		{name: "nothing free", free: 0, wantCode: CodeInsufficientStorage},
		{name: "exactly the size, no margin", free: size, wantCode: CodeInsufficientStorage},
		{name: "one byte short of the margin", free: size + margin - 1, wantCode: CodeInsufficientStorage},
		{name: "size plus margin", free: size + margin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r, data, "") })
			var asked string
			e := newEnv(t, func(c *Config) {
				c.FreeSpace = func(dir string) (int64, error) { asked = dir; return tt.free, nil }
			})
			_, err := e.d.Fetch(t.Context(), artifactFor(data, srv.url("a.apk")), e.dest, nil)
			var code string
			if derr := (*Error)(nil); errors.As(err, &derr) {
				code = derr.Code
			} else if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if diff := cmp.Diff(tt.wantCode, code); diff != "" {
				t.Errorf("code (-want +got):\n%s", diff)
			}
			if asked != e.dir {
				t.Errorf("FreeSpace asked about %q, want %q", asked, e.dir)
			}
			wantReqs := 1
			if tt.wantCode != "" {
				wantReqs = 0
				if !errors.Is(err, ErrInsufficientStorage) {
					t.Errorf("error %v does not wrap ErrInsufficientStorage", err)
				}
			}
			if diff := cmp.Diff(wantReqs, len(srv.requests())); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string(nil), e.files(t)); diff != "" {
				t.Errorf("partial dir (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFetchSizeMismatch(t *testing.T) {
	data := testData(256<<10, 11)
	longer := append(append([]byte(nil), data...), testData(4<<20, 12)...)
	tests := []struct {
		name     string
		handle   func(w http.ResponseWriter, r *http.Request)
		wantCode string
	}{
		{
			name:     "Content-Length larger",
			handle:   func(w http.ResponseWriter, r *http.Request) { serve(w, r, longer, "") },
			wantCode: CodeSizeMismatch,
		},
		{
			name:     "Content-Length smaller",
			handle:   func(w http.ResponseWriter, r *http.Request) { serve(w, r, data[:1000], "") },
			wantCode: CodeSizeMismatch,
		},
		{
			// Chunked, no Content-Length: refused as soon as the size is
			// exceeded, long before the 4 MiB extra are read.
			name: "chunked body longer",
			handle: func(w http.ResponseWriter, r *http.Request) {
				rc := http.NewResponseController(w)
				for off := 0; off < len(longer); off += 64 << 10 {
					if _, err := w.Write(longer[off : off+64<<10]); err != nil {
						return
					}
					rc.Flush()
				}
			},
			wantCode: CodeSizeMismatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { tt.handle(w, r) })
			e := newEnv(t, nil)
			res, err := e.d.Fetch(t.Context(), artifactFor(data, srv.url("a.apk")), e.dest, nil)
			var derr *Error
			if !errors.As(err, &derr) || !errors.Is(err, ErrSizeMismatch) {
				t.Fatalf("Fetch: got %v, want *Error wrapping ErrSizeMismatch", err)
			}
			if diff := cmp.Diff(tt.wantCode, derr.Code); diff != "" {
				t.Errorf("code (-want +got):\n%s", diff)
			}
			if limit := int64(len(data)) + bufferSize; res.Transferred > limit {
				t.Errorf("transferred %d bytes, want at most %d", res.Transferred, limit)
			}
			if diff := cmp.Diff(1, len(srv.requests())); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			checkNoFile(t, e.dest)
		})
	}
}

func TestFetchConnectionRefusedUsesMirror(t *testing.T) {
	data := testData(100<<10, 13)
	// A port that was just free: nothing listens there any more.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/a.apk"
	l.Close()
	mirror := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r, data, "") })
	e := newEnv(t, func(c *Config) { c.MaxAttempts = 2 })
	got, err := e.d.Fetch(t.Context(), artifactFor(data, dead, mirror.url("a.apk")), e.dest, nil)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	want := Result{Path: e.dest, URL: mirror.url("a.apk"), Transferred: int64(len(data)), Attempts: 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"NETWORK_ERROR " + dead, "NETWORK_ERROR " + dead}, e.log.failures(t)); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(1, e.sleep.count()); diff != "" {
		t.Errorf("backoff waits (-want +got):\n%s", diff)
	}
	checkDest(t, e.dest, data)
}
