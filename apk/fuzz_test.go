package apk_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/sluice-mdm/sluice/apk"
)

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// FuzzInspect feeds mutated APKs to Inspect: it must never panic, and it
// either describes a signed APK completely or refuses the file with one of
// the package's errors.
func FuzzInspect(f *testing.F) {
	// The smallest fixtures: the fuzzer minimizes every new input, which
	// takes long for large ones.
	for _, p := range []string{v1Only, v2Only, v2Mismatch} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, 0)
		f.Add(data, 24)
	}
	f.Add([]byte(htmlPage), 0)

	f.Fuzz(func(t *testing.T, data []byte, sdk int) {
		sdk = sdk & 63 // 0 (the APK's minSdk) and plausible API levels
		p := filepath.Join(t.TempDir(), "fuzz.apk")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		info, err := apk.Inspect(p, sdk)
		if err != nil {
			if info != nil {
				t.Errorf("Inspect returned %+v along with %v", info, err)
			}
			if !errors.Is(err, apk.ErrMalformed) && !errors.Is(err, apk.ErrUnsigned) && !errors.Is(err, apk.ErrBadSignature) {
				t.Errorf("Inspect error %v wraps none of ErrMalformed, ErrUnsigned, ErrBadSignature", err)
			}
			return
		}
		switch {
		case info.Package == "":
			t.Errorf("accepted an APK without a package: %+v", info)
		case len(info.SignerSHA256) == 0 || len(info.Schemes) == 0:
			t.Errorf("accepted an APK without signers or schemes: %+v", info)
		case !hexSHA256.MatchString(info.SHA256) || info.Size != int64(len(data)):
			t.Errorf("hash %q / size %d do not describe the %d-byte file", info.SHA256, info.Size, len(data))
		case info.MinSDK < 1 || info.TargetSDK < 1:
			t.Errorf("accepted API levels minSdk %d targetSdk %d", info.MinSDK, info.TargetSDK)
		}
	})
}
