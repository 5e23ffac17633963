package download

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sluice-mdm/sluice/protocol"
)

func TestFetchRefusesMalformedArtifacts(t *testing.T) {
	good := protocol.Artifact{URLs: []string{"https://cdn.example.com/a.apk"}, SHA256: strings.Repeat("ab", 32), Size: 10}
	tests := []struct {
		name string
		edit func(a *protocol.Artifact)
		dest string
		want string
	}{
		{
			name: "no URLs",
			edit: func(a *protocol.Artifact) { a.URLs = nil },
			want: "download: artifact.urls: [] is not valid; want at least one http or https URL",
		},
		{
			name: "ftp mirror",
			edit: func(a *protocol.Artifact) { a.URLs = append(a.URLs, "ftp://mirror.example.com/a.apk") },
			want: `download: artifact.urls[1]: "ftp://mirror.example.com/a.apk" is not valid; want an http or https URL, not scheme "ftp"`,
		},
		{
			name: "relative URL",
			edit: func(a *protocol.Artifact) { a.URLs = []string{"/a.apk"} },
			want: `download: artifact.urls[0]: "/a.apk" is not valid; want an absolute http or https URL`,
		},
		{
			name: "URL without host",
			edit: func(a *protocol.Artifact) { a.URLs = []string{"https:///a.apk"} },
			want: `download: artifact.urls[0]: "https:///a.apk" is not valid; want an http or https URL with a host`,
		},
		{
			name: "sha256 too short",
			edit: func(a *protocol.Artifact) { a.SHA256 = "abcd" },
			want: `download: artifact.sha256: "abcd" is not valid; want 64 hexadecimal characters`,
		},
		{
			name: "sha256 not hex",
			edit: func(a *protocol.Artifact) { a.SHA256 = strings.Repeat("zz", 32) },
			want: `download: artifact.sha256: "` + strings.Repeat("zz", 32) + `" is not valid; want 64 hexadecimal characters`,
		},
		{
			name: "negative size",
			edit: func(a *protocol.Artifact) { a.Size = -5 },
			want: "download: artifact.size: -5 is not valid; want a positive number of bytes",
		},
		{
			name: "zero size",
			edit: func(a *protocol.Artifact) { a.Size = 0 },
			want: "download: artifact.size: 0 is not valid; want a positive number of bytes",
		},
		{
			name: "empty dest",
			dest: "-",
			want: `download: dest: "" is not valid; want a file path`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			a := good
			a.URLs = append([]string(nil), good.URLs...)
			if tt.edit != nil {
				tt.edit(&a)
			}
			dest := e.dest
			if tt.dest == "-" {
				dest = ""
			}
			_, err := e.d.Fetch(t.Context(), a, dest, nil)
			if err == nil {
				t.Fatal("Fetch accepted a malformed artifact")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if !errors.Is(err, ErrInvalidArtifact) {
				t.Errorf("error %v does not match ErrInvalidArtifact", err)
			}
			if diff := cmp.Diff([]string(nil), e.files(t)); diff != "" {
				t.Errorf("partial dir (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiscardRefusesBadChecksum(t *testing.T) {
	e := newEnv(t, nil)
	err := e.d.Discard(protocol.Artifact{SHA256: "../../etc/passwd"})
	if diff := cmp.Diff(`download: artifact.sha256: "../../etc/passwd" is not valid; want 64 hexadecimal characters`, errString(err)); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "no dir", cfg: Config{}, want: `download: Config.Dir: "" is not valid; want a directory path`},
		{name: "negative idle timeout", cfg: Config{Dir: dir, IdleTimeout: -time.Second}, want: "download: Config.IdleTimeout: -1s is not valid; want zero (default) or a positive duration"},
		{name: "negative attempts", cfg: Config{Dir: dir, MaxAttempts: -1}, want: "download: Config.MaxAttempts: -1 is not valid; want zero (default) or a positive count"},
		{name: "max below base backoff", cfg: Config{Dir: dir, BaseBackoff: time.Minute, MaxBackoff: time.Second}, want: "download: Config.MaxBackoff: 1s is not valid; want at least BaseBackoff (1m0s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if diff := cmp.Diff(tt.want, errString(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in                 string
		wantStart, wantEnd int64
		wantTotal          int64
		wantErr            bool
	}{
		{in: "bytes 0-99/100", wantEnd: 99, wantTotal: 100},
		{in: "bytes 10-19/*", wantStart: 10, wantEnd: 19, wantTotal: -1},
		{in: "bytes 10-9/100", wantErr: true},
		{in: "bytes 0-100/100", wantErr: true},
		{in: "bytes -1-5/10", wantErr: true},
		{in: "items 0-1/2", wantErr: true},
		{in: "bytes 0-1", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, e, total, err := parseContentRange(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadContentRange) {
					t.Fatalf("got %d-%d/%d, %v; want ErrBadContentRange", s, e, total, err)
				}
				return
			}
			if diff := cmp.Diff([]int64{tt.wantStart, tt.wantEnd, tt.wantTotal}, []int64{s, e, total}); diff != "" || err != nil {
				t.Errorf("start, end, total (-want +got):\n%s (err %v)", diff, err)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "with URL", err: &Error{Code: HTTPCode(503), URL: "https://x/a.apk", Err: errors.New("server answered 503 Service Unavailable")},
			want: "download: HTTP_503 from https://x/a.apk: server answered 503 Service Unavailable"},
		{name: "without URL", err: &Error{Code: CodeInsufficientStorage, Err: ErrInsufficientStorage},
			want: "download: INSUFFICIENT_STORAGE: not enough free storage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
