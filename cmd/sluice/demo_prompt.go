package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sluice-mdm/sluice/agent"
	"github.com/sluice-mdm/sluice/agent/promptapi"
	"github.com/sluice-mdm/sluice/agent/state"
	"github.com/sluice-mdm/sluice/internal/cli"
)

// stepPrompts plays the menu app on one Berlin till (a closable prompt)
// and one Hamburg till (a forced update) through the agents' local
// prompt API, as the app itself would.
func (d *demo) stepPrompts(ctx context.Context) error {
	d.heading("4. Prompts: the demo plays the menu app on two tills, through the agent's local prompt API")
	var berlin, hamburg demoTill
	for _, t := range d.tills {
		switch {
		case t.Prompt && t.Store.City == "Berlin":
			berlin = t
		case t.Prompt && t.Store.City == "Hamburg":
			hamburg = t
		}
	}

	d.say("%s (menu-prompt: closable, at most twice a day)", berlin.ID)
	ans, err := d.askPrompt(ctx, berlin)
	if err != nil {
		return err
	}
	if !ans.Show || ans.Forced {
		return d.unexpectedPrompt(berlin, "a closable prompt", ans)
	}
	if err := d.press(ctx, berlin, promptapi.ActionLater, http.StatusAccepted); err != nil {
		return err
	}
	if ans, err = d.askPrompt(ctx, berlin); err != nil {
		return err
	}
	if ans.Show {
		return d.unexpectedPrompt(berlin, "no prompt after later", ans)
	}
	if err := d.pause(ctx, time.Second); err != nil {
		return err
	}
	d.setClock(nextMorning, "a new day in the store, and a new day's prompts")
	if ans, err = d.askPrompt(ctx, berlin); err != nil {
		return err
	}
	if !ans.Show {
		return d.unexpectedPrompt(berlin, "the prompt again on a new day", ans)
	}
	if err := d.updateNow(ctx, berlin); err != nil {
		return err
	}

	d.say("%s (menu-forced: the app is unusable until updated)", hamburg.ID)
	if ans, err = d.askPrompt(ctx, hamburg); err != nil {
		return err
	}
	if !ans.Show || !ans.Forced {
		return d.unexpectedPrompt(hamburg, "a forced prompt", ans)
	}
	if err := d.press(ctx, hamburg, promptapi.ActionLater, http.StatusConflict); err != nil {
		return err
	}
	return d.updateNow(ctx, hamburg)
}

// unexpectedPrompt ends the demo: the prompt API did not answer as the
// story expects.
func (d *demo) unexpectedPrompt(t demoTill, want string, got state.PromptAnswer) error {
	b, _ := json.Marshal(got)
	return cli.Errorf(cli.ExitUnexpected, "demo: %s: want %s, the prompt API answered %s", t.ID, want, b)
}

// promptURL is the till's prompt API URL for the menu app.
func (d *demo) promptURL(t demoTill, what string) string {
	return d.devs[t.ID].PromptURL() + "/v1/apps/" + appMenu + "/" + what
}

// askPrompt is the app's "should I show my update prompt?", printed.
func (d *demo) askPrompt(ctx context.Context, t demoTill) (state.PromptAnswer, error) {
	var ans state.PromptAnswer
	if _, err := d.promptCall(ctx, http.MethodGet, d.promptURL(t, "prompt"), nil, &ans); err != nil {
		return ans, err
	}
	switch {
	case ans.Show && ans.Forced:
		d.say("%-16s GET prompt: show a prompt that cannot be closed: %q [Update] (menu %s)", t.ID, ans.Text, ans.VersionName)
	case ans.Show:
		d.say("%-16s GET prompt: show %q [Update] [Later] (menu %s; %d more today)", t.ID, ans.Text, ans.VersionName, ans.ShowsLeft)
	default:
		next := ""
		if !ans.NextShow.IsZero() {
			next = ", until " + ans.NextShow.In(d.loc).Format("Mon 15:04")
		}
		d.say("%-16s GET prompt: no prompt now (%s%s)", t.ID, ans.Reason, next)
	}
	return ans, nil
}

// press is the user's button, printed; the answer's status must be want.
func (d *demo) press(ctx context.Context, t demoTill, action string, want int) error {
	body, _ := json.Marshal(map[string]string{"action": action})
	var answer struct {
		Error string `json:"error"`
	}
	status, err := d.promptCall(ctx, http.MethodPost, d.promptURL(t, "prompt"), body, &answer)
	if err != nil {
		return err
	}
	if status != want {
		return cli.Errorf(cli.ExitUnexpected, "demo: %s: %q answered %d, want %d (%s)", t.ID, action, status, want, answer.Error)
	}
	if answer.Error != "" {
		d.say("%-16s the user taps %s: refused: %s", t.ID, action, answer.Error)
	} else {
		d.say("%-16s the user taps %s", t.ID, action)
	}
	return nil
}

// updateNow presses "update" and follows the download with a progress
// bar, as the app's dialog would, until the new version is installed.
func (d *demo) updateNow(ctx context.Context, t demoTill) error {
	if err := d.press(ctx, t, promptapi.ActionUpdate, http.StatusAccepted); err != nil {
		return err
	}
	bar := &cli.Bar{W: d.out, Label: fmt.Sprintf("  %-16s menu", t.ID), Terminal: d.term, Every: 500 * time.Millisecond}
	var last promptapi.Progress
	drawn := false
	err := d.waitFor(ctx, t.ID+" to download menu", func() (bool, error) {
		var p promptapi.Progress
		if _, err := d.promptCall(ctx, http.MethodGet, d.promptURL(t, "progress"), nil, &p); err != nil {
			return false, err
		}
		if p.Total > 0 {
			last = p
			bar.Update(p.Downloaded, p.Total, p.BytesPerSecond, time.Duration(p.RemainingSeconds*float64(time.Second)))
			drawn = true
		}
		switch p.State {
		case agent.PhaseVerifying, agent.PhaseInstalling, agent.PhaseInstalled:
			return true, nil
		case agent.PhaseFailed:
			return false, fmt.Errorf("%s failed: %s", t.ID, p.Error)
		}
		v, err := d.installed(ctx, t.ID, appMenu)
		return v == "5.1.0", err
	})
	if err != nil {
		return err
	}
	if drawn && last.Downloaded < last.Total {
		bar.Update(last.Total, last.Total, last.BytesPerSecond, 0)
	}
	return d.follow(ctx, []demoTill{t}, appMenu, "5.1.0")
}

// promptCall makes one request to a prompt API and decodes its JSON
// answer into out, whatever the status.
func (d *demo) promptCall(ctx context.Context, method, url string, body []byte, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, fmt.Errorf("demo: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.prompt.Do(req)
	if err != nil {
		return 0, fmt.Errorf("demo: prompt api: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("demo: prompt api: %s %s: %s: %w", method, url, resp.Status, err)
	}
	return resp.StatusCode, nil
}
