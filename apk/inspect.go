package apk

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/avast/apkparser"
)

// Errors of Inspect and Check, checked with errors.Is.
var (
	// ErrMalformed: the file is not a readable APK (not a zip archive,
	// truncated, no or unparsable AndroidManifest.xml).
	ErrMalformed = errors.New("apk: malformed APK")
	// ErrUnsigned: the APK carries no v1, v2 or v3 signature.
	ErrUnsigned = errors.New("apk: APK is not signed")
	// ErrBadSignature: a signature is present but a device at the given
	// API level would refuse it.
	ErrBadSignature = errors.New("apk: APK signature does not verify")
)

// Info is what an APK is, read from the file itself.
type Info struct {
	Package     string
	VersionCode int64
	VersionName string
	MinSDK      int
	TargetSDK   int
	// SignerSHA256 holds the lowercase hex SHA-256 of each signing
	// certificate (DER), sorted. With v3 key rotation it is the current
	// signer.
	SignerSHA256 []string
	// Schemes lists the signature schemes that verified (1, 2, 3), sorted.
	Schemes []int
	// SHA256 is the lowercase hex SHA-256 of the whole file.
	SHA256 string
	Size   int64
}

// failure is the error of a file that is not an acceptable APK. Kind is
// one of the package's sentinels; reason is one sentence without a final
// period.
type failure struct {
	kind   error
	path   string
	reason string
}

func (e *failure) Error() string {
	return fmt.Sprintf("%v: %s: %s", e.kind, e.path, e.reason)
}

func (e *failure) Unwrap() error { return e.kind }

// Inspect reads the APK at path: its manifest, its signature verified as a
// device with API level sdk (and any later level) would verify it, and the
// SHA-256 and size of the whole file. With sdk 0 it verifies for the APK's
// own minSdk. An APK signed with v2 or v3 alone is invalid below API 24.
// Errors wrap ErrMalformed, ErrUnsigned or ErrBadSignature and say why in
// one sentence; I/O errors are returned wrapped as they are.
func Inspect(path string, sdk int) (*Info, error) {
	info, err := inspect(path, sdk, false)
	if err != nil {
		return nil, err
	}
	return info, nil
}

// inspect does the work of Inspect. When the file can be read but is not
// an acceptable APK it returns the error together with what it could read:
// SHA256 and Size when wantHash is set, and the manifest fields when the
// manifest parsed.
func inspect(path string, sdk int, wantHash bool) (*Info, error) {
	if sdk < 0 {
		return nil, fmt.Errorf("apk: inspect %s: sdk %d is not an API level; want 0 (the APK's own minSdk) or 1 and above", path, sdk)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("apk: inspect: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("apk: inspect: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("apk: inspect %s: not a regular file", path)
	}

	// Hash the whole file with positioned reads while the parser and the
	// verifier seek around the same file.
	h := startHash(f, st.Size())
	info, perr := read(f, st.Size(), sdk)
	if perr != nil && !wantHash {
		h.stop()
	}
	sum, n, herr := h.wait()
	if herr != nil {
		return nil, fmt.Errorf("apk: inspect: read %s: %w", path, herr)
	}
	if perr != nil {
		var fe *failure
		if errors.As(perr, &fe) {
			fe.path = path
		}
		if !wantHash {
			return nil, perr
		}
		if info == nil {
			info = &Info{}
		}
		info.SHA256, info.Size = sum, n
		return info, perr
	}
	info.SHA256, info.Size = sum, n
	return info, nil
}

// read parses and verifies the APK in f. On a failure it may return the
// manifest fields it read along with the error.
func read(f *os.File, size int64, sdk int) (*Info, error) {
	if err := checkZip(f, size); err != nil {
		return nil, err
	}
	zr, err := openZip(f)
	if err != nil {
		return nil, err
	}
	defer zr.Close()

	man, err := readManifest(zr)
	if err != nil {
		return nil, &failure{kind: ErrMalformed, reason: err.Error()}
	}
	info := &Info{
		Package:     man.pkg,
		VersionCode: man.versionCode,
		VersionName: man.versionName,
		MinSDK:      man.minSDK,
		TargetSDK:   man.targetSDK,
	}
	if sdk == 0 {
		sdk = man.minSDK
	}
	sig, err := verifySignature(f, zr, sdk)
	if err != nil {
		return info, err
	}
	info.SignerSHA256, info.Schemes = sig.signers, sig.schemes
	return info, nil
}

// checkZip refuses what Android's own zip reader would refuse: anything
// without a valid end of central directory and central directory, which
// also catches truncated downloads and error pages saved as .apk.
func checkZip(f *os.File, size int64) error {
	zr, err := zip.NewReader(io.NewSectionReader(f, 0, size), size)
	if err != nil && !(errors.Is(err, zip.ErrInsecurePath) && zr != nil) {
		var head [512]byte
		n, _ := f.ReadAt(head[:], 0)
		return &failure{kind: ErrMalformed, reason: notZipReason(head[:n], size, err)}
	}
	hasManifest := false
	for _, zf := range zr.File {
		if zf.Name == manifestFile {
			hasManifest = true
		}
		// The v1 verifier reads these whole into memory.
		if isSignatureFile(zf.Name) && zf.UncompressedSize64 > maxSignatureFileSize {
			return &failure{kind: ErrMalformed, reason: fmt.Sprintf("%s is %d bytes; at most %d are accepted", zf.Name, zf.UncompressedSize64, maxSignatureFileSize)}
		}
	}
	if !hasManifest {
		return &failure{kind: ErrMalformed, reason: "the archive has no " + manifestFile}
	}
	return nil
}

// maxSignatureFileSize bounds each JAR signature file; a real MANIFEST.MF
// lists every entry of the APK in a few hundred bytes each.
const maxSignatureFileSize = 64 << 20

// isSignatureFile reports whether name is a file of a v1 (JAR) signature.
func isSignatureFile(name string) bool {
	if !strings.HasPrefix(name, "META-INF/") {
		return false
	}
	for _, suffix := range []string{"/MANIFEST.MF", ".SF", ".RSA", ".DSA", ".EC"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// notZipReason says in one sentence what a file that is not a zip looks
// like instead.
func notZipReason(head []byte, size int64, err error) string {
	trimmed := bytes.ToLower(bytes.TrimLeft(head, " \t\r\n\ufeff"))
	switch {
	case size == 0:
		return "the file is empty"
	case bytes.HasPrefix(trimmed, []byte("<!doctype html")) || bytes.HasPrefix(trimmed, []byte("<html")) ||
		bytes.HasPrefix(trimmed, []byte("<head")) || bytes.HasPrefix(trimmed, []byte("<body")):
		return "the file is an HTML page, not an APK (a download link that answers with a web page?)"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return fmt.Sprintf("the zip archive is incomplete or damaged, perhaps truncated (%s)", oneLine(err))
	default:
		return fmt.Sprintf("the file is not a zip archive (%s)", oneLine(err))
	}
}

// openZip opens the archive for apkparser and apkverifier, turning a
// parser panic on crafted input into ErrMalformed.
func openZip(f *os.File) (zr *apkparser.ZipReader, err error) {
	defer func() {
		if p := recover(); p != nil {
			zr, err = nil, &failure{kind: ErrMalformed, reason: fmt.Sprintf("the zip archive cannot be read (the parser failed: %v)", p)}
		}
	}()
	zr, err = apkparser.OpenZipReader(f)
	if err != nil {
		return nil, &failure{kind: ErrMalformed, reason: fmt.Sprintf("the zip archive cannot be read (%s)", oneLine(err))}
	}
	return zr, nil
}

// hasher computes the SHA-256 of a file in the background.
type hasher struct {
	stopped atomic.Bool
	done    chan struct{}
	sum     string
	n       int64
	err     error
}

// errHashStopped ends a hash nobody waits for.
var errHashStopped = errors.New("hash stopped")

func startHash(r io.ReaderAt, size int64) *hasher {
	h := &hasher{done: make(chan struct{})}
	go func() {
		defer close(h.done)
		s := sha256.New()
		buf := make([]byte, 256<<10)
		var off int64
		for off < size {
			if h.stopped.Load() {
				h.err = errHashStopped
				return
			}
			n, err := r.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
			s.Write(buf[:n])
			off += int64(n)
			if err == io.EOF && off == size {
				break
			}
			if err != nil {
				h.err = err
				return
			}
		}
		h.sum, h.n = hex.EncodeToString(s.Sum(nil)), off
	}()
	return h
}

func (h *hasher) stop() { h.stopped.Store(true) }

// wait returns the hash, or no error and an empty hash if it was stopped.
func (h *hasher) wait() (string, int64, error) {
	<-h.done
	if errors.Is(h.err, errHashStopped) {
		return "", 0, nil
	}
	return h.sum, h.n, h.err
}
