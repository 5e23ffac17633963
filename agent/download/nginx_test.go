package download

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const nginxPath = "/usr/sbin/nginx"

// startNginx runs Debian's nginx in the foreground on a free loopback port,
// serving root, with every path it writes under a temporary prefix. It
// returns the base URL and the access log path; the log has one
// "status range if-range" line per request.
func startNginx(t *testing.T, root string) (string, string) {
	t.Helper()
	if _, err := os.Stat(nginxPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nginx is required in CI: %v", err)
		}
		t.Skipf("nginx is not installed at %s (apt-get install nginx-light); set CI to make this a failure", nginxPath)
	}
	prefix := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	access := filepath.Join(prefix, "access.log")
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    log_format ranges '$status "$http_range" "$http_if_range"';
    access_log %[2]s ranges;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    types { application/vnd.android.package-archive apk; }
    server {
        listen %[3]s;
        root %[4]s;
    }
}
`, prefix, access, addr, root)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginxPath, "-p", prefix, "-c", confPath, "-e", filepath.Join(prefix, "error.log"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
			t.Fatalf("nginx exited: %v\n%s\n%s", err, out.String(), log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s within 10s: %s", addr, out.String())
		}
	}
	return "http://" + addr, access
}

func TestFetchFromNginxWithPauseAndResume(t *testing.T) {
	root := t.TempDir()
	data := testData(8<<20+333, 50)
	if err := os.WriteFile(filepath.Join(root, "app.apk"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	base, access := startNginx(t, root)
	a := artifactFor(data, base+"/app.apk")

	e := newEnv(t, func(c *Config) { c.ProgressEvery = time.Nanosecond })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := e.d.Fetch(ctx, a, e.dest, pauseAt(cancel, 2<<20))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("paused Fetch: got %v, want context.Canceled", err)
	}
	m := e.readMeta(t, data)
	if m.Durable < 2<<20 || m.Durable >= a.Size {
		t.Fatalf("durable = %d after pausing at 2 MiB of %d", m.Durable, a.Size)
	}
	if !strings.HasPrefix(m.ETag, `"`) {
		t.Errorf("nginx's strong ETag was not kept: %q", m.ETag)
	}

	e2 := e.reopen(t, nil)
	got, err := e2.d.Fetch(t.Context(), a, e2.dest, nil)
	if err != nil {
		t.Fatalf("resumed Fetch: %v", err)
	}
	want := Result{Path: e2.dest, URL: base + "/app.apk", Transferred: a.Size - m.Durable, Resumed: true, Attempts: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	checkDest(t, e2.dest, data)

	// nginx logs asynchronously to the file only on request end; poll.
	wantLog := []string{`200 "-" "-"`, fmt.Sprintf(`206 "bytes=%d-" "%s"`, m.Durable, strings.ReplaceAll(m.ETag, `"`, `\x22`))}
	var lines []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		raw, _ := os.ReadFile(access)
		lines = strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) >= len(wantLog) {
			break
		}
	}
	if diff := cmp.Diff(wantLog, lines); diff != "" {
		t.Errorf("nginx access log (-want +got):\n%s", diff)
	}
}
