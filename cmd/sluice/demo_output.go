package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sluice-mdm/sluice/agent"
	"github.com/sluice-mdm/sluice/examples"
	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/client"
	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/protocol"
)

// demoTimeZone is every till's time zone, and the one the story is told
// in.
const demoTimeZone = "Europe/Berlin"

// demoWait bounds every wait of the story for the system to do
// something; a step that times out ends the demo with ExitUnexpected.
const demoWait = 45 * time.Second

// demo is one run of the story.
type demo struct {
	out     io.Writer
	term    bool    // out is a terminal: progress bars redraw in place
	speed   float64 // --speed
	sys     *sandbox.System
	clock   *sandbox.Clock
	c       *client.Client
	tills   []demoTill
	history []demoRelease
	prompt  *http.Client // plays the apps on the tills, against their prompt APIs
	loc     *time.Location
	devs    map[string]*sandbox.Device
	// fleetStarted is when the first till started.
	fleetStarted time.Time
	// unexpected is set when the summary found tills in states the story
	// did not expect.
	unexpected error
}

// demoRelease is one release of the demo apps' history: the test APK
// and its publication date.
type demoRelease struct {
	File string
	At   time.Time
}

// largeMenu replaces menu 5.1.0 in the demo: the same release, 3 MiB, so
// that its download can be watched.
const largeMenu = "menu-5.1.0-large.apk"

// demoReleases reads the demo apps' releases and their publication dates
// from the embedded examples/releases/demo-apps.yaml, oldest first.
func demoReleases() ([]demoRelease, error) {
	const name = "releases/demo-apps.yaml"
	data, err := examples.FS.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	set, err := manifest.Parse("examples/"+name, data)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	var out []demoRelease
	for _, r := range set.Releases {
		file := r.Meta.Name + ".apk"
		if file == apkFile(appMenu, "5.1.0") {
			file = largeMenu
		}
		out = append(out, demoRelease{File: file, At: r.Spec.PublishedAt})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("demo: examples/%s holds no release", name)
	}
	slices.SortStableFunc(out, func(a, b demoRelease) int { return a.At.Compare(b.At) })
	return out, nil
}

// heading starts a part of the story.
func (d *demo) heading(format string, args ...any) {
	fmt.Fprintf(d.out, "\n== %s\n", fmt.Sprintf(format, args...))
}

// say prints one event of the story, stamped with the story's clock in
// the stores' time zone.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "  [%s] %s\n", d.clock.Now().In(d.loc).Format("Mon 02 Jan 15:04:05"), fmt.Sprintf(format, args...))
}

// note prints an indented line without a time stamp.
func (d *demo) note(format string, args ...any) {
	fmt.Fprintf(d.out, "      %s\n", fmt.Sprintf(format, args...))
}

// table prints t indented.
func (d *demo) table(t *cli.Table) error {
	var b strings.Builder
	if err := t.Write(&b); err != nil {
		return err
	}
	for line := range strings.Lines(b.String()) {
		fmt.Fprint(d.out, "  "+line)
	}
	return nil
}

// pause lets a reader catch up: base divided by --speed.
func (d *demo) pause(ctx context.Context, base time.Duration) error {
	t := time.NewTimer(time.Duration(float64(base) / d.speed))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitFor waits for the system to reach a state the story needs; if it
// does not, the demo ends with ExitUnexpected.
func (d *demo) waitFor(ctx context.Context, what string, cond func() (bool, error)) error {
	err := sandbox.WaitFor(ctx, demoWait, what, cond)
	if errors.Is(err, sandbox.ErrTimeout) {
		return cli.WithCode(cli.ExitUnexpected, fmt.Errorf("demo: %w", err))
	}
	return err
}

// setClock jumps the story's clock and says why.
func (d *demo) setClock(t time.Time, why string) {
	d.clock.Set(t)
	d.say("the clock jumps to %s: %s", t.In(d.loc).Format("Mon 02 Jan 2006 15:04"), why)
}

// tillsWhere lists the tills that match keep, in fleet order.
func (d *demo) tillsWhere(keep func(demoTill) bool) []demoTill {
	var out []demoTill
	for _, t := range d.tills {
		if keep(t) {
			out = append(out, t)
		}
	}
	return out
}

func inCity(city string) func(demoTill) bool {
	return func(t demoTill) bool { return t.Store.City == city }
}

// appStatus is what the till's agent says about app now.
func (d *demo) appStatus(id, app string) agent.AppStatus {
	for _, a := range d.devs[id].Status().Apps {
		if a.App == app {
			return a
		}
	}
	return agent.AppStatus{App: app}
}

// installed is the version of app installed on the till's sim ("" when
// none).
func (d *demo) installed(ctx context.Context, id, app string) (string, error) {
	apps, err := d.devs[id].Installed(ctx)
	if err != nil {
		return "", err
	}
	return apps[app].VersionName, nil
}

// decision is the controller's decision for the till's app, evaluated now.
func (d *demo) decision(ctx context.Context, id, app string) (protocol.Decision, error) {
	ex, err := d.c.Explain(ctx, id, app)
	if err != nil {
		return protocol.Decision{}, fmt.Errorf("demo: explain %s %s: %w", id, app, err)
	}
	for _, dec := range ex.Decisions {
		if dec.App == app {
			return dec, nil
		}
	}
	return protocol.Decision{}, fmt.Errorf("demo: explain %s: no decision for %s", id, app)
}

// reason is a decision's first reason code and message.
func reason(dec protocol.Decision) (code, message string) {
	if len(dec.Reasons) == 0 {
		return "", ""
	}
	return dec.Reasons[0].Code, dec.Reasons[0].Message
}

// follow watches app on the tills until each has version want
// installed, printing each till's download, verification and install as
// they happen.
func (d *demo) follow(ctx context.Context, tills []demoTill, app, want string) error {
	seen := map[string]string{}
	return d.waitFor(ctx, fmt.Sprintf("%s %s on %d tills", short(app), want, len(tills)), func() (bool, error) {
		done := 0
		for _, t := range tills {
			have, err := d.installed(ctx, t.ID, app)
			if err != nil {
				return false, err
			}
			phase := d.appStatus(t.ID, app).State
			if have == want {
				phase = agent.PhaseInstalled
			}
			if phase != seen[t.ID] {
				seen[t.ID] = phase
				switch phase {
				case agent.PhaseDownloading, agent.PhaseVerifying, agent.PhaseInstalling:
					d.say("%-16s %s %s: %s", t.ID, short(app), want, phase)
				case agent.PhaseInstalled:
					d.say("%-16s %s %s installed (was %s)", t.ID, short(app), want, t.Installed[app])
				}
			}
			if have == want {
				done++
			}
		}
		return done == len(tills), nil
	})
}

// short is an app's name without com.example.
func short(app string) string {
	return strings.TrimPrefix(app, "com.example.")
}

// waitingWords words the agent's waiting codes for people.
func waitingWords(codes []string) string {
	words := make([]string, 0, len(codes))
	for _, c := range codes {
		words = append(words, waitingText(c)+" ("+c+")")
	}
	return strings.Join(words, ", ")
}

// sortedIDs are the tills' ids in fleet order.
func sortedIDs(tills []demoTill) []string {
	ids := make([]string, 0, len(tills))
	for _, t := range tills {
		ids = append(ids, t.ID)
	}
	return ids
}

// oldAgentTill is the till whose agent is too old for the kiosk policy.
func (d *demo) oldAgentTill() string {
	for _, t := range d.tills {
		if t.AgentVersion == oldAgentVersion {
			return t.ID
		}
	}
	return d.tills[0].ID
}
