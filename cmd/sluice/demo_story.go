package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluice-mdm/sluice/agent"
	"github.com/sluice-mdm/sluice/examples"
	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/client"
	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/protocol"
)

// The story's dates. It starts on a Monday afternoon in the stores (the
// busiest-day rule keeps Hamburg's tills still on Saturdays, and no step
// falls on one).
var (
	storyStart  = time.Date(2026, 9, 21, 12, 0, 0, 0, time.UTC)  // Mon 14:00 in Berlin
	windowOpens = time.Date(2026, 9, 21, 20, 30, 0, 0, time.UTC) // Mon 22:30: inside pos-default's 22:00-06:00
	nextMorning = time.Date(2026, 9, 22, 7, 0, 0, 0, time.UTC)   // Tue 09:00: a new day of prompts
	// postponeEnd is past pos-postponed's 90 days, counted from the
	// Munich tills' enrolment at storyStart (Sun 20 Dec 14:00 in Berlin).
	postponeEnd = storyStart.Add(90*24*time.Hour + time.Hour)
)

// downloadRate is the bandwidth of the tills whose downloads the demo
// watches (at --speed 1), so that the 3 MiB menu takes a few seconds.
const downloadRate = 1 << 20

// play runs the whole story and the summary.
func (d *demo) play(ctx context.Context) error {
	loc, err := time.LoadLocation(demoTimeZone)
	if err != nil {
		return fmt.Errorf("demo: time zone %s: %w", demoTimeZone, err)
	}
	d.loc = loc
	steps := []func(context.Context) error{
		d.admitReleases, d.applyManifests, d.startTills,
		d.stepReports, d.stepDefaultMode, d.stepHighPriority, d.stepPrompts,
		d.stepRange, d.stepPostponed, d.stepOldAgent, d.summary,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
		if err := d.pause(ctx, time.Second); err != nil {
			return err
		}
	}
	return nil
}

// admitReleases pushes the demo apps' APKs through the admin API, each
// at its publication date, so that publishedAt is the admission time.
func (d *demo) admitReleases(ctx context.Context) error {
	d.heading("The demo apps' history: %d releases admitted at their publication dates", len(d.history))
	t := cli.NewTable("published (Berlin)", "app", "version", "code", "size", "sha256")
	for _, r := range d.history {
		d.clock.Set(r.At)
		rel, err := d.sys.PushRelease(ctx, r.File)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		t.Row(rel.PublishedAt.In(d.loc).Format("2006-01-02 15:04"), rel.App, rel.VersionName, rel.VersionCode, cli.Bytes(rel.Artifact.Size), shortHash(rel.Artifact.SHA256))
	}
	if err := d.table(t); err != nil {
		return err
	}
	d.note("Package, versions, signer and minSdk were read from the signed APKs themselves.")
	return nil
}

// applyManifests applies examples/fleet: groups, one policy per
// behaviour, assignments and the busiest-day rule.
func (d *demo) applyManifests(ctx context.Context) error {
	d.clock.Set(storyStart)
	d.heading("Policies: examples/fleet applied through the API")
	res, err := d.sys.Apply(ctx, examples.FS, "fleet")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	byKind := map[string][]string{}
	var kinds []string
	for _, o := range res.Objects {
		if _, ok := byKind[o.Kind]; !ok {
			kinds = append(kinds, o.Kind)
		}
		byKind[o.Kind] = append(byKind[o.Kind], o.Name)
	}
	for _, k := range kinds {
		d.say("%-13s %s", k, strings.Join(byKind[k], ", "))
	}
	d.note("pos: default (Berlin), highPriority (Hamburg), postponed 90 days (Munich)")
	d.note("menu: closable prompt twice a day (Berlin), forced (Hamburg), range >=4.3.3 <5.0.0 except 4.5.0 (Munich)")
	d.note("kiosk: 50%% rollout on P2 tills; minClientVersion 1.2.0 elsewhere")
	return nil
}

// startTills starts the simulated tills with their seeded apps and
// state.
func (d *demo) startTills(ctx context.Context) error {
	d.heading("The fleet: %d simulated tills in three stores", len(d.tills))
	d.devs = map[string]*sandbox.Device{}
	d.fleetStarted = time.Now()
	t := cli.NewTable("till", "store", "model", "agent", "pos", "menu", "kiosk", "sensed state")
	for _, till := range d.tills {
		dev, err := d.sys.StartDevice(ctx, till.spec(int64(downloadRate*d.speed)))
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		d.devs[till.ID] = dev
		state := strings.Join(till.State, " ")
		if state == "" {
			state = "everything off"
		}
		t.Row(till.ID, till.Store.Name, till.Model, till.AgentVersion, till.Installed[appPOS], till.Installed[appMenu], till.Installed[appKiosk], state)
	}
	return d.table(t)
}

// stepReports waits until every till has reported and holds a directive.
func (d *demo) stepReports(ctx context.Context) error {
	d.heading("1. Every till reports")
	var recs []client.Record
	err := d.waitFor(ctx, fmt.Sprintf("all %d tills to report", len(d.tills)), func() (bool, error) {
		var err error
		recs, err = d.c.List(ctx, client.Devices)
		if err != nil {
			return false, err
		}
		reported := 0
		for _, r := range recs {
			if dev, err := r.Device(); err == nil && dev.LastReport != nil {
				reported++
			}
		}
		if reported < len(d.tills) {
			return false, nil
		}
		for _, t := range d.tills {
			if d.devs[t.ID].Status().DirectiveSequence == 0 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	d.say("all %d tills reported and hold a signed directive, %s after the first one started", len(d.tills), time.Since(d.fleetStarted).Round(10*time.Millisecond))
	t, err := recordTable(client.Devices, recs)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintln(d.out, "  $ sluice get devices")
	return d.table(t)
}

// fixes are the sim changes that lift each default-mode wait, with what
// they mean in the store.
var fixes = []struct{ off, on, words string }{
	{"wifi=off", "wifi=on", "Wi-Fi connected"},
	{"charging=off", "charging=on", "plugged in"},
	{"idle=off", "idle=on", "left idle"},
	{"foreground=" + appPOS, "foreground=none", "POS app closed"},
}

// stepDefaultMode shows Berlin's default-mode tills waiting, lifts each
// wait, and opens the maintenance window.
func (d *demo) stepDefaultMode(ctx context.Context) error {
	d.heading("2. Default mode (pos-default, Berlin): wait for Wi-Fi, charging, idle, the app closed, 22:00-06:00")
	berlin := d.tillsWhere(inCity("Berlin"))
	err := d.waitFor(ctx, "Berlin's tills to wait for their POS update", func() (bool, error) {
		for _, t := range berlin {
			st := d.appStatus(t.ID, appPOS)
			if st.State != agent.PhaseWaiting || !slices.Contains(st.WaitingFor, protocol.WaitingOutsideWindow) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	tab := cli.NewTable("till", "pos", "waiting for (the agent's status)")
	for _, t := range berlin {
		st := d.appStatus(t.ID, appPOS)
		tab.Row(t.ID, t.Installed[appPOS]+" -> "+st.TargetVersion, strings.Join(st.WaitingFor, ", "))
	}
	if err := d.table(tab); err != nil {
		return err
	}
	if err := d.pause(ctx, 2*time.Second); err != nil {
		return err
	}
	for _, t := range berlin {
		var sets, words []string
		for _, f := range fixes {
			if slices.Contains(t.State, f.off) {
				sets, words = append(sets, f.on), append(words, f.words)
			}
		}
		if len(sets) == 0 {
			continue
		}
		if err := d.devs[t.ID].Set(ctx, sets...); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		err := d.waitFor(ctx, t.ID+" to wait only for the maintenance window", func() (bool, error) {
			return slices.Equal(d.appStatus(t.ID, appPOS).WaitingFor, []string{protocol.WaitingOutsideWindow}), nil
		})
		if err != nil {
			return err
		}
		d.say("%-16s %s: now waits only for %s", t.ID, strings.Join(words, ", "), waitingText(protocol.WaitingOutsideWindow))
		if err := d.pause(ctx, 300*time.Millisecond); err != nil {
			return err
		}
	}
	d.setClock(windowOpens, "pos-default's maintenance window (22:00-06:00) is open")
	return d.follow(ctx, berlin, appPOS, "3.0.0")
}

// stepHighPriority shows what installed at once: highPriority POS in
// Hamburg, the kiosk app on V2 tills, and the 50% rollout on P2 tills.
func (d *demo) stepHighPriority(ctx context.Context) error {
	d.heading("3. High priority installs at once; a 50%% rollout picks half of the P2 tills")
	hamburg := d.tillsWhere(inCity("Hamburg"))
	err := d.waitFor(ctx, "Hamburg's POS updates", func() (bool, error) {
		for _, t := range hamburg {
			if v, err := d.installed(ctx, t.ID, appPOS); err != nil || v != "3.0.0" {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, t := range hamburg {
		apps, err := d.devs[t.ID].Installed(ctx)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		d.say("%-16s pos %s -> 3.0.0 installed at %s, right after enrolling: no constraints, no window", t.ID, t.Installed[appPOS], apps[appPOS].UpdatedAt.In(d.loc).Format("15:04:05"))
	}

	p2 := d.tillsWhere(func(t demoTill) bool { return t.Model == "P2" })
	v2 := d.tillsWhere(func(t demoTill) bool { return t.Model == "V2" && t.AgentVersion != oldAgentVersion })
	picked := map[string]bool{}
	err = d.waitFor(ctx, "the kiosk rollout to settle", func() (bool, error) {
		for _, t := range v2 {
			if v, err := d.installed(ctx, t.ID, appKiosk); err != nil || v != "2.0.0" {
				return false, err
			}
		}
		for _, t := range p2 {
			v, err := d.installed(ctx, t.ID, appKiosk)
			if err != nil {
				return false, err
			}
			st := d.appStatus(t.ID, appKiosk)
			switch {
			case v == "2.0.0":
				picked[t.ID] = true
			case st.Action == string(protocol.ActionNone):
				delete(picked, t.ID)
			default:
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	d.say("kiosk-min-client: %d V2 tills installed kiosk 2.0.0 at once", len(v2))
	var in, out []string
	for _, t := range p2 {
		if picked[t.ID] {
			in = append(in, t.ID)
		} else {
			out = append(out, t.ID)
		}
	}
	sort.Strings(in)
	sort.Strings(out)
	d.say("kiosk-rollout (50%%): picked %d of %d P2 tills by a stable hash of till and policy:", len(in), len(p2))
	d.note("installed 2.0.0:      %s", strings.Join(in, " "))
	d.note("stay on 1.0.0 (%s): %s", protocol.ReasonNotInRollout, strings.Join(out, " "))
	return nil
}
