package archtest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeCommandsExist keeps the README's first two commands working:
// each must be a Makefile target, and CI must run the test command.
func TestReadmeCommandsExist(t *testing.T) {
	root := repoRoot(t)
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	readme, makefile, ci := read("README.md"), read("Makefile"), read(".ci/run")

	// The first shell block after "## The two commands".
	_, after, ok := strings.Cut(readme, "## The two commands")
	if !ok {
		t.Fatal(`README.md has no "## The two commands" section`)
	}
	block := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(after)
	if block == nil {
		t.Fatal("the two-commands section has no ```sh block")
	}
	var targets []string
	for _, line := range strings.Split(strings.TrimSpace(block[1]), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "make" {
			t.Fatalf("README command %q is not `make TARGET`", line)
		}
		targets = append(targets, fields[1])
	}
	if len(targets) != 2 || targets[0] != "demo" || targets[1] != "test" {
		t.Fatalf("README's two commands are %v, want [demo test]", targets)
	}
	for _, target := range targets {
		if !regexp.MustCompile(`(?m)^` + target + `:`).MatchString(makefile) {
			t.Errorf("the Makefile has no %q target, which the README's commands need", target)
		}
	}
	if !regexp.MustCompile(`(?m)^make test$`).MatchString(ci) {
		t.Error(".ci/run does not run `make test`, the README's test command")
	}
}
