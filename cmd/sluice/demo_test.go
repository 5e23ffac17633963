package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/protocol"
)

// TestDemo plays the whole story in-process, faster, and checks the exit
// code, the summary and that nothing it started outlives it.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs a controller and 21 agents; skipped with -short")
	}
	// run's signal.NotifyContext starts os/signal's watcher, which lives as
	// long as the process: start it before counting.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR2)
	signal.Stop(sig)
	baseline, _ := sandbox.Goroutines()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run([]string{"demo", "--speed", "20"}, &stdout, &stderr)
	t.Logf("the demo took %s", time.Since(start).Round(100*time.Millisecond))
	out := stdout.String()
	if code != cli.ExitOK {
		t.Fatalf("exit code %d, want 0; stderr:\n%s\nstdout:\n%s", code, stderr.String(), out)
	}

	// The story's steps, in order.
	var got []string
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "== ") {
			got = append(got, strings.Fields(line)[1])
		}
	}
	want := []string{"The", "Policies:", "The", "1.", "2.", "3.", "4.", "5.", "6.", "7.", "Summary"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headings (-want +got):\n%s", diff)
	}

	// What the prompts and the old agent showed.
	for _, s := range []string{
		"till-berlin-01   the user taps later\n",
		"GET prompt: no prompt now (HIDDEN_BY_USER, until Tue 00:00)",
		"till-hamburg-01  the user taps later: refused: action: later is not allowed",
		"till-munich-02   agent 1.0.0: kiosk action unsupported, CLIENT_TOO_OLD",
		"menu 5.1.0 installed (was 4.3.3)",
		"Every till ended as the story expected (63 apps on 21 tills).",
		"sluice explain till-munich-02 --server http://127.0.0.1:8080",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("the output lacks %q", s)
		}
	}

	// The summary, row by row for the tills with a part in the story.
	rows := summaryRows(t, out)
	if len(rows) != 63 {
		t.Errorf("summary has %d rows, want 63 (21 tills, 3 apps)", len(rows))
	}
	wantRows := map[string]string{
		"till-berlin-01 pos":    "store-berlin pos-default 1.0.0 -> 3.0.0 UP_TO_DATE",
		"till-berlin-01 menu":   "store-berlin menu-prompt 4.3.3 -> 5.1.0 UP_TO_DATE",
		"till-berlin-02 menu":   "store-berlin menu-prompt 4.5.0 -> 4.5.0 FORCED",
		"till-hamburg-01 menu":  "store-hamburg menu-forced 5.0.0 -> 5.1.0 UP_TO_DATE",
		"till-hamburg-02 pos":   "store-hamburg pos-high-priority 1.1.0 -> 3.0.0 UP_TO_DATE",
		"till-hamburg-02 kiosk": "store-hamburg kiosk-min-client 1.0.0 -> 2.0.0 UP_TO_DATE",
		"till-munich-01 menu":   "store-munich menu-range 4.3.3 -> 5.0.0 NOT_IN_ELIGIBLE_RANGE",
		"till-munich-02 kiosk":  "store-munich kiosk-min-client 1.0.0 -> 1.0.0 CLIENT_TOO_OLD",
		"till-munich-03 menu":   "store-munich menu-range 4.5.0 -> 4.5.0 EXCLUDED_VERSION",
		"till-munich-07 pos":    "store-munich pos-postponed 2.1.0 -> 3.0.0 UP_TO_DATE",
	}
	gotRows := map[string]string{}
	for k := range wantRows {
		gotRows[k] = rows[k]
	}
	if diff := cmp.Diff(wantRows, gotRows); diff != "" {
		t.Errorf("summary rows (-want +got):\n%s", diff)
	}
	// The rollout picked about half of the 12 P2 tills.
	picked := 0
	for k, v := range rows {
		if strings.HasSuffix(k, " kiosk") && strings.Contains(v, "kiosk-rollout 1.0.0 -> 2.0.0") {
			picked++
		}
	}
	if picked < 3 || picked > 9 {
		t.Errorf("the rollout picked %d of 12 P2 tills, want about half", picked)
	}

	err := sandbox.WaitFor(context.Background(), 15*time.Second, "the demo's goroutines to end", func() (bool, error) {
		n, _ := sandbox.Goroutines()
		return n <= baseline, nil
	})
	if err != nil {
		n, stacks := sandbox.Goroutines()
		t.Errorf("%v: %d goroutines, %d before:\n%s", err, n, baseline, stacks)
	}
}

// TestDemoUnexpected plays the story with one deliberately wrong
// expectation: the demo must end with ExitUnexpected, naming the till.
func TestDemoUnexpected(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs a controller and 20 agents; skipped with -short")
	}
	defer func(f func(demoTill, string) outcome) { demoExpected = f }(demoExpected)
	demoExpected = func(till demoTill, app string) outcome {
		if till.ID == "till-munich-02" && app == appKiosk {
			return outcome{"kiosk-min-client", "2.0.0", protocol.ReasonUpToDate} // as if its old agent could take the push
		}
		return till.expected(app)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"demo", "--devices", "20", "--speed", "50"}, &stdout, &stderr)
	if code != cli.ExitUnexpected {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, cli.ExitUnexpected, stderr.String())
	}
	want := "sluice: demo: 1 of 60 apps ended in a state the story did not expect:\n" +
		"  till-munich-02 kiosk: want 2.0.0 UP_TO_DATE (kiosk-min-client), got 1.0.0 CLIENT_TOO_OLD (kiosk-min-client)\n"
	if diff := cmp.Diff(want, stderr.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if strings.Contains(stdout.String(), "Every till ended as the story expected") {
		t.Error("the output claims every till ended as expected")
	}
}

// summaryRows reads the summary table: "DEVICE APP" → "GROUP POLICY
// BEFORE -> AFTER REASON".
func summaryRows(t *testing.T, out string) map[string]string {
	t.Helper()
	_, table, ok := strings.Cut(out, "== Summary\n")
	if !ok {
		t.Fatal("no summary in the output")
	}
	rows := map[string]string{}
	for line := range strings.Lines(table) {
		f := strings.Fields(line)
		if len(f) == 0 {
			break
		}
		if f[0] == "DEVICE" || len(f) != 8 {
			continue
		}
		rows[f[0]+" "+f[2]] = strings.Join(append([]string{f[1]}, f[3:]...), " ")
	}
	return rows
}

// TestSummaryUnexpected checks that an outcome other than the story's
// makes the demo fail with ExitUnexpected, naming the till.
func TestSummaryUnexpected(t *testing.T) {
	fleet := demoFleet(21)
	var berlin, munich demoTill
	for _, till := range fleet {
		switch till.ID {
		case "till-berlin-01":
			berlin = till
		case "till-munich-02":
			munich = till
		}
	}
	asExpected := func(till demoTill, app string) summaryRow {
		return summaryRow{Till: till, App: app, Want: till.expected(app), Got: till.expected(app)}
	}
	wrongVersion := asExpected(berlin, appPOS)
	wrongVersion.Got.Version = "1.0.0"
	wrongReason := asExpected(munich, appKiosk)
	wrongReason.Want.Reason = protocol.ReasonUpToDate // a deliberately wrong expectation

	for _, tc := range []struct {
		name     string
		rows     []summaryRow
		wantCode int
		wantText []string
	}{
		{"as expected", []summaryRow{asExpected(berlin, appPOS), asExpected(munich, appKiosk)}, cli.ExitOK,
			[]string{"Every till ended as the story expected (2 apps on 0 tills)."}},
		{"version differs", []summaryRow{wrongVersion, asExpected(munich, appKiosk)}, cli.ExitUnexpected,
			[]string{"1 of 2 apps ended in a state the story did not expect", "till-berlin-01 pos: want 3.0.0 UP_TO_DATE (pos-default), got 1.0.0 UP_TO_DATE (pos-default)"}},
		{"wrong expectation", []summaryRow{asExpected(berlin, appPOS), wrongReason}, cli.ExitUnexpected,
			[]string{"till-munich-02 kiosk: want 1.0.0 UP_TO_DATE (kiosk-min-client), got 1.0.0 CLIENT_TOO_OLD (kiosk-min-client)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := writeSummary(&b, tc.rows)
			if got := cli.Code(err); got != tc.wantCode {
				t.Errorf("exit code %d, want %d (error %v)", got, tc.wantCode, err)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(b.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, b.String())
				}
			}
		})
	}
}

func TestDemoFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"too few devices", []string{"demo", "--devices", "5"}, "sluice: --devices: 5 is not allowed; want 20 to 300 tills\n"},
		{"zero speed", []string{"demo", "--speed", "0"}, "sluice: --speed: 0 is not allowed; want a factor above 0 and at most 100 (2 plays the story twice as fast)\n"},
		{"argument", []string{"demo", "now"}, `sluice: accepts 0 arg(s), received 1 (see 'sluice demo --help')` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != cli.ExitUsage {
				t.Errorf("exit code %d, want %d", code, cli.ExitUsage)
			}
			if diff := cmp.Diff(tc.want, stderr.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDemoFleet checks the parts the fleet gives its tills.
func TestDemoFleet(t *testing.T) {
	type part struct {
		Store, Model, Agent, POS, Menu string
		Prompt                         bool
	}
	fleet := demoFleet(21)
	got := map[string]part{}
	stores := map[string]int{}
	for _, till := range fleet {
		got[till.ID] = part{till.Store.City, till.Model, till.AgentVersion, till.Installed[appPOS], till.Installed[appMenu], till.Prompt}
		stores[till.Store.City]++
	}
	want := map[string]part{
		"till-berlin-01":  {"Berlin", "P2", "1.3.0", "1.0.0", "4.3.3", true},
		"till-hamburg-01": {"Hamburg", "P2", "1.3.0", "2.0.0", "5.0.0", true},
		"till-munich-02":  {"Munich", "V2", "1.0.0", "2.1.0", "5.0.0", false},
		"till-munich-03":  {"Munich", "P2", "1.3.0", "2.1.0", "4.5.0", false},
	}
	for id, w := range want {
		if diff := cmp.Diff(w, got[id]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", id, diff)
		}
	}
	if diff := cmp.Diff(map[string]int{"Berlin": 7, "Hamburg": 7, "Munich": 7}, stores); diff != "" {
		t.Errorf("tills per store (-want +got):\n%s", diff)
	}
	if n := len(demoFleet(40)); n != 40 {
		t.Errorf("demoFleet(40) has %d tills", n)
	}
}

// TestDemoReleases checks the history comes from the embedded example
// releases, oldest first, with the large menu 5.1.0.
func TestDemoReleases(t *testing.T) {
	h, err := demoReleases()
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for i, r := range h {
		files = append(files, r.File)
		if i > 0 && r.At.Before(h[i-1].At) {
			t.Errorf("%s (%s) comes after %s (%s)", r.File, r.At, h[i-1].File, h[i-1].At)
		}
	}
	want := []string{"menu-4.3.3.apk", "kiosk-1.0.0.apk", "pos-1.0.0.apk", "pos-1.1.0.apk", "menu-4.5.0.apk", "pos-2.0.0.apk",
		"menu-5.0.0.apk", "pos-2.1.0.apk", "kiosk-2.0.0.apk", "pos-3.0.0.apk", largeMenu}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

// TestDemoKeepPortsInUse checks that --keep refuses at once, naming the
// address, when its port is taken.
func TestDemoKeepPortsInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = portsFree(ln.Addr().String())
	if got := cli.Code(err); got != cli.ExitUnavailable {
		t.Fatalf("exit code %d (error %v), want %d", got, err, cli.ExitUnavailable)
	}
	if want := "--keep: " + ln.Addr().String() + " is in use"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
	ln.Close()
	if err := portsFree(ln.Addr().String()); err != nil {
		t.Errorf("after the listener closed: %v", err)
	}
}
