package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinaries builds ./cmd/sluice and ./cmd/sluice-agent into a
// temporary directory and returns their paths.
func buildBinaries(t *testing.T) (sluice, agent string) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "./cmd/sluice", "./cmd/sluice-agent")
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "sluice"), filepath.Join(dir, "sluice-agent")
}

// syncBuffer is a bytes.Buffer safe for one writer and many readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a long-running child process whose output is kept.
type process struct {
	name   string
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	err    error // set when done is closed
}

// startProcess starts bin with args; the test's cleanup kills it if it
// still runs.
func startProcess(t *testing.T, name, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Dir = repoRoot(t)
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr (last 4 KiB):\n%s", name, p.stdout.String(), name, tail(p.stderr.String(), 4096))
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// terminate sends SIGTERM and waits up to timeout for the process to
// end; it returns the exit code (-1 when killed by a signal).
func (p *process) terminate(t *testing.T, timeout time.Duration) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !p.exited() {
		t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not exit within %s of SIGTERM; killed", p.name, timeout)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("wait for %s: %v", p.name, p.err)
	return -1
}

// gone reports whether no process with the pid of p exists any more (it
// was reaped, and nothing reuses the pid yet).
func (p *process) gone() bool {
	err := syscall.Kill(p.cmd.Process.Pid, 0)
	return errors.Is(err, syscall.ESRCH)
}

// runCommand runs bin with args to completion and returns its stdout; a
// non-zero exit fails the test with both outputs.
func runCommand(t *testing.T, ctx context.Context, bin string, args ...string) string {
	t.Helper()
	out, errOut, code := runCommandCode(t, ctx, bin, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// runCommandCode runs bin with args and returns stdout, stderr and the
// exit code.
func runCommandCode(t *testing.T, ctx context.Context, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = repoRoot(t)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return o.String(), e.String(), 0
	case errors.As(err, &ee):
		return o.String(), e.String(), ee.ExitCode()
	}
	t.Fatalf("run %s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
	return "", "", -1
}

// tokenAfter returns the first non-empty line after the line starting
// with header in out, or "" when out does not hold it yet.
func tokenAfter(out, header string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	found := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, header):
			found = true
		case found && line != "":
			return line
		}
	}
	return ""
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// writeFile writes data to path, failing the test on error.
func writeFile(t *testing.T, path string, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

var _ io.Writer = (*syncBuffer)(nil)

// String describes the process for messages.
func (p *process) String() string { return fmt.Sprintf("%s (pid %d)", p.name, p.cmd.Process.Pid) }
