package apk_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/apk"
	"github.com/sluice-mdm/sluice/internal/testapk"
)

// withManifest rewrites pos-1.0.0.apk with its AndroidManifest.xml passed
// through edit (the signature no longer matters: the manifest is refused
// before it is checked).
func withManifest(t *testing.T, edit func(m []byte)) string {
	t.Helper()
	src, err := testapk.Files.ReadFile("files/pos-1.0.0.apk")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == "AndroidManifest.xml" {
			edit(data)
		}
		w, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "crafted.apk", out.Bytes())
}

// The manifest of the test APKs starts with its UTF-16 string pool at
// offset 8, whose string data starts 0x70 bytes into the pool.
const (
	poolAt        = 8
	firstStringAt = poolAt + 0x70
)

// TestCraftedManifestIsRefusedCheaply: sizes that overrun their container
// are refused before the parser allocates what they claim (gigabytes).
func TestCraftedManifestIsRefusedCheaply(t *testing.T) {
	tests := []struct {
		name string
		edit func(m []byte)
		want string // the reason after "apk: malformed APK: <path>: "
	}{
		{
			name: "string pool claims 2 GiB",
			edit: func(m []byte) { binary.LittleEndian.PutUint32(m[poolAt+4:], 0x7ffffff0) },
			want: "AndroidManifest.xml: chunk 0x0001 declares 2147483632 bytes but only 1212 are left",
		},
		{
			name: "string claims 2^31 characters",
			edit: func(m []byte) {
				binary.LittleEndian.PutUint16(m[firstStringAt:], 0xffff)
				binary.LittleEndian.PutUint16(m[firstStringAt+2:], 0xffff)
			},
			want: "AndroidManifest.xml: string 0 claims 2147483647 UTF-16 units but the pool has 608 bytes left",
		},
		{
			name: "document claims more than the file",
			edit: func(m []byte) { binary.LittleEndian.PutUint32(m[4:], 0xfffffff0) },
			want: "AndroidManifest.xml: chunk 0x0003 declares 4294967280 bytes but only 1220 are left",
		},
		{
			name: "not compiled XML",
			edit: func(m []byte) { binary.LittleEndian.PutUint16(m[0:], 0x0002) },
			want: "AndroidManifest.xml starts with chunk type 0x0002, not compiled XML (0x0003)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := withManifest(t, tt.edit)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := apk.Inspect(p, 0)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, apk.ErrMalformed) {
				t.Fatalf("Inspect error = %v, want ErrMalformed", err)
			}
			if diff := cmp.Diff("apk: malformed APK: "+p+": "+tt.want, err.Error()); diff != "" {
				t.Errorf("error text (-want +got):\n%s", diff)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
				t.Errorf("Inspect allocated %d bytes for a crafted 9 KiB file, want under 16 MiB", got)
			}
		})
	}
}
