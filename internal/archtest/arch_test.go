package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/sluice-mdm/sluice"

type pkg struct {
	ImportPath string
	Doc        string
	Name       string
	Standard   bool
	Deps       []string
	GoFiles    []string
}

// goList runs `go list -json` from the repository root and decodes its stream.
func goList(t *testing.T, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = repoRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate this test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func TestEveryPackageHasADoc(t *testing.T) {
	pkgs := goList(t, "./...")
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages; the walk is broken", len(pkgs))
	}
	for _, p := range pkgs {
		if len(p.GoFiles) == 0 {
			continue // test-only directories have no package doc to carry
		}
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("package %s has no package doc comment", p.ImportPath)
		}
	}
}

// forbidden lists, for each root, the import paths (prefixes) it must never
// link. The agent runs on small POS hardware and must not carry OPA or the
// controller; the protocol is a leaf every side imports.
var forbidden = map[string][]string{
	"./cmd/sluice-agent": {
		"github.com/open-policy-agent/opa",
		module + "/controller",
		module + "/fleet",
		module + "/policy",
		module + "/manifest",
		"github.com/nats-io/nats-server",
	},
	"./protocol": {
		"github.com/",
		module + "/",
	},
	"./fleet": {
		module + "/",
	},
}

func TestForbiddenDependencies(t *testing.T) {
	for root, bad := range forbidden {
		t.Run(root, func(t *testing.T) {
			pkgs := goList(t, root)
			if len(pkgs) != 1 {
				t.Fatalf("go list %s: got %d packages, want 1", root, len(pkgs))
			}
			for _, dep := range pkgs[0].Deps {
				for _, b := range bad {
					if strings.HasPrefix(dep, b) {
						t.Errorf("%s depends on %s, which it must never link", root, dep)
					}
				}
			}
		})
	}
}

func TestAgentPackagesImportOnlyProtocolAndApk(t *testing.T) {
	for _, p := range goList(t, "./agent/...") {
		for _, dep := range p.Deps {
			if !strings.HasPrefix(dep, module+"/") {
				continue
			}
			rel := strings.TrimPrefix(dep, module+"/")
			switch {
			case rel == "protocol", rel == "apk", strings.HasPrefix(rel, "agent"):
			default:
				t.Errorf("%s depends on %s; the agent may import only protocol, apk and its own packages", p.ImportPath, dep)
			}
		}
	}
}

func TestGoModVersion(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); strings.HasPrefix(line, "go ") {
			// nats-server requires go >= 1.26.0, and the go command orders a
			// bare "1.26" below "1.26.0", so the 1.26 line is written 1.26.N.
			if line != "go 1.26" && !strings.HasPrefix(line, "go 1.26.") {
				t.Fatalf("go.mod says %q, want the Go 1.26 line (go 1.26 or go 1.26.N)", line)
			}
			return
		}
	}
	t.Fatal("go.mod has no go directive")
}
