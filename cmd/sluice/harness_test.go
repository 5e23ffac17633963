package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-mdm/sluice/controller"
	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/natstest"
	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/protocol"
)

// Example manifests the tests apply.
const (
	exampleFleet    = "../../examples/fleet"
	exampleReleases = "../../examples/releases"
	exampleDevices  = "../../examples/devices"
)

// liveController is the real controller API on a real embedded NATS
// server: store, reconciler and HTTP API, with a token per role.
type liveController struct {
	t     *testing.T
	url   string
	store *controller.Store
	dev   *nats.Conn
	// Token secrets by role.
	super, admin, operator, auditor string
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func startController(t *testing.T) *liveController {
	t.Helper()
	ctx := testContext(t)
	_, natsURL := natstest.Start(t)
	nc := natstest.Connect(t, natsURL)
	store, err := controller.OpenStore(ctx, nc, controller.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	priv, err := protocol.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := controller.NewReconciler(controller.ReconcilerConfig{Store: store, Conn: nc, Signer: controller.NewSigner(priv), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("reconciler: %v", err)
		}
	})
	select {
	case <-rec.Synced():
	case err := <-done:
		t.Fatalf("reconciler stopped before it was synced: %v", err)
	case <-ctx.Done():
		t.Fatal("reconciler not synced in time")
	}
	// The API needs its public URL before the server exists.
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	// Share links on the loopback file servers of the tests are treated as
	// Dropbox's.
	api, err := controller.NewAPI(controller.APIConfig{Store: store, Decider: rec, PublicURL: srv.URL, TempDir: t.TempDir(),
		Artifacts: artifactHandler(t, store), ShareLinkHosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	handler = api.Handler()
	lc := &liveController{t: t, url: srv.URL, store: store, dev: natstest.Connect(t, natsURL)}
	for role, dst := range map[controller.Role]*string{
		controller.RoleSuperadmin: &lc.super, controller.RoleAdmin: &lc.admin,
		controller.RoleOperator: &lc.operator, controller.RoleAuditor: &lc.auditor,
	} {
		if *dst, err = store.CreateToken(ctx, string(role)+"-1", role, "test"); err != nil {
			t.Fatal(err)
		}
	}
	return lc
}

func artifactHandler(t *testing.T, store *controller.Store) http.Handler {
	t.Helper()
	h, err := controller.NewArtifactHandler(controller.ArtifactHandlerConfig{Source: store, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// sluice runs the command line against the controller with a token.
func (lc *liveController) sluice(token string, args ...string) (stdout, stderr string, code int) {
	lc.t.Helper()
	return runWithInput(lc.t, "", append(args, "--server", lc.url, "--token", token)...)
}

// runWithInput runs the command line with stdin, as main does.
func runWithInput(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCommand(&out, &errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	code = cli.Code(err)
	var usage *usageError
	if errors.As(err, &usage) {
		code = cli.ExitUsage
	}
	if err != nil {
		errOut.WriteString("sluice: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), code
}

// report publishes the example device as its agent would, and waits until
// the controller has issued it a directive with decisions for apps apps.
func (lc *liveController) report(file string, status map[string]protocol.AppStatus, ack uint64, apps int) {
	t := lc.t
	t.Helper()
	set, err := manifest.LoadFiles(filepath.Join(exampleDevices, file))
	if err != nil {
		t.Fatal(err)
	}
	d := set.Devices[0].Spec
	rep := protocol.DeviceReport{Version: protocol.Version, DeviceID: d.ID, SentAt: time.Now().UTC(), Labels: d.Labels,
		Platform: d.Platform, SDK: d.SDK, AgentVersion: d.AgentVersion, Channel: d.Channel, TimeZone: d.TimeZone,
		Apps: d.Apps, State: d.State, Status: status, DirectiveSequence: ack}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	subject, err := protocol.ReportSubject(d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := lc.dev.Publish(subject, data); err != nil {
		t.Fatal(err)
	}
	lc.eventually(func() bool {
		rec, err := lc.store.Devices().Get(testContext(t), d.ID)
		if err != nil || rec.Value.LastReport == nil || !rec.Value.LastReport.SentAt.Equal(rep.SentAt) {
			return false
		}
		dir, err := lc.store.Directives().Get(testContext(t), d.ID)
		if err != nil || dir.Value.Envelope == nil {
			return false
		}
		var got protocol.Directive
		return json.Unmarshal(dir.Value.Envelope.Payload, &got) == nil && len(got.Decisions) == apps
	}, fmt.Sprintf("device %s stored with a directive for %d apps", d.ID, apps))
}

// eventually polls cond until it holds or a deadline passes.
func (lc *liveController) eventually(cond func() bool, what string) {
	lc.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			lc.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
