package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Bar renders one line of progress: `[=====>     ]  45%  12.3 MB/s  7s left`.
// On a terminal the line is redrawn in place; elsewhere (logs, CI) a plain
// line is printed at most once per Every.
type Bar struct {
	W        io.Writer
	Label    string
	Width    int           // cells of the bar; 30 if 0
	Terminal bool          // redraw in place with \r
	Every    time.Duration // non-terminal print interval; 5s if 0
	Now      func() time.Time

	last time.Time
}

// Update draws done of total bytes at the given speed (bytes/s) and time
// left. total 0 means unknown.
func (b *Bar) Update(done, total int64, speed float64, left time.Duration) {
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	t := now()
	if !b.Terminal {
		every := b.Every
		if every == 0 {
			every = 5 * time.Second
		}
		if !b.last.IsZero() && t.Sub(b.last) < every && done != total {
			return
		}
	}
	b.last = t
	line := b.Render(done, total, speed, left)
	if b.Terminal {
		fmt.Fprintf(b.W, "\r%s\x1b[K", line)
		if total > 0 && done >= total {
			fmt.Fprintln(b.W)
		}
		return
	}
	fmt.Fprintln(b.W, line)
}

// Render returns the progress line without drawing it.
func (b *Bar) Render(done, total int64, speed float64, left time.Duration) string {
	width := b.Width
	if width <= 0 {
		width = 30
	}
	var sb strings.Builder
	if b.Label != "" {
		sb.WriteString(b.Label)
		sb.WriteByte(' ')
	}
	frac := 0.0
	if total > 0 {
		frac = float64(done) / float64(total)
		if frac > 1 {
			frac = 1
		}
	}
	filled := int(frac * float64(width))
	sb.WriteByte('[')
	for i := 0; i < width; i++ {
		switch {
		case i < filled:
			sb.WriteByte('=')
		case i == filled && frac < 1:
			sb.WriteByte('>')
		default:
			sb.WriteByte(' ')
		}
	}
	sb.WriteByte(']')
	if total > 0 {
		fmt.Fprintf(&sb, " %3.0f%%  %s/%s", frac*100, Bytes(done), Bytes(total))
	} else {
		fmt.Fprintf(&sb, " %s", Bytes(done))
	}
	if speed > 0 {
		fmt.Fprintf(&sb, "  %s/s", Bytes(int64(speed)))
	}
	if left > 0 {
		fmt.Fprintf(&sb, "  %s left", left.Round(time.Second))
	}
	return sb.String()
}

// Bytes formats n with a binary unit: 512 B, 1.5 KiB, 12.3 MiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
