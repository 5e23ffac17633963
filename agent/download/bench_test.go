package download

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkDownload fetches a 200 MB random file from a net/http file
// server on loopback, with Fetch (hashing and writing to a file) and with
// curl on the same file in the same run, so their MB/s can be compared.
func BenchmarkDownload(b *testing.B) {
	const size = 200 << 20
	srcDir, outDir := b.TempDir(), b.TempDir()
	data := testData(size, 60)
	if err := os.WriteFile(filepath.Join(srcDir, "big.apk"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	a := artifactFor(data, "")
	data = nil
	srv := httptest.NewServer(http.FileServer(http.Dir(srcDir)))
	defer srv.Close()
	a.URLs = []string{srv.URL + "/big.apk"}
	dest := filepath.Join(outDir, "big.apk")

	b.Run("sluice", func(b *testing.B) {
		d, err := New(Config{Dir: filepath.Join(outDir, "partial"), FreeSpace: func(string) (int64, error) { return 1 << 40, nil }})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			os.Remove(dest)
			b.StartTimer()
			res, err := d.Fetch(b.Context(), a, dest, nil)
			if err != nil {
				b.Fatal(err)
			}
			if res.Transferred != size {
				b.Fatalf("transferred %d, want %d", res.Transferred, size)
			}
		}
	})
	b.Run("curl", func(b *testing.B) {
		curl, err := exec.LookPath("curl")
		if err != nil {
			b.Skipf("curl is not installed: %v", err)
		}
		b.SetBytes(size)
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			os.Remove(dest)
			b.StartTimer()
			if out, err := exec.CommandContext(b.Context(), curl, "-s", "-o", dest, a.URLs[0]).CombinedOutput(); err != nil {
				b.Fatalf("curl: %v: %s", err, out)
			}
			b.StopTimer()
			if st, err := os.Stat(dest); err != nil || st.Size() != size {
				b.Fatalf("curl wrote %v, %v; want %d bytes", st, err, size)
			}
			b.StartTimer()
		}
	})
}
