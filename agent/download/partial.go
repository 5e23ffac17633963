package download

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sluice-mdm/sluice/agent/atomicfile"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// metaVersion is the version of the metadata file format.
const metaVersion = 1

// meta is the JSON metadata kept next to a partial file. It is rewritten
// atomically (temporary file, fsync, rename) after the partial file itself
// has been synced, so Durable never counts bytes that are not on disk.
type meta struct {
	Version      int    `json:"version"`
	SHA256       string `json:"sha256"`
	Size         int64  `json:"size"`
	URL          string `json:"url,omitempty"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	// Durable is how many bytes at the start of the partial file are synced.
	Durable int64 `json:"durable"`
	// HashState is the marshalled SHA-256 state over exactly the first
	// Durable bytes. On resume the bytes are hashed again and must agree
	// with it: a partial damaged on disk starts over.
	HashState []byte    `json:"hashState"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// partial is an open partial file with its running hash.
type partial struct {
	dir     string
	key     string
	size    int64
	f       *os.File
	h       hash.Hash
	offset  int64 // bytes written and hashed
	url     string
	etag    string
	lastMod string
	// mixed is set when the bytes written so far may come from more than
	// one response source (an earlier Fetch, or another URL): a hash
	// mismatch then cannot be blamed on the current URL alone.
	mixed bool
}

func partPath(dir, key string) string { return filepath.Join(dir, key+".part") }
func metaPath(dir, key string) string { return filepath.Join(dir, key+".json") }

// openPartial opens (or creates) the partial file of key and restores its
// state from the metadata. Metadata that is missing, unreadable or does not
// describe this artifact starts the partial over from zero; so does a
// partial file shorter than the metadata claims. Bytes past the durable
// length (written after the last checkpoint) are cut off.
func openPartial(dir, key string, size int64, buf []byte) (*partial, string, error) {
	removeTemps(dir, key)
	p := &partial{dir: dir, key: key, size: size, h: sha256.New()}
	// Readable by all: the verified file becomes the APK an installer
	// running as another user may need to read.
	f, err := os.OpenFile(partPath(dir, key), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, "", fmt.Errorf("open partial file: %w", err)
	}
	p.f = f
	why := p.restore(buf)
	if why != "" {
		if err := p.reset(); err != nil {
			f.Close()
			return nil, "", err
		}
		return p, why, nil
	}
	if err := f.Truncate(p.offset); err != nil {
		f.Close()
		return nil, "", fmt.Errorf("truncate partial file: %w", err)
	}
	p.mixed = p.offset > 0
	return p, "", nil
}

// restore loads the metadata into p and re-hashes the durable bytes (with
// buf as the read buffer). It returns why the partial cannot be
// used, or "" when it can (including when there is no partial at all).
func (p *partial) restore(buf []byte) string {
	data, err := os.ReadFile(metaPath(p.dir, p.key))
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		return "metadata unreadable: " + err.Error()
	}
	var m meta
	if err := json.Unmarshal(data, &m); err != nil {
		return "metadata is not valid JSON: " + err.Error()
	}
	switch {
	case m.Version != metaVersion:
		return fmt.Sprintf("metadata version %d is not %d", m.Version, metaVersion)
	case m.SHA256 != p.key:
		return fmt.Sprintf("metadata is for sha256 %s", m.SHA256)
	case m.Size != p.size:
		return fmt.Sprintf("metadata expects %d bytes, the artifact has %d", m.Size, p.size)
	case m.Durable < 0 || m.Durable > p.size:
		return fmt.Sprintf("metadata durable length %d is outside 0..%d", m.Durable, p.size)
	}
	st, err := p.f.Stat()
	if err != nil {
		return "partial file unreadable: " + err.Error()
	}
	if st.Size() < m.Durable {
		return fmt.Sprintf("partial file has %d bytes, metadata says %d are durable", st.Size(), m.Durable)
	}
	// Re-hash the durable bytes: the file, not the metadata, is what will
	// be installed. The recorded hash state must agree with it.
	saved := sha256.New()
	if err := saved.(encoding.BinaryUnmarshaler).UnmarshalBinary(m.HashState); err != nil {
		return "hash state unusable: " + err.Error()
	}
	if _, err := io.CopyBuffer(p.h, io.NewSectionReader(p.f, 0, m.Durable), buf); err != nil {
		p.h.Reset()
		return "partial file unreadable: " + err.Error()
	}
	if got, want := hex.EncodeToString(p.h.Sum(nil)), hex.EncodeToString(saved.Sum(nil)); got != want {
		p.h.Reset()
		return fmt.Sprintf("partial file changed on disk: its %d bytes hash to %s, recorded %s", m.Durable, got, want)
	}
	p.offset = m.Durable
	p.url, p.etag, p.lastMod = m.URL, m.ETag, m.LastModified
	return ""
}

// reset empties the partial file and its hash: the download starts over.
func (p *partial) reset() error {
	if err := p.f.Truncate(0); err != nil {
		return fmt.Errorf("truncate partial file: %w", err)
	}
	p.h.Reset()
	p.offset = 0
	p.url, p.etag, p.lastMod = "", "", ""
	p.mixed = false
	return nil
}

// checkpoint syncs the partial file and then records its state in the
// metadata file, atomically.
func (p *partial) checkpoint(now time.Time) error {
	if err := p.f.Sync(); err != nil {
		return fmt.Errorf("sync partial file: %w", err)
	}
	state, err := p.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return fmt.Errorf("marshal hash state: %w", err)
	}
	m := meta{
		Version: metaVersion, SHA256: p.key, Size: p.size,
		URL: p.url, ETag: p.etag, LastModified: p.lastMod,
		Durable: p.offset, HashState: state, UpdatedAt: now.UTC(),
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("marshal metadata: %w", err)
	}
	return atomicfile.Write(metaPath(p.dir, p.key), data, 0o600)
}

// sum returns the hex SHA-256 of the bytes written so far.
func (p *partial) sum() string {
	return hex.EncodeToString(p.h.Sum(nil))
}

// remove closes and deletes the partial file and its metadata.
func (p *partial) remove() error {
	p.f.Close()
	return removeFiles(p.dir, p.key)
}

// close closes the partial file, keeping it.
func (p *partial) close() error { return p.f.Close() }

// move renames the verified partial file to dest; a dest on another file
// system is copied, then renamed. The partial file stays open, so that if
// the move fails it can still be checkpointed. Like curl or a browser, it
// does not fsync the file: whoever uses dest verifies it again, and a power
// cut before write-back costs a new download, never a wrong file.
func (p *partial) move(dest string) error {
	src := partPath(p.dir, p.key)
	if err := os.Rename(src, dest); err != nil {
		if !errors.Is(err, syscall.EXDEV) {
			return fmt.Errorf("move to %s: %w", dest, err)
		}
		if err := copyFile(src, dest); err != nil {
			return err
		}
	}
	return nil
}

// cleanup closes the moved partial and removes its metadata.
func (p *partial) cleanup(dest string) error {
	p.f.Close()
	if err := atomicfile.SyncDir(filepath.Dir(dest)); err != nil {
		return err
	}
	return removeFiles(p.dir, p.key)
}

// copyFile copies src to a temporary file next to dest and renames it to
// dest.
func copyFile(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy to %s: %w", dest, err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dest), filepath.Base(dest)+".*.tmp")
	if err != nil {
		return fmt.Errorf("copy to %s: %w", dest, err)
	}
	_, cerr := io.Copy(tmp, in)
	if err := tmp.Close(); cerr == nil {
		cerr = err
	}
	if cerr == nil {
		cerr = os.Rename(tmp.Name(), dest)
	}
	if cerr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("copy to %s: %w", dest, cerr)
	}
	return nil
}

// verifyFile reports whether name exists with exactly size bytes whose
// SHA-256 is sum. A missing file is not an error.
func verifyFile(name string, size int64, sum string, buf []byte) (bool, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("check %s: %w", name, err)
	}
	if !st.Mode().IsRegular() || st.Size() != size {
		return false, nil
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf); err != nil {
		return false, fmt.Errorf("check %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == sum, nil
}

// removeFiles deletes the partial file and metadata of key; missing files
// are not an error.
func removeFiles(dir, key string) error {
	var errs []error
	for _, name := range []string{metaPath(dir, key), partPath(dir, key)} {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	removeTemps(dir, key)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove partial: %w", err)
	}
	return atomicfile.SyncDir(dir)
}

// removeTemps deletes metadata temporary files a crash may have left.
func removeTemps(dir, key string) {
	names, _ := filepath.Glob(atomicfile.TempPattern(metaPath(dir, key)))
	for _, n := range names {
		os.Remove(n)
	}
}
