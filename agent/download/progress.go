package download

import "time"

// Progress describes a running download.
type Progress struct {
	// Downloaded counts the bytes of the artifact on disk, including those
	// of a resumed partial; Total is the artifact's size.
	Downloaded, Total int64
	// BytesPerSecond is the recent transfer rate, smoothed; zero until
	// known.
	BytesPerSecond float64
	// Remaining is the estimated time to completion at BytesPerSecond; zero
	// when done or not yet known.
	Remaining time.Duration
	// URL is the URL being fetched.
	URL string
}

// meter rate-limits progress callbacks and estimates speed.
type meter struct {
	fn    func(Progress)
	now   func() time.Time
	every time.Duration
	start time.Time
	last  time.Time // time of the last callback (or start)
	mark  int64     // transferred at last
	rate  float64
}

func newMeter(fn func(Progress), now func() time.Time, every time.Duration) *meter {
	m := &meter{fn: fn, now: now, every: every}
	if fn != nil {
		m.start = now()
		m.last = m.start
	}
	return m
}

// smoothing weighs the newest interval's rate against the previous
// estimate.
const smoothing = 0.5

// update reports progress if at least every has passed since the last
// report.
func (m *meter) update(downloaded, total, transferred int64, url string) {
	if m.fn == nil {
		return
	}
	now := m.now()
	elapsed := now.Sub(m.last)
	if elapsed < m.every {
		return
	}
	window := float64(transferred-m.mark) / elapsed.Seconds()
	if m.rate == 0 {
		m.rate = window
	} else {
		m.rate = smoothing*window + (1-smoothing)*m.rate
	}
	m.last, m.mark = now, transferred
	var remaining time.Duration
	if m.rate > 0 {
		remaining = time.Duration(float64(total-downloaded) / m.rate * float64(time.Second))
	}
	m.fn(Progress{Downloaded: downloaded, Total: total, BytesPerSecond: m.rate, Remaining: remaining, URL: url})
}

// done sends the final report, with the average rate of the whole call.
func (m *meter) done(total, transferred int64, url string) {
	if m.fn == nil {
		return
	}
	var rate float64
	if elapsed := m.now().Sub(m.start); elapsed > 0 {
		rate = float64(transferred) / elapsed.Seconds()
	}
	m.fn(Progress{Downloaded: total, Total: total, BytesPerSecond: rate, URL: url})
}
