package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/agent/platform/sim"
	"github.com/sluice-mdm/sluice/internal/client"
	"github.com/sluice-mdm/sluice/internal/testapk"
	"github.com/sluice-mdm/sluice/protocol"
)

const posApp = "com.example.pos"

// TestBinaries runs the two commands as separate processes, the way an
// admin and a device would: a controller, two agents on the sim platform
// (one configured by a YAML file, one by flags), and the admin commands
// against them. The Berlin till (pos-default: Wi-Fi, charging, idle, not
// in use, 22:00–06:00) waits until `sluice-agent sim set` satisfies its
// constraints; the Hamburg till (pos-high-priority) installs at once.
func TestBinaries(t *testing.T) {
	t.Parallel()
	sluiceBin, agentBin := buildBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	httpAddr, natsAddr := freeAddr(t), freeAddr(t)
	server := startProcess(t, "sluice server", sluiceBin, "server",
		"--data", filepath.Join(dir, "controller"), "--http", httpAddr, "--nats-listen", natsAddr)

	var token string
	eventually(t, 60*time.Second, "the server's first-start banner with the token", func() (bool, error) {
		if server.exited() {
			t.Fatalf("sluice server exited early: %v\n%s", server.err, server.stderr.String())
		}
		token = tokenAfter(server.stdout.String(), "Superadmin API token")
		return token != "", nil
	})
	pubKey := filepath.Join(dir, "controller", "controller.pub")
	if !strings.Contains(server.stdout.String(), pubKey) {
		t.Errorf("the banner does not name the public key %s:\n%s", pubKey, server.stdout.String())
	}
	serverURL := "http://" + httpAddr
	admin := func(args ...string) string {
		t.Helper()
		return runCommand(t, ctx, sluiceBin, append(args, "--server", serverURL, "--token", token)...)
	}

	// Releases from the real APKs, then the example manifests.
	for _, f := range []string{"pos-1.0.0.apk", "pos-2.0.0.apk"} {
		var adm client.Admission
		decodeJSON(t, admin("release", "push", filepath.Join("internal", "testapk", "files", f), "-o", "json"), &adm)
		rel, err := adm.Release()
		if err != nil {
			t.Fatal(err)
		}
		a, _ := testapk.Lookup(f)
		want := fmt.Sprintf("created %s %s %d %s", a.Package, a.VersionName, a.VersionCode, serverURL+"/artifacts/"+rel.Artifact.SHA256)
		got := fmt.Sprintf("%s %s %s %d %s", adm.Action, rel.App, rel.VersionName, rel.VersionCode, strings.Join(rel.Artifact.URLs, ","))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("release push %s (-want +got):\n%s", f, diff)
		}
	}
	applied := admin("apply", "-f", "examples/fleet", "-o", "json")
	var res client.ApplyResult
	decodeJSON(t, applied, &res)
	var kinds []string
	for _, o := range res.Objects {
		kinds = append(kinds, o.Kind+" "+o.Name+" "+o.Action)
	}
	for _, want := range []string{"UpdatePolicy pos-default created", "UpdatePolicy pos-high-priority created", "Assignment pos-berlin created", "DeviceGroup store-berlin created", "Rule busiest-day created"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("apply -f examples/fleet did not report %q; got:\n%s", want, joinLines(kinds))
		}
	}

	// Two tills with POS 1.0.0 from the factory.
	now := time.Now()
	berlin, hamburg := filepath.Join(dir, "till-berlin"), filepath.Join(dir, "till-hamburg")
	for _, d := range []string{berlin, hamburg} {
		dev, err := sim.Open(filepath.Join(d, "sim"), sim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := dev.Seed(posApp, testapk.Path(t, "pos-1.0.0.apk")); err != nil {
			t.Fatal(err)
		}
	}
	// Berlin's local time is 02:00, inside its 22:00–06:00 window; Hamburg's
	// day is not a Saturday, when examples/fleet/busiest-day.rego denies.
	runCommand(t, ctx, agentBin, "sim", "set", "--data", berlin, "tz="+fixedZone(now, 2))
	runCommand(t, ctx, agentBin, "sim", "set", "--data", hamburg, "tz="+zoneAvoiding(now, time.Saturday))

	promptAddr := freeAddr(t)
	config := filepath.Join(dir, "till-berlin.yaml")
	writeFile(t, config, fmt.Sprintf(`nats: nats://%s
deviceId: till-berlin-1
data: till-berlin
controllerKey: [controller/controller.pub]
platform: sim
labels: {store: berlin-01, model: P2}
promptAddr: %q
senseInterval: 200ms
reportInterval: 2s
`, natsAddr, promptAddr))
	agentA := startProcess(t, "sluice-agent (config file)", agentBin, "run", "--config", config)
	agentB := startProcess(t, "sluice-agent (flags)", agentBin, "run",
		"--nats", "nats://"+natsAddr, "--device-id", "till-hamburg-1", "--data", hamburg,
		"--controller-key", pubKey, "--platform", "sim", "--labels", "store=hamburg-02,model=V2",
		"--prompt-addr", "", "--sense-interval", "200ms", "--report-interval", "2s")

	devices := func() map[string]client.DeviceRecord {
		var list struct{ Items []client.Record }
		decodeJSON(t, admin("get", "devices", "-o", "json"), &list)
		out := map[string]client.DeviceRecord{}
		for _, r := range list.Items {
			d, err := r.Device()
			if err != nil {
				t.Fatal(err)
			}
			out[r.Name] = d
		}
		return out
	}
	// Berlin waits for Wi-Fi, charging and idle; Hamburg does not wait.
	eventually(t, 60*time.Second, "till-berlin-1 reporting that POS 2.0.0 waits for its constraints", func() (bool, error) {
		d, ok := devices()["till-berlin-1"]
		if !ok || d.LastReport == nil {
			return false, nil
		}
		st := d.LastReport.Status[posApp]
		return st.State == "waiting" && st.TargetCode == 200 && slices.Equal(st.WaitingFor,
			[]string{protocol.WaitingForUnmeteredNetwork, protocol.WaitingForCharging, protocol.WaitingForIdle}), nil
	})
	eventually(t, 60*time.Second, "till-hamburg-1 installing POS 2.0.0 at once", func() (bool, error) {
		d, ok := devices()["till-hamburg-1"]
		return ok && d.Device.Apps[posApp].VersionName == "2.0.0", nil
	})
	if v := devices()["till-berlin-1"].Device.Apps[posApp].VersionName; v != "1.0.0" {
		t.Fatalf("till-berlin-1 has POS %s before its constraints hold; want 1.0.0", v)
	}
	runCommand(t, ctx, agentBin, "sim", "set", "--data", berlin, "wifi=on", "charging=on", "idle=on")
	eventually(t, 60*time.Second, "till-berlin-1 installing POS 2.0.0 once its constraints hold", func() (bool, error) {
		return devices()["till-berlin-1"].Device.Apps[posApp].VersionName == "2.0.0", nil
	})

	// The devices themselves hold 2.0.0.
	for _, d := range []string{berlin, hamburg} {
		dev, err := sim.Open(filepath.Join(d, "sim"), sim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		apps, err := dev.Installed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{posApp: "2.0.0"}, versions(apps)); diff != "" {
			t.Errorf("%s installed (-want +got):\n%s", filepath.Base(d), diff)
		}
	}

	// The prompt API of the agent started from the config file answers.
	var st struct {
		DeviceID string `json:"deviceId"`
		Platform string `json:"platform"`
	}
	getJSON(t, ctx, "http://"+promptAddr+"/v1/status", &st)
	if diff := cmp.Diff("till-berlin-1 sim", st.DeviceID+" "+st.Platform); diff != "" {
		t.Errorf("prompt API status (-want +got):\n%s", diff)
	}

	// explain: up to date under pos-default, the directive acknowledged.
	eventually(t, 30*time.Second, "explain till-berlin-1 showing the directive acknowledged", func() (bool, error) {
		var ex client.Explanation
		decodeJSON(t, admin("explain", "till-berlin-1", "--app", posApp, "-o", "json"), &ex)
		if len(ex.Decisions) != 1 || ex.Directive == nil {
			return false, fmt.Errorf("explain: %d decisions, directive %v", len(ex.Decisions), ex.Directive)
		}
		d := ex.Decisions[0]
		got := fmt.Sprintf("%s %s %v %s groups=%v acked=%v", ex.Device.Apps[posApp].VersionName, d.Action, reasonCodes(d.Reasons),
			d.Policy.Name, ex.Groups, ex.Directive.Acknowledged == ex.Directive.Sequence)
		want := "2.0.0 none [UP_TO_DATE] pos-default groups=[all-stores model-p2 store-berlin] acked=true"
		if got != want {
			return false, fmt.Errorf("explain = %q, want %q", got, want)
		}
		return true, nil
	})
	table := admin("explain", "till-berlin-1")
	if !strings.Contains(table, "Device till-berlin-1") || !strings.Contains(table, "pos-default") {
		t.Errorf("explain table does not name the device and its policy:\n%s", table)
	}

	// The decision log: the install decision, then up to date.
	var log struct{ Items []client.DecisionEntry }
	decodeJSON(t, admin("audit", "decisions", "--device", "till-berlin-1", "--app", posApp, "-o", "json"), &log)
	var trail []string
	for _, e := range log.Items {
		d, err := e.Decision()
		if err != nil {
			t.Fatal(err)
		}
		s := fmt.Sprintf("%s %v %s", d.Action, reasonCodes(d.Reasons), d.Policy.Name)
		if d.Target != nil {
			s += " -> " + d.Target.VersionName
		}
		if len(trail) == 0 || trail[len(trail)-1] != s {
			trail = append(trail, s)
		}
	}
	wantTrail := []string{"install [UPDATE_AVAILABLE] pos-default -> 2.0.0", "none [UP_TO_DATE] pos-default"}
	if diff := cmp.Diff(wantTrail, trail); diff != "" {
		t.Errorf("decision log of till-berlin-1 (-want +got):\n%s", diff)
	}

	// The events the Berlin till reported, in the controller's stream.
	evs, err := readEvents(ctx, "nats://"+natsAddr, "till-berlin-1")
	if err != nil {
		t.Fatal(err)
	}
	wantEvents := map[string]int{
		posApp + " DownloadStart": 1, posApp + " DownloadComplete": 1, posApp + " InstallStart": 1, posApp + " InstallResult": 1,
	}
	if diff := cmp.Diff(wantEvents, countEvents(eventsNamed(evs, posApp, protocol.EventDownloadStart, protocol.EventDownloadComplete,
		protocol.EventInstallStart, protocol.EventInstallResult))); diff != "" {
		t.Errorf("till-berlin-1 POS events (-want +got):\n%s", diff)
	}
	if res := eventsNamed(evs, posApp, protocol.EventInstallResult); len(res) == 1 && res[0].Params[protocol.ParamSuccess] != "true" {
		t.Errorf("InstallResult params = %v; want zz_success true", res[0].Params)
	}

	// SIGTERM everything: clean exits, nothing left running.
	for _, p := range []*process{agentA, agentB, server} {
		if code := p.terminate(t, 30*time.Second); code != 0 {
			t.Errorf("%s exited with %d after SIGTERM; want 0\nstderr:\n%s", p, code, tail(p.stderr.String(), 2048))
		}
		if !p.gone() {
			t.Errorf("%s is still running after it exited", p)
		}
	}
}

// zoneAvoiding returns the Etc zone whose local date at now is not on
// day and stays so the longest. Etc zones span 26 hours of offsets, so
// their local dates at one instant always cover two days.
func zoneAvoiding(now time.Time, day time.Weekday) string {
	best, left := "", time.Duration(0)
	for off := -12; off <= 14; off++ {
		local := now.UTC().Add(time.Duration(off) * time.Hour)
		if local.Weekday() == day {
			continue
		}
		midnight := time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, time.UTC)
		if d := midnight.Sub(local); d > left {
			best, left = etcZone(off), d
		}
	}
	return best
}

// decodeJSON decodes a command's JSON output.
func decodeJSON(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, tail(out, 2048), err)
	}
}

// getJSON GETs url and decodes its JSON answer.
func getJSON(t *testing.T, ctx context.Context, url string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", url, err)
	}
}
