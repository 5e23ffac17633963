package download

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFetchProgressOnThrottledServer(t *testing.T) {
	data := testData(768<<10, 40)
	const (
		chunk = 16 << 10
		pace  = 10 * time.Millisecond // about 1.6 MB/s
		every = 100 * time.Millisecond
	)
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		rc := http.NewResponseController(w)
		for off := 0; off < len(data); off += chunk {
			if _, err := w.Write(data[off : off+chunk]); err != nil {
				return
			}
			rc.Flush()
			time.Sleep(pace)
		}
	})
	type report struct {
		Progress
		at time.Time
	}
	var (
		mu      sync.Mutex
		reports []report
	)
	e := newEnv(t, func(c *Config) { c.ProgressEvery = every })
	start := time.Now()
	res, err := e.d.Fetch(t.Context(), artifactFor(data, srv.url("a.apk")), e.dest, func(p Progress) {
		mu.Lock()
		reports = append(reports, report{p, time.Now()})
		mu.Unlock()
	})
	finish := time.Now()
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	checkDest(t, e.dest, data)
	avg := float64(len(data)) / finish.Sub(start).Seconds()
	if res.Transferred != int64(len(data)) {
		t.Errorf("transferred %d, want %d", res.Transferred, len(data))
	}

	if len(reports) < 3 {
		t.Fatalf("got %d progress reports over %s at most every %s, want at least 3", len(reports), finish.Sub(start), every)
	}
	last := reports[len(reports)-1]
	if diff := cmp.Diff(Progress{Downloaded: int64(len(data)), Total: int64(len(data)), URL: srv.url("a.apk")},
		Progress{Downloaded: last.Downloaded, Total: last.Total, Remaining: last.Remaining, URL: last.URL}); diff != "" {
		t.Errorf("final report (-want +got):\n%s", diff)
	}
	if last.BytesPerSecond < avg*0.8 || last.BytesPerSecond > avg*1.25 {
		t.Errorf("final speed %.0f B/s, want the call's average %.0f B/s", last.BytesPerSecond, avg)
	}
	mid := reports[:len(reports)-1]
	prev := start
	var prevDownloaded int64
	for i, r := range mid {
		// A little slack: the meter reads its clock just before the
		// callback does.
		if gap := r.at.Sub(prev); gap < every-5*time.Millisecond {
			t.Errorf("report %d came %s after the previous one, want at least %s", i, gap, every)
		}
		if r.Downloaded < prevDownloaded || r.Downloaded >= int64(len(data)) || r.Total != int64(len(data)) {
			t.Errorf("report %d: downloaded %d of %d after %d", i, r.Downloaded, r.Total, prevDownloaded)
		}
		if r.BytesPerSecond < avg/4 || r.BytesPerSecond > avg*4 {
			t.Errorf("report %d: speed %.0f B/s, want near the average %.0f B/s", i, r.BytesPerSecond, avg)
		}
		actual := finish.Sub(r.at)
		if r.Remaining < actual/4-100*time.Millisecond || r.Remaining > actual*4+100*time.Millisecond {
			t.Errorf("report %d: remaining %s, the download actually needed %s more", i, r.Remaining, actual)
		}
		prev, prevDownloaded = r.at, r.Downloaded
	}
}

func TestMeterWithInjectedClock(t *testing.T) {
	now := time.Date(2026, 5, 2, 10, 0, 0, 0, time.UTC)
	var got []Progress
	m := newMeter(func(p Progress) { got = append(got, p) }, func() time.Time { return now }, time.Second)
	step := func(d time.Duration, downloaded, transferred int64) {
		now = now.Add(d)
		m.update(downloaded, 1000, transferred, "u")
	}
	step(500*time.Millisecond, 50, 50)   // too early: nothing
	step(500*time.Millisecond, 100, 100) // 100 B/s over the first second
	step(200*time.Millisecond, 150, 150) // too early
	step(800*time.Millisecond, 400, 400) // 300 B/s this second, smoothed to 200
	now = now.Add(time.Second)
	m.done(1000, 1000, "u")
	want := []Progress{
		{Downloaded: 100, Total: 1000, BytesPerSecond: 100, Remaining: 9 * time.Second, URL: "u"},
		{Downloaded: 400, Total: 1000, BytesPerSecond: 200, Remaining: 3 * time.Second, URL: "u"},
		{Downloaded: 1000, Total: 1000, BytesPerSecond: 1000.0 / 3, URL: "u"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}
}
