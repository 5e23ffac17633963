package agent

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/agent/platform/sim"
	"github.com/sluice-mdm/sluice/internal/testapk"
	"github.com/sluice-mdm/sluice/protocol"
)

// heldServer serves the test APKs like apkServer, but holds every request
// until release is closed.
func heldServer(t *testing.T) (srv *httptest.Server, arrived <-chan struct{}, release chan struct{}) {
	t.Helper()
	files, err := fs.Sub(testapk.Files, "files")
	if err != nil {
		t.Fatal(err)
	}
	fsrv := http.FileServerFS(files)
	in := make(chan struct{}, 16)
	release = make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fsrv.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return srv, in, release
}

// TestInstallRechecksBeforeReplacing: what allowed a download to start is
// checked again before the install. An app that came to the foreground
// during the download is not replaced under default rules, and a decision
// that no longer targets the downloaded version is not carried out; in both
// cases the attempt is not counted as a failure.
func TestInstallRechecksBeforeReplacing(t *testing.T) {
	tests := []struct {
		name       string
		during     func(t *testing.T, dev *sim.Device, a *Agent, sign func(uint64, protocol.Decision) *protocol.Envelope, art *protocol.Artifact)
		wantWait   []string
		wantAction protocol.Action
	}{
		{
			name: "app came to the foreground",
			during: func(t *testing.T, dev *sim.Device, _ *Agent, _ func(uint64, protocol.Decision) *protocol.Envelope, _ *protocol.Artifact) {
				if err := dev.Set(t.Context(), "foreground="+posApp); err != nil {
					t.Fatal(err)
				}
			},
			wantWait: []string{protocol.WaitingAppInForeground}, wantAction: protocol.ActionInstall,
		},
		{
			name: "decision withdrawn",
			during: func(t *testing.T, _ *sim.Device, a *Agent, sign func(uint64, protocol.Decision) *protocol.Envelope, art *protocol.Artifact) {
				a.acceptEnvelope(sign(2, installDecision("d2", art, func(d *protocol.Decision) {
					d.Action, d.Target = protocol.ActionNone, nil
				})), "push")
			},
			wantAction: protocol.ActionNone,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			clk := newClock()
			srv, arrived, release := heldServer(t)
			art := artifact(t, srv, "pos-2.0.0.apk")
			dev := device(t, t.TempDir(), "wifi=on", "charging=on", "idle=on")
			stepped := newSteppedAgent(t, ctx, dev, clk)
			a, j, sign := stepped.Agent, stepped.jobs, stepped.sign
			a.acceptEnvelope(sign(1, installDecision("d1", art)), "push")
			a.step(ctx, j)
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
				t.Fatal("the download did not start")
			}
			tt.during(t, dev, a, sign, art)
			close(release)
			select {
			case <-j.done():
			case <-time.After(30 * time.Second):
				t.Fatal("the attempt did not end")
			}
			a.sense(ctx)
			a.step(ctx, j)
			apps, err := dev.Installed(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := apps[posApp].VersionCode; got != 100 {
				t.Errorf("installed versionCode %d, want 100 (not replaced)", got)
			}
			s := appStatus(a, posApp)
			got := []any{s.Action, s.WaitingFor, s.Attempts, s.LastError}
			want := []any{string(tt.wantAction), tt.wantWait, 0, ""}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("status after the attempt: action, waitingFor, attempts, lastError (-want +got):\n%s", diff)
			}
			if slices.ContainsFunc(s.WaitingFor, func(w string) bool { return strings.Contains(w, "RETRY") }) {
				t.Errorf("waiting for a retry: %v", s.WaitingFor)
			}
		})
	}
}
