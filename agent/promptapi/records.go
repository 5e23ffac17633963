package promptapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sluice-mdm/sluice/agent/atomicfile"
	"os"
	"path/filepath"

	"github.com/sluice-mdm/sluice/agent/state"
)

// recordStore keeps the prompt records of every app in one JSON file,
// replaced atomically on every change. Callers hold Server.mu.
type recordStore struct {
	path string
	recs map[string]state.PromptRecord
}

const recordsFile = "prompts.json"

func openRecords(dir string) (*recordStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("promptapi: create %s: %w", dir, err)
	}
	st := &recordStore{path: filepath.Join(dir, recordsFile), recs: map[string]state.PromptRecord{}}
	b, err := os.ReadFile(st.path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("promptapi: read prompt records: %w", err)
	}
	if err := json.Unmarshal(b, &st.recs); err != nil {
		return nil, fmt.Errorf("promptapi: prompt records %s: %w", st.path, err)
	}
	return st, nil
}

func (st *recordStore) get(pkg string) state.PromptRecord { return st.recs[pkg] }

func (st *recordStore) put(pkg string, rec state.PromptRecord) error {
	next := make(map[string]state.PromptRecord, len(st.recs)+1)
	for k, v := range st.recs {
		next[k] = v
	}
	next[pkg] = rec
	b, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("promptapi: encode prompt records: %w", err)
	}
	if err := atomicfile.Write(st.path, b, 0o600); err != nil {
		return fmt.Errorf("promptapi: save prompt records: %w", err)
	}
	st.recs = next
	return nil
}
