package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// KindArtifact names APKs in the object store in errors.
const KindArtifact Kind = "artifact"

// ArtifactInfo describes a stored APK.
type ArtifactInfo struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// ModTime is when the artifact was stored.
	ModTime time.Time `json:"modTime"`
}

func artifactInfo(sha string, oi *jetstream.ObjectInfo) ArtifactInfo {
	return ArtifactInfo{SHA256: sha, Size: int64(oi.Size), ModTime: oi.ModTime.UTC()}
}

func checkArtifactSHA(sha string) error {
	if !isSHA256Hex(sha) {
		return &ValidationError{Kind: string(KindArtifact), Field: "sha256", Value: sha, Allowed: "64 lowercase hex digits"}
	}
	return nil
}

// artifactLocks serializes puts of the same digest within one process, so
// that concurrent uploads of one APK do not leave orphaned chunks.
type artifactLocks struct {
	mu    sync.Mutex
	locks map[string]*artifactLock
}

type artifactLock struct {
	mu   sync.Mutex
	refs int
}

func (l *artifactLocks) lock(sha string) func() {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = make(map[string]*artifactLock)
	}
	k := l.locks[sha]
	if k == nil {
		k = &artifactLock{}
		l.locks[sha] = k
	}
	k.refs++
	l.mu.Unlock()
	k.mu.Lock()
	return func() {
		k.mu.Unlock()
		l.mu.Lock()
		if k.refs--; k.refs == 0 {
			delete(l.locks, sha)
		}
		l.mu.Unlock()
	}
}

// PutArtifact stores the APK read from r under its SHA-256, verifying the
// digest while storing: content whose digest is not sha is refused with a
// *DigestError (errors.Is ErrDigestMismatch) and nothing is kept. If the
// artifact is already stored, r is not read and the stored one is returned.
func (s *Store) PutArtifact(ctx context.Context, sha string, r io.Reader) (ArtifactInfo, error) {
	if err := checkArtifactSHA(sha); err != nil {
		return ArtifactInfo{}, err
	}
	unlock := s.artifactLocks.lock(sha)
	defer unlock()
	if oi, err := s.objects.GetInfo(ctx, sha); err == nil {
		return artifactInfo(sha, oi), nil
	} else if !errors.Is(err, jetstream.ErrObjectNotFound) {
		return ArtifactInfo{}, fmt.Errorf("controller: put artifact %s: %w", sha, err)
	}
	vr := &verifyingReader{r: r, h: sha256.New(), want: sha}
	oi, err := s.objects.Put(ctx, jetstream.ObjectMeta{Name: sha, Description: "APK"}, vr)
	if err != nil {
		var de *DigestError
		if errors.As(err, &de) {
			return ArtifactInfo{}, fmt.Errorf("controller: put artifact %s: nothing stored: %w", sha, de)
		}
		return ArtifactInfo{}, fmt.Errorf("controller: put artifact %s: %w", sha, err)
	}
	// Put sets an approximate time; the stored one comes from the server.
	if stored, err := s.objects.GetInfo(ctx, sha); err == nil {
		oi = stored
	}
	return artifactInfo(sha, oi), nil
}

// verifyingReader hashes what it reads and, at the end, fails instead of
// returning io.EOF when the digest is wrong, which makes the object store
// drop the chunks already written.
type verifyingReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	want string
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return 0, &DigestError{Want: v.want, Got: got, Size: v.n}
		}
	}
	return n, err
}

// ArtifactInfo describes the stored artifact, or returns a *NotFoundError.
func (s *Store) ArtifactInfo(ctx context.Context, sha string) (ArtifactInfo, error) {
	if err := checkArtifactSHA(sha); err != nil {
		return ArtifactInfo{}, err
	}
	oi, err := s.objects.GetInfo(ctx, sha)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return ArtifactInfo{}, &NotFoundError{Kind: KindArtifact, Name: sha}
	}
	if err != nil {
		return ArtifactInfo{}, fmt.Errorf("controller: artifact %s: %w", sha, err)
	}
	return artifactInfo(sha, oi), nil
}

// ArtifactExists reports whether the artifact is stored.
func (s *Store) ArtifactExists(ctx context.Context, sha string) (bool, error) {
	_, err := s.ArtifactInfo(ctx, sha)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// OpenArtifact returns a reader of the stored artifact, which the object
// store checks against its own digest as it is read. The caller closes it.
func (s *Store) OpenArtifact(ctx context.Context, sha string) (io.ReadCloser, ArtifactInfo, error) {
	if err := checkArtifactSHA(sha); err != nil {
		return nil, ArtifactInfo{}, err
	}
	res, err := s.objects.Get(ctx, sha)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, ArtifactInfo{}, &NotFoundError{Kind: KindArtifact, Name: sha}
	}
	if err != nil {
		return nil, ArtifactInfo{}, fmt.Errorf("controller: open artifact %s: %w", sha, err)
	}
	oi, err := res.Info()
	if err != nil {
		_ = res.Close()
		return nil, ArtifactInfo{}, fmt.Errorf("controller: open artifact %s: %w", sha, err)
	}
	return res, artifactInfo(sha, oi), nil
}

// DeleteArtifact removes the artifact, or returns a *NotFoundError.
func (s *Store) DeleteArtifact(ctx context.Context, sha string) error {
	if err := checkArtifactSHA(sha); err != nil {
		return err
	}
	if _, err := s.ArtifactInfo(ctx, sha); err != nil {
		return err
	}
	if err := s.objects.Delete(ctx, sha); err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return &NotFoundError{Kind: KindArtifact, Name: sha}
		}
		return fmt.Errorf("controller: delete artifact %s: %w", sha, err)
	}
	return nil
}
