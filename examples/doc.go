// Package examples holds no code: its tests keep the example manifests in
// this directory loadable, valid and meaning what their comments say. The
// release manifests in releases/ are generated from the project's own
// signed test APKs (internal/testapk); run
// `go test ./examples -run Releases -update` after rebuilding those.
package examples
