package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sluice-mdm/sluice/agent/atomicfile"
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
	if err := atomicfile.Write(filepath.Join(dir, stateFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	return nil
}
