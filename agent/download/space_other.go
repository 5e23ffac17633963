//go:build !linux

package download

// defaultFreeSpace is nil where no free-space probe is built in: Fetch then
// checks free space only when Config.FreeSpace is set.
var defaultFreeSpace func(dir string) (int64, error)
