package state

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sluice-mdm/sluice/protocol"
)

func TestPromptDailyFrequencyAcrossLocalMidnight(t *testing.T) {
	loc := berlin(t)
	dec := decision(func(d *protocol.Decision) {
		d.Action = protocol.ActionPrompt
		d.Prompt = &protocol.Prompt{Closable: true, DailyFrequency: 2, Text: "Update?", Button: "updateApp"}
		d.Target.ReleaseNotes = "Faster checkout"
	})
	base := PromptAnswer{Closable: true, Text: "Update?", Button: "updateApp", ReleaseNotes: "Faster checkout", VersionName: "2.0.0", VersionCode: 200}
	with := func(f func(*PromptAnswer)) PromptAnswer { a := base; f(&a); return a }
	// 23:00 and 23:30 local on May 2 are 21:00 and 21:30 UTC, still May 2
	// in UTC too; 00:10 local on May 3 is 22:10 UTC on May 2: a new local
	// day while UTC still says May 2.
	evening := time.Date(2026, 5, 2, 23, 0, 0, 0, loc)
	midnight := time.Date(2026, 5, 3, 0, 0, 0, 0, loc)
	var rec PromptRecord
	var got []PromptAnswer
	ask := func(now time.Time) {
		a := PromptNow(dec, installed100, rec, loc, now)
		if a.Show {
			rec = rec.RecordShow(dec, loc, now)
		}
		got = append(got, a)
	}
	ask(evening)
	ask(evening.Add(30 * time.Minute))
	ask(midnight.Add(-time.Second))
	ask(midnight.Add(10 * time.Minute))
	want := []PromptAnswer{
		with(func(a *PromptAnswer) { a.Show, a.ShowsLeft = true, 1 }),
		with(func(a *PromptAnswer) { a.Show, a.ShowsLeft = true, 0 }),
		with(func(a *PromptAnswer) { a.Reason, a.NextShow = ReasonDailyLimit, midnight }),
		with(func(a *PromptAnswer) { a.Show, a.ShowsLeft = true, 1 }),
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("prompts (-want +got):\n%s", diff)
	}
	if rec.Day != "2026-05-03" || rec.Shown != 1 {
		t.Errorf("record = %+v, want one show on 2026-05-03", rec)
	}
}

func TestPromptLaterAndForce(t *testing.T) {
	loc := berlin(t)
	forceAfter := time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)
	dec := decision(func(d *protocol.Decision) {
		d.Action = protocol.ActionPrompt
		d.Prompt = &protocol.Prompt{Closable: true, DailyFrequency: 3, ForceAfter: &forceAfter}
	})
	now := time.Date(2026, 5, 2, 10, 0, 0, 0, loc)
	rec := PromptRecord{}.RecordShow(dec, loc, now).Later(dec, loc, now)
	if want := now.Add(8 * time.Hour); !rec.HiddenUntil.Equal(want) {
		t.Errorf("later with 3 a day hides until %s, want %s", rec.HiddenUntil, want)
	}
	late := time.Date(2026, 5, 2, 22, 0, 0, 0, loc)
	got, want := (PromptRecord{}).Later(dec, loc, late).HiddenUntil, time.Date(2026, 5, 3, 0, 0, 0, 0, loc)
	if !got.Equal(want) {
		t.Errorf("later at 22:00 hides until %s, want local midnight %s", got, want)
	}
	tests := []struct {
		name string
		dec  protocol.Decision
		now  time.Time
		want PromptAnswer
	}{
		{"hidden by later", dec, now.Add(time.Hour), PromptAnswer{Closable: true, Button: "updateApp", VersionName: "2.0.0", VersionCode: 200, Reason: ReasonHiddenByUser, NextShow: now.Add(8 * time.Hour), ShowsLeft: 2}},
		{"shows again after", dec, now.Add(8 * time.Hour), PromptAnswer{Show: true, Closable: true, Button: "updateApp", VersionName: "2.0.0", VersionCode: 200, ShowsLeft: 1}},
		{"forced after forceAfter, despite later", dec, forceAfter, PromptAnswer{Show: true, Forced: true, Button: "updateApp", VersionName: "2.0.0", VersionCode: 200}},
		{"one second before forceAfter", dec, forceAfter.Add(-time.Second), PromptAnswer{Show: true, Closable: true, Button: "updateApp", VersionName: "2.0.0", VersionCode: 200, ShowsLeft: 2}},
		{"force action", decision(func(d *protocol.Decision) { d.Action = protocol.ActionForce }), now, PromptAnswer{Show: true, Forced: true, Button: "updateApp", VersionName: "2.0.0", VersionCode: 200}},
		{"install action has no prompt", decision(), now, PromptAnswer{Reason: ReasonNoPrompt}},
		{"up to date", decision(func(d *protocol.Decision) { d.Action = protocol.ActionPrompt; d.Target.VersionCode = 100 }), now, PromptAnswer{Reason: ReasonUpToDate}},
		{"installed newer than the target: no forced prompt that cannot install", decision(func(d *protocol.Decision) {
			d.Action, d.Target.VersionCode = protocol.ActionForce, 50
		}), now, PromptAnswer{Reason: ReasonDowngrade}},
		{"a pinned downgrade with allowDowngrade still prompts", decision(func(d *protocol.Decision) {
			d.Action, d.Target.VersionCode, d.AllowDowngrade = protocol.ActionForce, 50, true
		}), now, PromptAnswer{Show: true, Forced: true, Button: "updateApp", VersionName: "2.0.0", VersionCode: 50}},
		{"new decision resets the record", decision(func(d *protocol.Decision) {
			d.Action, d.DecisionID = protocol.ActionPrompt, "d9"
			d.Prompt = &protocol.Prompt{Closable: true}
		}), now.Add(time.Hour), PromptAnswer{Show: true, Closable: true, Button: "updateApp", VersionName: "2.0.0", VersionCode: 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PromptNow(tt.dec, installed100, rec, loc, tt.now)
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("PromptNow (-want +got):\n%s", diff)
			}
		})
	}
}
