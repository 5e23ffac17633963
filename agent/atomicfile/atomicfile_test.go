package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesAndLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "directive.json")
	for _, content := range []string{"first", "second, longer content"} {
		if err := Write(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read back %q, %v; want %q", got, err, content)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if left, _ := filepath.Glob(TempPattern(path)); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestWriteFailureKeepsTheOldContent(t *testing.T) {
	dir := t.TempDir()
	// A directory in the way makes the rename fail after the temporary
	// file was written.
	path := filepath.Join(dir, "state.json")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "keep"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new"), 0o644); err == nil {
		t.Fatal("Write over a directory succeeded")
	}
	if got, err := os.ReadFile(filepath.Join(path, "keep")); err != nil || string(got) != "old" {
		t.Errorf("old content %q, %v", got, err)
	}
	if left, _ := filepath.Glob(TempPattern(path)); len(left) != 0 {
		t.Errorf("temporary files left after a failure: %v", left)
	}
	if err := Write(filepath.Join(dir, "missing", "x"), []byte("x"), 0o644); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
}

func TestTempPatternMatchesTheTemporaryNames(t *testing.T) {
	path := filepath.Join("/data", "abc.json")
	ok, err := filepath.Match(TempPattern(path), filepath.Join("/data", ".tmp-abc.json-123456"))
	if err != nil || !ok {
		t.Errorf("TempPattern(%s) does not match a temporary name: %v %v", path, ok, err)
	}
	if ok, _ := filepath.Match(TempPattern(path), filepath.Join("/data", "abc.json")); ok {
		t.Error("TempPattern matches the file itself")
	}
}
