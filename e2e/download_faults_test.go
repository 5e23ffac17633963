package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/agent/download"
	"github.com/sluice-mdm/sluice/agent/platform/sim"
	"github.com/sluice-mdm/sluice/internal/client"
	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/internal/testapk"
	"github.com/sluice-mdm/sluice/protocol"
)

// mirror is a download server the test controls: it serves one file with
// Range support, optionally throttled, corrupted or failing, and records
// every request and the bytes it wrote for it.
type mirror struct {
	data    []byte
	rate    int  // bytes per second; 0 is unthrottled
	fail    bool // answer 500
	corrupt bool // flip one byte in the middle

	mu       sync.Mutex
	requests []*mirrorRequest
	srv      *httptest.Server
}

// mirrorRequest is one request to a mirror.
type mirrorRequest struct {
	Range   string
	Written int64
	Done    bool
}

func newMirror(t *testing.T, m *mirror) *mirror {
	t.Helper()
	if m.corrupt {
		m.data = bytes.Clone(m.data)
		m.data[len(m.data)/2] ^= 0xff
	}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

// URL is where the mirror serves its file.
func (m *mirror) URL() string { return m.srv.URL + "/app.apk" }

func (m *mirror) serve(w http.ResponseWriter, r *http.Request) {
	req := &mirrorRequest{Range: r.Header.Get("Range")}
	m.mu.Lock()
	m.requests = append(m.requests, req)
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		req.Done = true
		m.mu.Unlock()
	}()
	if m.fail {
		http.Error(w, "mirror broken", http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(m.data)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	w.Header().Set("Content-Type", "application/vnd.android.package-archive")
	http.ServeContent(&countingWriter{ResponseWriter: w, m: m, req: req, ctx: r.Context()}, r, "app.apk", time.Time{}, bytes.NewReader(m.data))
}

// snapshot copies the requests made so far.
func (m *mirror) snapshot() []mirrorRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]mirrorRequest, len(m.requests))
	for i, r := range m.requests {
		out[i] = *r
	}
	return out
}

// countingWriter counts the body bytes written and, on a throttled
// mirror, writes at most rate bytes a second in twentieths of a second.
type countingWriter struct {
	http.ResponseWriter
	m   *mirror
	req *mirrorRequest
	ctx context.Context
}

func (c *countingWriter) Write(p []byte) (int, error) {
	chunk := len(p)
	if c.m.rate > 0 {
		chunk = max(c.m.rate/20, 1)
	}
	written := 0
	for written < len(p) {
		n, err := c.ResponseWriter.Write(p[written:min(len(p), written+chunk)])
		written += n
		c.m.mu.Lock()
		c.req.Written += int64(n)
		c.m.mu.Unlock()
		if err != nil {
			return written, err
		}
		if c.m.rate > 0 {
			if f, ok := c.ResponseWriter.(http.Flusher); ok {
				f.Flush()
			}
			select {
			case <-time.After(50 * time.Millisecond):
			case <-c.ctx.Done():
				return written, c.ctx.Err()
			}
		}
	}
	return written, nil
}

// releaseManifest is a Release manifest for a test APK served at urls.
func releaseManifest(t *testing.T, file string, urls ...string) string {
	t.Helper()
	a, ok := testapk.Lookup(file)
	if !ok {
		t.Fatalf("no test APK %s", file)
	}
	data, err := testapk.Files.ReadFile("files/" + file)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	q := make([]string, len(urls))
	for i, u := range urls {
		q[i] = strconv.Quote(u)
	}
	return fmt.Sprintf(`apiVersion: sluice.dev/v1
kind: Release
metadata: {name: %s}
spec:
  app: %s
  versionName: %s
  versionCode: %d
  publishedAt: 2026-05-01T09:00:00Z
  artifact:
    urls: [%s]
    sha256: %s
    size: %d
    signerSha256: [%s]
    minSdk: %d
---
`, file, a.Package, a.VersionName, a.VersionCode, strings.Join(q, ", "), hex.EncodeToString(sum[:]), len(data), testapk.Signer(a.Key), a.MinSDK)
}

// apkBytes reads a test APK.
func apkBytes(t *testing.T, file string) []byte {
	t.Helper()
	data, err := testapk.Files.ReadFile("files/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// installedSHA256 hashes the APK copy the sim device installed for pkg.
func installedSHA256(t *testing.T, d *sandbox.Device, pkg string) string {
	t.Helper()
	dev, err := sim.Open(d.SimDir(), sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := dev.InstalledPath(pkg)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

var transferredRE = regexp.MustCompile(`transferred=(\d+) resumed=(\w+)`)

// TestResumeAfterKilledDownload stops an agent in the middle of a 3 MiB
// download from a throttled mirror and starts it again: the download
// continues from the bytes kept on disk.
func TestResumeAfterKilledDownload(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	book := newLogBook(3000)
	book.dumpOnFailure(t)
	sys := startSystem(t, sandbox.Config{Logger: slogOf(book)})
	const file = "menu-5.1.0-large.apk"
	data := apkBytes(t, file)
	m := newMirror(t, &mirror{data: data, rate: 1 << 20})
	applyYAML(t, ctx, sys, map[string]string{
		"release.yaml": releaseManifest(t, file, m.URL()),
		"policy.yaml":  governed("menu-now", "shop=1", "app: com.example.menu\nmode: highPriority"),
	})
	d := startDevice(t, ctx, sys, sandbox.DeviceSpec{ID: "till-slow", Labels: map[string]string{"shop": "1"}, Installed: []string{"menu-4.3.3.apk"}})

	// Stop the agent once a third of the file went over the wire.
	waitFor(t, ctx, scenarioTimeout, "a third of the download", func() (bool, error) {
		rs := m.snapshot()
		return len(rs) == 1 && rs[0].Written >= int64(len(data))/3, fmt.Errorf("requests %+v", rs)
	})
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, scenarioTimeout, "the mirror to finish the cut request", func() (bool, error) {
		rs := m.snapshot()
		return len(rs) == 1 && rs[0].Done, fmt.Errorf("requests %+v", rs)
	})
	cut := m.snapshot()[0].Written
	if cut >= int64(len(data)) {
		t.Fatalf("the first request delivered the whole file (%d bytes) before the agent stopped", cut)
	}
	if got := installed(t, ctx, d)[menuApp]; got != "4.3.3" {
		t.Fatalf("menu %s installed after a cut download", got)
	}

	if err := d.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, ctx, d, menuApp, "5.1.0")
	rs := m.snapshot()
	if len(rs) != 2 {
		t.Fatalf("mirror requests %+v; want the cut one and one resume", rs)
	}
	var from int64
	if _, err := fmt.Sscanf(rs[1].Range, "bytes=%d-", &from); err != nil {
		t.Fatalf("the second request asked for Range %q; want bytes=N-", rs[1].Range)
	}
	total := rs[0].Written + rs[1].Written
	again := total - int64(len(data))
	t.Logf("download cut at %d of %d bytes; resumed from byte %d; %d bytes fetched twice", cut, len(data), from, again)
	if from <= 0 || from > cut || cut-from > 256<<10 {
		t.Errorf("resumed from byte %d after %d bytes were sent; want at most 256 KiB before the cut", from, cut)
	}
	if diff := cmp.Diff(int64(len(data))-from, rs[1].Written); diff != "" {
		t.Errorf("bytes sent for the resume (-want +got):\n%s", diff)
	}

	// The downloader's own account: resumed, only the rest transferred.
	var logged []string
	for _, l := range book.Lines() {
		if mm := transferredRE.FindStringSubmatch(l); mm != nil && containsAll(l, `"download complete"`, "device_id=till-slow") {
			logged = append(logged, mm[1]+" "+mm[2])
		}
	}
	if diff := cmp.Diff([]string{fmt.Sprintf("%d true", rs[1].Written)}, logged); diff != "" {
		t.Errorf("downloader results (transferred resumed) (-want +got):\n%s", diff)
	}
	evs := waitEvents(t, ctx, sys, d.ID(), map[string]int{menuApp + " InstallResult": 1})
	want := oneInstall(menuApp)
	want[menuApp+" DownloadStart"] = 2
	if diff := cmp.Diff(want, installEvents(evs, menuApp)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sha256Hex(data), installedSHA256(t, d, menuApp)); diff != "" {
		t.Errorf("installed APK (-want +got):\n%s", diff)
	}
	waitDecision(t, ctx, sys, d, menuApp, "none [UP_TO_DATE]")
}

// TestMirrorFallback: a primary URL that answers 500, and one that serves
// a corrupted file, both fall back to the controller's /artifacts mirror;
// the corrupted bytes are never installed.
func TestMirrorFallback(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys := startSystem(t, sandbox.Config{})
	// The controller keeps the APKs it was given; the releases are then
	// re-declared with a broken primary URL in front of its mirror.
	for _, f := range []string{"menu-5.0.0.apk", "pos-2.0.0.apk"} {
		rel := pushReleases(t, ctx, sys, f)[f]
		if _, err := sys.Client().Delete(ctx, client.Kind("releases"), fmt.Sprintf("%s.%d", rel.App, rel.VersionCode), 0); err != nil {
			t.Fatal(err)
		}
	}
	broken := newMirror(t, &mirror{fail: true})
	corrupt := newMirror(t, &mirror{data: apkBytes(t, "pos-2.0.0.apk"), corrupt: true})
	artifact := func(f string) string { return sys.HTTPURL() + "/artifacts/" + sha256Hex(apkBytes(t, f)) }
	applyYAML(t, ctx, sys, map[string]string{
		"releases.yaml": releaseManifest(t, "menu-5.0.0.apk", broken.URL(), artifact("menu-5.0.0.apk")) +
			releaseManifest(t, "pos-2.0.0.apk", corrupt.URL(), artifact("pos-2.0.0.apk")),
		"menu.yaml": governed("menu-now", "shop=1", "app: com.example.menu\nmode: highPriority"),
		"pos.yaml":  governed("pos-now", "shop=1", "app: com.example.pos\nmode: highPriority"),
	})
	labels := map[string]string{"shop": "1"}
	menuDev := startDevice(t, ctx, sys, sandbox.DeviceSpec{ID: "till-menu", Labels: labels, Installed: []string{"menu-4.3.3.apk"}})
	posDev := startDevice(t, ctx, sys, sandbox.DeviceSpec{ID: "till-pos", Labels: labels, Installed: []string{"pos-1.0.0.apk"}})

	for _, tc := range []struct {
		dev     *sandbox.Device
		app     string
		file    string
		primary *mirror
	}{
		{dev: menuDev, app: menuApp, file: "menu-5.0.0.apk", primary: broken},
		{dev: posDev, app: posApp, file: "pos-2.0.0.apk", primary: corrupt},
	} {
		a, _ := testapk.Lookup(tc.file)
		waitVersion(t, ctx, tc.dev, tc.app, a.VersionName)
		waitDecision(t, ctx, sys, tc.dev, tc.app, "none [UP_TO_DATE]")
		if diff := cmp.Diff(sha256Hex(apkBytes(t, tc.file)), installedSHA256(t, tc.dev, tc.app)); diff != "" {
			t.Errorf("%s installed APK (-want +got):\n%s", tc.dev.ID(), diff)
		}
		evs := waitEvents(t, ctx, sys, tc.dev.ID(), map[string]int{tc.app + " InstallResult": 1})
		if diff := cmp.Diff(oneInstall(tc.app), installEvents(evs, tc.app)); diff != "" {
			t.Errorf("%s events (-want +got):\n%s", tc.dev.ID(), diff)
		}
		for _, e := range eventsNamed(evs, tc.app, protocol.EventDownloadComplete) {
			if diff := cmp.Diff(artifact(tc.file), e.Params[protocol.ParamDownloadURL]); diff != "" {
				t.Errorf("%s downloaded from (-want +got):\n%s", tc.dev.ID(), diff)
			}
		}
		for _, e := range eventsNamed(evs, tc.app, protocol.EventInstallResult) {
			if e.Params[protocol.ParamSuccess] != "true" {
				t.Errorf("%s InstallResult %v", tc.dev.ID(), e.Params)
			}
		}
	}
	// The broken primary was retried, then given up; the corrupted one sent
	// its whole file once, which was thrown away.
	if diff := cmp.Diff(download.DefaultMaxAttempts, len(broken.snapshot())); diff != "" {
		t.Errorf("requests to the failing primary (-want +got):\n%s", diff)
	}
	rs := corrupt.snapshot()
	if len(rs) != 1 || rs[0].Written != int64(len(corrupt.data)) {
		t.Errorf("requests to the corrupting primary: %+v; want one that sent all %d bytes", rs, len(corrupt.data))
	}
}

// sha256Hex is the lowercase hex SHA-256 of data.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

var _ io.Writer = (*countingWriter)(nil)
