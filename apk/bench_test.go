package apk_test

import (
	"crypto/sha256"
	"io"
	"os"
	"testing"

	"github.com/sluice-mdm/sluice/apk"
	"github.com/sluice-mdm/sluice/internal/testapk"
)

// BenchmarkInspect measures Inspect on the 3 MiB demo APK (signed v1, v2,
// v3) for a device at API 21 (v1+v2+v3 checked), 26 (v2+v3) and 30 (v3),
// next to the baseline of hashing the same file once with SHA-256.
func BenchmarkInspect(b *testing.B) {
	p := testapk.Path(b, "menu-5.1.0-large.apk")
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sha256-baseline", func(b *testing.B) {
		b.SetBytes(st.Size())
		for b.Loop() {
			f, err := os.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			h := sha256.New()
			if _, err := io.Copy(h, f); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	for _, bc := range []struct {
		name string
		sdk  int
	}{{"sdk21-v1v2v3", 21}, {"sdk26-v2v3", 26}, {"sdk30-v3", 30}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(st.Size())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := apk.Inspect(p, bc.sdk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
