// Package examples holds the example manifests and, in FS, embeds them so
// that a binary (`sluice demo`) carries them; its tests keep them
// loadable, valid and meaning what their comments say. The release
// manifests in releases/ are generated from the project's own signed test
// APKs (internal/testapk); run `go test ./examples -run Releases -update`
// after rebuilding those.
package examples
