//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package sim

import (
	"fmt"
	"runtime"
)

// lockFile needs flock(2), which this system does not offer through the
// syscall package; the simulator refuses to run rather than risk two
// processes writing the state at once.
func lockFile(path string) (func(), error) {
	return nil, fmt.Errorf("lock %s: flock is not available on %s", path, runtime.GOOS)
}
