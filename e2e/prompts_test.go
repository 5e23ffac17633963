package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluice-mdm/sluice/agent/state"
	"github.com/sluice-mdm/sluice/examples"
	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/protocol"
)

const menuApp = "com.example.menu"

// promptGet asks the device's prompt API whether app should prompt now.
func promptGet(t *testing.T, ctx context.Context, d *sandbox.Device, app string) state.PromptAnswer {
	t.Helper()
	var ans state.PromptAnswer
	getJSON(t, ctx, d.PromptURL()+"/v1/apps/"+app+"/prompt", &ans)
	return ans
}

// promptPost sends the user's choice and returns the status code and the
// JSON answer.
func promptPost(t *testing.T, ctx context.Context, d *sandbox.Device, app, body string) (int, map[string]string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.PromptURL()+"/v1/apps/"+app+"/prompt", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST prompt %s: %v", body, err)
	}
	defer resp.Body.Close()
	var out map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST prompt %s: decode: %v", body, err)
	}
	return resp.StatusCode, out
}

// shown summarises a prompt answer: "show closable left=N", "show
// forced", or "hidden REASON until TIME", the time to the minute (the
// clock flows on between jumps).
func shown(a state.PromptAnswer) string {
	switch {
	case a.Show && a.Forced:
		return fmt.Sprintf("show forced %s", a.VersionName)
	case a.Show:
		return fmt.Sprintf("show closable %s left=%d", a.VersionName, a.ShowsLeft)
	}
	return fmt.Sprintf("hidden %s until %s", a.Reason, a.NextShow.UTC().Format("2006-01-02T15:04Z"))
}

// TestPrompts runs the example menu policies (examples/fleet): Berlin's
// closable prompt at most twice per device-local day, which becomes
// forced 14 days after the release; Hamburg's forced update.
func TestPrompts(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Monday 4 May 2026, 08:00 in Berlin (UTC+2).
	t0 := time.Date(2026, 5, 4, 6, 0, 0, 0, time.UTC)
	clock := sandbox.NewClock(t0)
	sys := startSystem(t, sandbox.Config{Clock: clock})
	if _, err := sys.Apply(ctx, examples.FS, "fleet"); err != nil {
		t.Fatal(err)
	}
	pushReleases(t, ctx, sys, "menu-5.1.0.apk")
	spec := func(id, store string) sandbox.DeviceSpec {
		return sandbox.DeviceSpec{ID: id, Labels: map[string]string{"store": store, "model": "V2"}, TimeZone: "Europe/Berlin",
			Installed: []string{"menu-4.3.3.apk"}, PromptAPI: true}
	}
	daily := startDevice(t, ctx, sys, spec("till-berlin-a", "berlin-01"))
	later := startDevice(t, ctx, sys, spec("till-berlin-b", "berlin-01"))
	forced := startDevice(t, ctx, sys, spec("till-hamburg", "hamburg-02"))
	for _, d := range []*sandbox.Device{daily, later} {
		waitDecision(t, ctx, sys, d, menuApp, "prompt [UPDATE_AVAILABLE] -> 5.1.0")
	}
	waitDecision(t, ctx, sys, forced, menuApp, "force [FORCED] -> 5.1.0")

	// Hamburg: forced, "later" refused, "update" installs.
	if diff := cmp.Diff("show forced 5.1.0", shown(promptGet(t, ctx, forced, menuApp))); diff != "" {
		t.Errorf("till-hamburg prompt (-want +got):\n%s", diff)
	}
	if code, _ := promptPost(t, ctx, forced, menuApp, `{"action": "later"}`); code != http.StatusConflict {
		t.Errorf("later on a forced prompt: status %d, want 409", code)
	}
	if code, _ := promptPost(t, ctx, forced, menuApp, `{"action": "update"}`); code != http.StatusAccepted {
		t.Fatalf("update on a forced prompt: status %d, want 202", code)
	}
	waitVersion(t, ctx, forced, menuApp, "5.1.0")

	// till-berlin-b closes its first prompt too; it comes back forced below.
	if got := shown(promptGet(t, ctx, later, menuApp)); got != "show closable 5.1.0 left=1" {
		t.Fatalf("till-berlin-b first prompt = %q", got)
	}
	if code, _ := promptPost(t, ctx, later, menuApp, `{"action": "later"}`); code != http.StatusAccepted {
		t.Fatalf("later: status %d, want 202", code)
	}

	// Berlin, twice a day: a "later" hides the prompt for 12 hours, at most
	// until local midnight; the third showing waits for the next local day,
	// which starts at 22:00 UTC.
	steps := []struct {
		name   string
		at     time.Time // zero: now
		action string    // posted after the check, if any
		want   string
	}{
		{name: "08:00 first showing", action: "later", want: "show closable 5.1.0 left=1"},
		{name: "08:00 after later", want: "hidden HIDDEN_BY_USER until 2026-05-04T18:00Z"},
		{name: "19:59 still hidden", at: t0.Add(12*time.Hour - time.Minute), want: "hidden HIDDEN_BY_USER until 2026-05-04T18:00Z"},
		{name: "20:01 second showing", at: t0.Add(12*time.Hour + time.Minute), action: "later", want: "show closable 5.1.0 left=0"},
		{name: "23:50 daily limit", at: time.Date(2026, 5, 4, 21, 50, 0, 0, time.UTC), want: "hidden DAILY_LIMIT_REACHED until 2026-05-04T22:00Z"},
		{name: "00:10 next local day, same UTC day", at: time.Date(2026, 5, 4, 22, 10, 0, 0, time.UTC), action: "update", want: "show closable 5.1.0 left=1"},
	}
	for _, st := range steps {
		if !st.at.IsZero() {
			clock.Set(st.at)
		}
		got := shown(promptGet(t, ctx, daily, menuApp))
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Fatalf("%s: prompt (-want +got):\n%s", st.name, diff)
		}
		if st.action != "" {
			if code, ans := promptPost(t, ctx, daily, menuApp, fmt.Sprintf(`{"action": %q}`, st.action)); code != http.StatusAccepted {
				t.Fatalf("%s: %s: status %d %v", st.name, st.action, code, ans)
			}
		}
	}
	waitVersion(t, ctx, daily, menuApp, "5.1.0")
	waitDecision(t, ctx, sys, daily, menuApp, "none [UP_TO_DATE]")

	// Fifteen days after the release, till-berlin-b's prompt is forced.
	clock.Set(t0.Add(15 * 24 * time.Hour))
	if diff := cmp.Diff("show forced 5.1.0", shown(promptGet(t, ctx, later, menuApp))); diff != "" {
		t.Errorf("till-berlin-b prompt after forceAfter (-want +got):\n%s", diff)
	}
	if code, _ := promptPost(t, ctx, later, menuApp, `{"action": "later"}`); code != http.StatusConflict {
		t.Errorf("later after forceAfter: status %d, want 409", code)
	}
	ex := waitDecision(t, ctx, sys, later, menuApp, "force [FORCED] -> 5.1.0")
	// Explain decides afresh: wait for the forced decision to reach the
	// agent too, so that the click below is not made on the old one.
	waitFor(t, ctx, scenarioTimeout, "till-berlin-b enforcing the forced decision", func() (bool, error) {
		s, _ := appStatus(later, menuApp)
		return s.Action == string(protocol.ActionForce), fmt.Errorf("action %q", s.Action)
	})
	if diff := cmp.Diff("menu-prompt", ex.Decisions[0].Policy.Name); diff != "" {
		t.Errorf("till-berlin-b policy (-want +got):\n%s", diff)
	}
	if code, _ := promptPost(t, ctx, later, menuApp, `{"action": "update"}`); code != http.StatusAccepted {
		t.Fatalf("update after forceAfter: status %d", code)
	}
	waitVersion(t, ctx, later, menuApp, "5.1.0")

	// Every device ends on 5.1.0, and the controller holds what happened.
	for _, tc := range []struct {
		dev    *sandbox.Device
		trail  []string
		prompt map[string]int
	}{
		{dev: daily, trail: []string{"prompt [UPDATE_AVAILABLE] -> 5.1.0", "none [UP_TO_DATE]"},
			prompt: map[string]int{"UpdateCheck": 6, "UpdateDialogShow": 3, "UpdateButtonClick later": 2, "UpdateButtonClick update": 1}},
		{dev: later, trail: []string{"prompt [UPDATE_AVAILABLE] -> 5.1.0", "force [FORCED] -> 5.1.0", "none [UP_TO_DATE]"},
			prompt: map[string]int{"UpdateCheck": 2, "UpdateDialogShow": 2, "UpdateButtonClick later": 1, "UpdateButtonClick update": 1}},
		{dev: forced, trail: []string{"force [FORCED] -> 5.1.0", "none [UP_TO_DATE]"},
			prompt: map[string]int{"UpdateCheck": 1, "UpdateDialogShow": 1, "UpdateButtonClick update": 1}},
	} {
		if diff := cmp.Diff(map[string]string{menuApp: "5.1.0"}, installed(t, ctx, tc.dev)); diff != "" {
			t.Errorf("%s installed (-want +got):\n%s", tc.dev.ID(), diff)
		}
		waitDecision(t, ctx, sys, tc.dev, menuApp, "none [UP_TO_DATE]")
		if diff := cmp.Diff(tc.trail, decisionTrail(t, ctx, sys, tc.dev.ID(), menuApp)); diff != "" {
			t.Errorf("%s decision log (-want +got):\n%s", tc.dev.ID(), diff)
		}
		evs := waitEvents(t, ctx, sys, tc.dev.ID(), map[string]int{menuApp + " InstallResult": 1})
		if diff := cmp.Diff(oneInstall(menuApp), installEvents(evs, menuApp)); diff != "" {
			t.Errorf("%s install events (-want +got):\n%s", tc.dev.ID(), diff)
		}
		if diff := cmp.Diff(tc.prompt, promptEvents(evs, menuApp)); diff != "" {
			t.Errorf("%s prompt events (-want +got):\n%s", tc.dev.ID(), diff)
		}
	}
}

// promptEvents counts the prompt API's events of app by name, and button
// clicks by action.
func promptEvents(evs []protocol.Event, app string) map[string]int {
	out := map[string]int{}
	for _, e := range eventsNamed(evs, app, protocol.EventUpdateCheck, protocol.EventUpdateDialogShow, protocol.EventUpdateButtonClick) {
		k := string(e.Name)
		if a := e.Params[protocol.ParamButtonAction]; a != "" {
			k += " " + a
		}
		out[k]++
	}
	return out
}
