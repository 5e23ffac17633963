package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sluice-mdm/sluice/agent"
	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/protocol"
)

// stepRange shows menu-range in Munich: a 4.3.3 till updated to the
// latest 5.0.x, an excluded 4.5.0 till that stays.
func (d *demo) stepRange(ctx context.Context) error {
	d.heading("5. A version range (menu-range, Munich): >=4.3.3 <5.0.0, except 4.5.0, to the latest 5.0.x")
	munich := d.tillsWhere(inCity("Munich"))
	var movers []demoTill
	for _, t := range munich {
		if t.Installed[appMenu] == "4.3.3" {
			movers = append(movers, t)
		}
	}
	if err := d.follow(ctx, movers, appMenu, "5.0.0"); err != nil {
		return err
	}
	for _, t := range munich {
		if t.Installed[appMenu] == "4.3.3" {
			continue
		}
		dec, err := d.decision(ctx, t.ID, appMenu)
		if err != nil {
			return err
		}
		code, msg := reason(dec)
		d.say("%-16s menu %s stays: %s", t.ID, t.Installed[appMenu], code)
		d.note("%s", msg)
	}
	return nil
}

// stepPostponed shows Munich's POS updates held for 90 days even when
// every constraint holds, then jumps the clock past the period.
func (d *demo) stepPostponed(ctx context.Context) error {
	d.heading("6. Postponed (pos-postponed, Munich): nothing for 90 days after the app becomes out of date")
	munich := d.tillsWhere(inCity("Munich"))
	for _, t := range munich {
		if err := d.devs[t.ID].Set(ctx, "wifi=on", "charging=on", "idle=on", "foreground=none"); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	err := d.waitFor(ctx, "Munich's tills to wait for their postponement", func() (bool, error) {
		for _, t := range munich {
			st := d.appStatus(t.ID, appPOS)
			sensed := d.devs[t.ID].Status().State
			ready := sensed.Unmetered && sensed.Charging && sensed.Idle && sensed.ForegroundApp == ""
			if st.State != agent.PhaseWaiting || strings.Join(st.WaitingFor, ",") != protocol.WaitingPostponed || !ready {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, t := range munich {
		st := d.appStatus(t.ID, appPOS)
		d.say("%-16s pos %s -> %s %s until %s", t.ID, t.Installed[appPOS], st.TargetVersion, protocol.WaitingPostponed, st.NotBefore.In(d.loc).Format("Mon 02 Jan 15:04"))
	}
	d.say("every Munich till is on Wi-Fi, charging and idle, and still waits")
	if err := d.pause(ctx, 2*time.Second); err != nil {
		return err
	}
	for _, t := range munich {
		if v, err := d.installed(ctx, t.ID, appPOS); err != nil || v != t.Installed[appPOS] {
			return cli.Errorf(cli.ExitUnexpected, "demo: %s installed pos %s during its postponement (%v)", t.ID, v, err)
		}
	}
	d.setClock(postponeEnd, "the 90 days are over")
	if err := d.follow(ctx, munich, appPOS, "3.0.0"); err != nil {
		return err
	}
	d.note("menu-prompt's 14 days (forceAfter) have passed too: Berlin's other menu prompts can no longer be closed.")
	return nil
}

// stepOldAgent shows the till whose agent is below kiosk-min-client's
// minClientVersion.
func (d *demo) stepOldAgent(ctx context.Context) error {
	d.heading("7. A till too old for the push (kiosk-min-client: minClientVersion 1.2.0)")
	id := d.oldAgentTill()
	dec, err := d.decision(ctx, id, appKiosk)
	if err != nil {
		return err
	}
	code, msg := reason(dec)
	d.say("%-16s agent %s: kiosk action %s, %s", id, oldAgentVersion, dec.Action, code)
	d.note("%s", msg)
	return nil
}

// summaryRow is one app of one till at the end of the story.
type summaryRow struct {
	Till demoTill
	App  string
	Want outcome
	Got  outcome
}

// demoExpected gives the story's expected outcome of an app on a till;
// tests replace it to check that a difference fails the demo.
var demoExpected = demoTill.expected

// summary waits for every till to settle (no install under way, the
// latest directive enforced), compares each app's outcome with the
// story's expectation, prints the table and sets d.unexpected when any
// differs.
func (d *demo) summary(ctx context.Context) error {
	d.heading("Summary")
	var rows []summaryRow
	settled := func() (bool, error) {
		rows = rows[:0]
		for _, t := range d.tills {
			st := d.devs[t.ID].Status()
			for _, a := range st.Apps {
				switch a.State {
				case agent.PhaseQueued, agent.PhaseDownloading, agent.PhaseVerifying, agent.PhaseInstalling:
					return false, nil
				}
			}
			ex, err := d.c.Explain(ctx, t.ID, "")
			if err != nil {
				return false, err
			}
			if ex.Directive == nil || ex.Directive.Sequence != st.DirectiveSequence {
				return false, nil
			}
			apps, err := d.devs[t.ID].Installed(ctx)
			if err != nil {
				return false, err
			}
			for _, app := range demoApps {
				r := summaryRow{Till: t, App: app, Want: demoExpected(t, app)}
				r.Got.Version = apps[app].VersionName
				for _, dec := range ex.Decisions {
					if dec.App == app {
						r.Got.Reason, _ = reason(dec)
						if dec.Policy != nil {
							r.Got.Policy = dec.Policy.Name
						}
					}
				}
				rows = append(rows, r)
			}
		}
		return true, nil
	}
	if err := d.waitFor(ctx, "every till to settle", settled); err != nil {
		return err
	}
	d.unexpected = writeSummary(d.out, rows)
	return nil
}

// writeSummary prints the summary table, then every difference from the
// expected outcomes; the error (ExitUnexpected) lists them.
func writeSummary(w io.Writer, rows []summaryRow) error {
	t := cli.NewTable("device", "group", "app", "policy", "before -> after", "reason")
	for _, r := range rows {
		t.Row(r.Till.ID, r.Till.Store.Group, short(r.App), r.Got.Policy, r.Till.Installed[r.App]+" -> "+r.Got.Version, r.Got.Reason)
	}
	var b strings.Builder
	if err := t.Write(&b); err != nil {
		return err
	}
	for line := range strings.Lines(b.String()) {
		fmt.Fprint(w, "  "+line)
	}
	err := compareOutcomes(rows)
	if err == nil {
		fmt.Fprintf(w, "\nEvery till ended as the story expected (%d apps on %d tills).\n", len(rows), len(rows)/len(demoApps))
		return nil
	}
	fmt.Fprintf(w, "\n%v\n", err)
	return err
}

// compareOutcomes compares each row's outcome with the story's; the
// error (with ExitUnexpected) has one line per difference.
func compareOutcomes(rows []summaryRow) error {
	var diffs []string
	for _, r := range rows {
		if r.Got != r.Want {
			diffs = append(diffs, fmt.Sprintf("  %s %s: want %s, got %s", r.Till.ID, short(r.App), r.Want, r.Got))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return cli.Errorf(cli.ExitUnexpected, "demo: %d of %d apps ended in a state the story did not expect:\n%s", len(diffs), len(rows), strings.Join(diffs, "\n"))
}

func (o outcome) String() string {
	return fmt.Sprintf("%s %s (%s)", orNone(o.Version), orNone(o.Reason), orNone(o.Policy))
}
