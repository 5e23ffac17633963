package sandbox

import (
	"runtime"
	"strings"
)

// knownLibraryLeaks are frames of goroutines that a dependency leaves parked
// for ever, which no Close of Sluice's can end. Leak checks leave them out.
//
//   - nats.go v1.55.0, jetstream (*jetStream).resetPendingAcksOnReconnect:
//     every ObjectStore.Put makes its own JetStream context, whose first
//     async publish starts this goroutine; Put's deferred cleanupReplySub
//     clears the status channel the goroutine has yet to read, and when the
//     cleanup wins that race the goroutine receives from a nil channel for
//     ever. At most one per uploaded APK.
var knownLibraryLeaks = []string{
	"nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect",
}

// Goroutines returns how many goroutines are alive, not counting those
// parked in a known library leak, and the stacks of all of them for a
// failure message. Tests compare the count before Start and after Close.
func Goroutines() (n int, stacks string) {
	buf := make([]byte, 1<<20)
	for {
		m := runtime.Stack(buf, true)
		if m < len(buf) {
			buf = buf[:m]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	stacks = string(buf)
	return countLive(stacks), stacks
}

// countLive counts the goroutines of a runtime.Stack dump that are not
// parked in a known library leak.
func countLive(stacks string) (n int) {
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.TrimSpace(g) == "" {
			continue
		}
		known := false
		for _, frame := range knownLibraryLeaks {
			if strings.Contains(g, frame) {
				known = true
				break
			}
		}
		if !known {
			n++
		}
	}
	return n
}
