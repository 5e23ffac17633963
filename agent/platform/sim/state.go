package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// stateVersion is the version of state.json this package writes.
const stateVersion = 1

// state is the content of state.json.
type state struct {
	Version     int    `json:"version"`
	SDK         int    `json:"sdk"`
	TimeZone    string `json:"timeZone"`
	Unmetered   bool   `json:"unmetered"`
	Charging    bool   `json:"charging"`
	Idle        bool   `json:"idle"`
	Foreground  string `json:"foreground,omitempty"`
	FreeStorage int64  `json:"freeStorage"`
	// Installs counts installations, to name each installed copy's
	// directory uniquely.
	Installs int64                `json:"installs"`
	Packages map[string]installed `json:"packages"`
}

// installed is one row of the installed-packages database.
type installed struct {
	VersionName  string    `json:"versionName"`
	VersionCode  int64     `json:"versionCode"`
	SignerSHA256 []string  `json:"signerSha256"`
	UpdatedAt    time.Time `json:"updatedAt"`
	// Path is the installed base.apk copy, relative to the device dir.
	Path string `json:"path"`
	Size int64  `json:"size"`
}

const (
	stateFile = "state.json"
	lockName  = "state.lock"
)

// readState reads dir's state.json; ok is false when there is none yet.
func readState(dir string) (st state, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("sim: read state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, false, fmt.Errorf("sim: read state %s: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Version != stateVersion {
		return st, false, fmt.Errorf("sim: read state %s: version %d is not supported; want %d", filepath.Join(dir, stateFile), st.Version, stateVersion)
	}
	if st.Packages == nil {
		st.Packages = map[string]installed{}
	}
	return st, true, nil
}

// writeState replaces dir's state.json atomically. The caller holds the lock.
func writeState(dir string, st state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("sim: write state: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), append(b, '\n'))
}

// writeFileAtomic writes data to a temporary file in path's directory,
// syncs it and renames it over path.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("sim: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("sim: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sim: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sim: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("sim: write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sim: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sim: sync %s: %w", dir, err)
	}
	return nil
}
