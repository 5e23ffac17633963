package main

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/protocol"
)

// The demo apps.
const (
	appPOS   = "com.example.pos"
	appMenu  = "com.example.menu"
	appKiosk = "com.example.kiosk"
)

var demoApps = []string{appPOS, appMenu, appKiosk}

// demoStore is one of the three stores, with the example group that
// selects it.
type demoStore struct {
	Name  string // label value: berlin-01
	City  string // Berlin
	Group string // store-berlin
}

var demoStores = []demoStore{
	{"berlin-01", "Berlin", "store-berlin"},
	{"hamburg-02", "Hamburg", "store-hamburg"},
	{"munich-03", "Munich", "store-munich"},
}

// demoTill is one simulated till of the demo fleet: who it is, what it
// starts with, and which part it plays in the story.
type demoTill struct {
	ID           string
	Store        demoStore
	Model        string // P2 or V2
	AgentVersion string
	// Installed versions, by app.
	Installed map[string]string
	// State is the sim state it starts in.
	State []string
	// Prompt marks the till whose app the demo plays through the local
	// prompt API.
	Prompt bool
}

// Version cycles of the fleet: each store's n-th till takes the n-th
// entry (wrapping).
var (
	berlinPOS   = []string{"1.0.0", "1.1.0", "2.0.0", "2.1.0"}
	berlinMenu  = []string{"4.3.3", "4.5.0", "5.0.0"}
	hamburgPOS  = []string{"2.0.0", "1.1.0", "2.1.0"}
	hamburgMenu = []string{"5.0.0", "4.5.0", "4.3.3"}
	munichMenu  = []string{"4.3.3", "5.0.0", "4.5.0"}
	// berlinStates make each default-mode till wait for something else
	// (besides the maintenance window, which is closed at 14:00).
	berlinStates = [][]string{
		{"wifi=off", "charging=on", "idle=on"},
		{"wifi=on", "charging=off", "idle=on"},
		{"wifi=on", "charging=on", "idle=off"},
		{"wifi=on", "charging=on", "idle=on", "foreground=" + appPOS},
		{"wifi=off", "charging=off", "idle=off"},
	}
)

// oldAgentVersion is below kiosk-min-client's minClientVersion (1.2.0).
const oldAgentVersion = "1.0.0"

// demoFleet builds n tills (n >= 20), spread over the three stores in
// turn: till-berlin-01, till-hamburg-01, till-munich-01, till-berlin-02...
// Odd-numbered tills are P2, even-numbered V2. Every Munich till has POS
// 2.1.0, the latest when it enrolls, so its postponement starts then;
// till-munich-02 (a V2) runs an agent too old for the kiosk policy.
func demoFleet(n int) []demoTill {
	tills := make([]demoTill, 0, n)
	for i := range n {
		store := demoStores[i%len(demoStores)]
		k := i/len(demoStores) + 1
		t := demoTill{
			ID:           fmt.Sprintf("till-%s-%02d", strings.ToLower(store.City), k),
			Store:        store,
			Model:        "P2",
			AgentVersion: sandbox.DefaultAgentVersion,
			Installed:    map[string]string{appKiosk: "1.0.0"},
		}
		if k%2 == 0 {
			t.Model = "V2"
		}
		switch store.City {
		case "Berlin":
			t.Installed[appPOS] = berlinPOS[(k-1)%len(berlinPOS)]
			t.Installed[appMenu] = berlinMenu[(k-1)%len(berlinMenu)]
			t.State = berlinStates[(k-1)%len(berlinStates)]
			t.Prompt = k == 1
		case "Hamburg":
			t.Installed[appPOS] = hamburgPOS[(k-1)%len(hamburgPOS)]
			t.Installed[appMenu] = hamburgMenu[(k-1)%len(hamburgMenu)]
			t.Prompt = k == 1
		case "Munich":
			t.Installed[appPOS] = "2.1.0"
			t.Installed[appMenu] = munichMenu[(k-1)%len(munichMenu)]
			if k == 2 {
				t.AgentVersion = oldAgentVersion
			}
		}
		tills = append(tills, t)
	}
	return tills
}

// spec is the sandbox device of a till; rate limits the downloads of the
// tills whose app the demo plays, so that their progress can be watched.
func (t demoTill) spec(rate int64) sandbox.DeviceSpec {
	s := sandbox.DeviceSpec{
		ID: t.ID, Labels: map[string]string{"store": t.Store.Name, "model": t.Model},
		AgentVersion: t.AgentVersion, SDK: 30, TimeZone: demoTimeZone, Channel: "stable",
		State: t.State, PromptAPI: t.Prompt,
	}
	for _, app := range demoApps {
		s.Installed = append(s.Installed, apkFile(app, t.Installed[app]))
	}
	if t.Prompt {
		s.DownloadRate = rate
	}
	return s
}

// apkFile is the internal/testapk file of an app version.
func apkFile(app, version string) string {
	return strings.TrimPrefix(app, "com.example.") + "-" + version + ".apk"
}

// outcome is where one app of one till ends: the policy that governs it,
// the installed version, and the first reason of the final decision.
type outcome struct {
	Policy  string
	Version string
	Reason  string
}

// expected is the story's own table of outcomes, from the till's part
// in it, never from what happened: at the end of the story (after the
// jump past Munich's postponement, and so past menu-prompt's 14-day
// forceAfter) every automatic update has run, the two prompted tills
// were updated by their users, and the other prompted tills still show
// their (now forced) prompts.
func (t demoTill) expected(app string) outcome {
	have := t.Installed[app]
	switch app {
	case appPOS:
		name := map[string]string{"Berlin": "pos-default", "Hamburg": "pos-high-priority", "Munich": "pos-postponed"}[t.Store.City]
		return outcome{name, "3.0.0", protocol.ReasonUpToDate}
	case appMenu:
		switch t.Store.City {
		case "Berlin", "Hamburg":
			name := "menu-prompt"
			if t.Store.City == "Hamburg" {
				name = "menu-forced"
			}
			if t.Prompt {
				return outcome{name, "5.1.0", protocol.ReasonUpToDate}
			}
			return outcome{name, have, protocol.ReasonForced}
		default:
			switch have {
			case "4.3.3":
				// Updated to the latest 5.0.x, which is outside the range.
				return outcome{"menu-range", "5.0.0", protocol.ReasonNotInEligibleRange}
			case "4.5.0":
				return outcome{"menu-range", have, protocol.ReasonExcludedVersion}
			}
			return outcome{"menu-range", have, protocol.ReasonNotInEligibleRange}
		}
	}
	if t.Model == "P2" {
		if inKioskRollout(t.ID) {
			return outcome{"kiosk-rollout", "2.0.0", protocol.ReasonUpToDate}
		}
		return outcome{"kiosk-rollout", have, protocol.ReasonNotInRollout}
	}
	if t.AgentVersion == oldAgentVersion {
		return outcome{"kiosk-min-client", have, protocol.ReasonClientTooOld}
	}
	return outcome{"kiosk-min-client", "2.0.0", protocol.ReasonUpToDate}
}

// inKioskRollout says whether kiosk-rollout's 50% picks the till, by the
// documented rule (DESIGN.md, policy.RolloutBucket), computed here on its
// own: the first 8 bytes of SHA-256("kiosk-rollout/" + id), big endian,
// modulo 10000, below 50 × 100.
func inKioskRollout(id string) bool {
	sum := sha256.Sum256([]byte("kiosk-rollout/" + id))
	return binary.BigEndian.Uint64(sum[:8])%10000 < 5000
}
