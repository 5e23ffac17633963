package controller

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

// testAPK returns n bytes of deterministic, non-repeating content.
func testAPK(n int) []byte {
	b := make([]byte, n)
	x := uint32(2166136261)
	for i := range b {
		x ^= uint32(i)
		x *= 16777619
		b[i] = byte(x >> 13)
	}
	return b
}

func TestArtifactPutGetDelete(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := testCtx(t)
	apk := testAPK(300_000) // several object-store chunks
	sha := sha256Hex(apk)

	exists, err := s.ArtifactExists(ctx, sha)
	if err != nil || exists {
		t.Fatalf("exists before put = %v, %v; want false", exists, err)
	}
	info, err := s.PutArtifact(ctx, sha, bytes.NewReader(apk))
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	if diff := cmp.Diff(ArtifactInfo{SHA256: sha, Size: int64(len(apk)), ModTime: info.ModTime}, info); diff != "" || info.ModTime.IsZero() {
		t.Errorf("info (-want +got):\n%s", diff)
	}
	rc, got, err := s.OpenArtifact(ctx, sha)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	data := readAll(t, rc)
	rc.Close()
	if diff := cmp.Diff(info, got); diff != "" {
		t.Errorf("open info (-want +got):\n%s", diff)
	}
	if !bytes.Equal(apk, data) {
		t.Errorf("content read back differs: %d bytes, sha256 %s", len(data), sha256Hex(data))
	}

	// Putting it again does not read the new reader.
	again, err := s.PutArtifact(ctx, sha, iotestErrReader{})
	if err != nil {
		t.Fatalf("put again: %v", err)
	}
	if diff := cmp.Diff(info, again); diff != "" {
		t.Errorf("put again (-want +got):\n%s", diff)
	}

	if err := s.DeleteArtifact(ctx, sha); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if exists, err := s.ArtifactExists(ctx, sha); err != nil || exists {
		t.Errorf("exists after delete = %v, %v; want false", exists, err)
	}
	_, _, err = s.OpenArtifact(ctx, sha)
	if diff := cmp.Diff(`controller: artifact "`+sha+`" not found`, errorText(err)); diff != "" || !errors.Is(err, ErrNotFound) {
		t.Errorf("open after delete (-want +got):\n%s", diff)
	}
	if err := s.DeleteArtifact(ctx, sha); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete twice: err = %v; want ErrNotFound", err)
	}
}

// iotestErrReader fails if read.
type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("reader must not be read") }

func TestArtifactDigestMismatchStoresNothing(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := testCtx(t)
	apk := testAPK(200_000)
	claimed := sha256Hex([]byte("another apk"))
	_, err := s.PutArtifact(ctx, claimed, bytes.NewReader(apk))
	var de *DigestError
	if !errors.As(err, &de) || !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("put with wrong digest: err = %v; want a *DigestError", err)
	}
	want := "controller: put artifact " + claimed + ": nothing stored: controller: artifact content of 200000 bytes has sha256 " + sha256Hex(apk) + ", want " + claimed
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	if exists, err := s.ArtifactExists(ctx, claimed); err != nil || exists {
		t.Errorf("exists after mismatch = %v, %v; want false", exists, err)
	}
	st, err := s.JetStream().Stream(ctx, "OBJ_artifacts")
	if err != nil {
		t.Fatal(err)
	}
	si, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(uint64(0), si.State.Msgs); diff != "" {
		t.Errorf("messages left in the object store (-want +got):\n%s", diff)
	}

	_, err = s.PutArtifact(ctx, "ABC", bytes.NewReader(apk))
	if diff := cmp.Diff(`controller: artifact: sha256 "ABC" is not allowed; want 64 lowercase hex digits`, errorText(err)); diff != "" {
		t.Errorf("bad sha (-want +got):\n%s", diff)
	}
}
