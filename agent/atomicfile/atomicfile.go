// Package atomicfile replaces a file's content so that a crash at any moment
// leaves either the old content or the new, never a mix: the agent's
// directive, outbox, download metadata, prompt records and simulated device
// all write through it. Standard library only.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// TempPrefix starts the name of every temporary file Write creates, so a
// directory scan can skip them, or remove those a crash left behind.
const TempPrefix = ".tmp-"

// TempPattern is the filepath.Match pattern of the temporary files Write
// may leave next to path after a crash.
func TempPattern(path string) string {
	return filepath.Join(filepath.Dir(path), TempPrefix+filepath.Base(path)+"-*")
}

// Write replaces path's content with data: it writes a temporary file in
// the same directory, syncs it, renames it over path and syncs the
// directory. On any error path is untouched and the temporary file removed.
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(dir)
}

// SyncDir makes renames and removals in dir durable. File systems that
// cannot sync a directory are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
