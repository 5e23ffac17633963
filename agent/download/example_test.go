package download_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice-mdm/sluice/agent/download"
	"github.com/sluice-mdm/sluice/protocol"
)

func ExampleDownloader_Fetch() {
	apk := bytes.Repeat([]byte("not really an APK "), 10000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "app.apk", time.Time{}, bytes.NewReader(apk))
	}))
	defer srv.Close()
	dir, err := os.MkdirTemp("", "download-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	d, err := download.New(download.Config{Dir: filepath.Join(dir, "partial")})
	if err != nil {
		log.Fatal(err)
	}
	sum := sha256.Sum256(apk)
	a := protocol.Artifact{
		URLs:   []string{srv.URL + "/primary/app.apk", srv.URL + "/mirror/app.apk"},
		SHA256: hex.EncodeToString(sum[:]),
		Size:   int64(len(apk)),
	}
	res, err := d.Fetch(context.Background(), a, filepath.Join(dir, "app.apk"), func(p download.Progress) {
		if p.Downloaded == p.Total {
			fmt.Printf("done: %d of %d bytes\n", p.Downloaded, p.Total)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("transferred:", res.Transferred, "attempts:", res.Attempts, "resumed:", res.Resumed)
	// Output:
	// done: 180000 of 180000 bytes
	// transferred: 180000 attempts: 1 resumed: false
}
