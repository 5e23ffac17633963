package apk_test

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/apk"
)

var update = flag.Bool("update", false, "rewrite testdata/apksigner/*.txt with the output of the installed apksigner")

// apksignerLevels are the API levels the recorded apksigner runs cover:
// below v2, first with v2, first with v3.
var apksignerLevels = []int{23, 24, 28}

// verdict is what a verifier says of one APK for devices at one API level
// and later.
type verdict struct {
	Verifies bool
	Schemes  []int
	Signers  []string
}

var schemeLine = regexp.MustCompile(`^Verified using v([123]) scheme .*: (true|false)$`)

// parseApksigner reads the output of `apksigner verify --print-certs -v`.
func parseApksigner(out []byte) verdict {
	var v verdict
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "Verifies":
			v.Verifies = true
		case schemeLine.MatchString(line):
			if m := schemeLine.FindStringSubmatch(line); m[2] == "true" {
				v.Schemes = append(v.Schemes, int(m[1][0]-'0'))
			}
		case strings.Contains(line, " certificate SHA-256 digest: "):
			v.Signers = append(v.Signers, line[strings.LastIndex(line, " ")+1:])
		}
	}
	return v
}

// TestApksignerAgrees compares Inspect with what apksigner, the Android SDK's
// own verifier, said of every fixture for devices at API 23, 24 and 28 and
// later (recorded in testdata/apksigner; -update records them again).
func TestApksignerAgrees(t *testing.T) {
	fixtures, err := filepath.Glob("testdata/*.apk")
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures in testdata: %v", err)
	}
	for _, file := range fixtures {
		for _, sdk := range apksignerLevels {
			name := fmt.Sprintf("%s.sdk%d", strings.TrimSuffix(filepath.Base(file), ".apk"), sdk)
			t.Run(name, func(t *testing.T) {
				golden := filepath.Join("testdata", "apksigner", name+".txt")
				if *update {
					out, _ := exec.Command("apksigner", "verify", "--print-certs", "-v", "--min-sdk-version", fmt.Sprint(sdk), file).CombinedOutput()
					if len(out) == 0 {
						t.Fatal("apksigner printed nothing; is it installed?")
					}
					if err := os.WriteFile(golden, out, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want := parseApksigner(readFile(t, golden))
				info, err := apk.Inspect(file, sdk)
				got := verdict{Verifies: err == nil}
				if info != nil {
					got.Schemes, got.Signers = info.Schemes, info.SignerSHA256
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("apksigner vs Inspect (-apksigner +Inspect), Inspect error %v:\n%s", err, diff)
				}
			})
		}
	}
}
