//go:build !linux

package android

import (
	"fmt"
	"runtime"
)

// freeBytes is only implemented for Linux kernels (Android is one); the
// android platform has no meaning elsewhere.
func freeBytes(dir string) (int64, error) {
	return 0, fmt.Errorf("free storage of %s: statfs is not wired up on %s", dir, runtime.GOOS)
}
