package controller

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

// artifactCacheDir is where, under the data dir, verified copies of
// stored APKs are kept for Range requests; APKs being admitted wait in
// "tmp".
const artifactCacheDir = "artifact-cache"

// handler is the controller's HTTP interface: the API (see API.md), which
// also serves /artifacts, /healthz, /readyz and /metrics.
func (s *Server) handler(store *Store, rec *Reconciler, metrics *Metrics, publicURL string) (http.Handler, error) {
	artifacts, err := NewArtifactHandler(ArtifactHandlerConfig{
		Source:   store,
		CacheDir: filepath.Join(s.cfg.DataDir, artifactCacheDir),
		Logger:   s.log,
	})
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(s.cfg.DataDir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("controller: server: %w", err)
	}
	api, err := NewAPI(APIConfig{
		Store:     store,
		Decider:   rec,
		Artifacts: artifacts,
		Metrics:   metrics,
		PublicURL: publicURL,
		TempDir:   tmp,
		Logger:    s.log,
		Now:       s.cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	return api.Handler(), nil
}
