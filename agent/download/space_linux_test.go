//go:build linux

package download

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
)

func TestStatfsFree(t *testing.T) {
	free, err := statfsFree(t.TempDir())
	if err != nil || free <= 0 {
		t.Fatalf("statfsFree(temp dir) = %d, %v; want a positive byte count", free, err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := statfsFree(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("statfsFree(%s): got %v, want fs.ErrNotExist", missing, err)
	}
}
