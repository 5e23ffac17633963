package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sluice-mdm/sluice/protocol"
)

const freezeRule = `package sluice.rules

# No updates in the Berlin stores during the holiday freeze.
deny contains msg if {
	input.device.labels.store == "berlin-01"
	msg := sprintf("store %s is in the holiday freeze", [input.device.labels.store])
}

deny contains "major upgrades need a change ticket" if {
	startswith(input.device.installed.versionName, "4.")
}
`

func TestRulesDeny(t *testing.T) {
	e := newTestEngine(t, Rule{Name: "freeze.rego", Module: freezeRule})
	tests := []struct {
		name string
		req  func(r *Request)
		want []protocol.Reason
	}{
		{
			name: "one rule denies an install",
			req:  func(r *Request) {},
			want: reasons("DENIED_BY_RULE", "The update to version 5.1.0 (510) is blocked by a fleet rule: store berlin-01 is in the holiday freeze."),
		},
		{
			name: "two rules deny a prompt, one reason each",
			req: func(r *Request) {
				r.Device.Apps = installed("4.9.0", 490, day(2025, 3, 3))
				r.Policy.Prompt = &PromptSpec{Closable: true}
			},
			want: []protocol.Reason{
				{Code: "DENIED_BY_RULE", Message: "The update to version 5.1.0 (510) is blocked by a fleet rule: major upgrades need a change ticket."},
				{Code: "DENIED_BY_RULE", Message: "The update to version 5.1.0 (510) is blocked by a fleet rule: store berlin-01 is in the holiday freeze."},
			},
		},
		{
			name: "other stores are not denied",
			req:  func(r *Request) { r.Device.Labels = map[string]string{"store": "hamburg-02"} },
			want: reasons("UPDATE_AVAILABLE", "Version 5.1.0 (510) is available; it installs when the device is on Wi-Fi, charging and idle and the app is not in use."),
		},
		{
			name: "a decision that changes nothing keeps its own reason",
			req:  func(r *Request) { r.Device.Apps = installed("5.1.0", 510, day(2025, 5, 3)) },
			want: reasons("UP_TO_DATE", "Installed version 5.1.0 (510) is the latest release on the production track."),
		},
		{
			name: "CLIENT_TOO_OLD is not an update and is not denied",
			req:  func(r *Request) { r.Policy.MinClientVersion = "9.0" },
			want: reasons("CLIENT_TOO_OLD", "Version 5.1.0 (510) needs Sluice agent 9.0 or later, and this device runs agent 1.4.2; install 5.1.0 by hand or update the agent."),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := baseRequest()
			tc.req(&req)
			got := decide(t, e, req)
			if diff := cmp.Diff(tc.want, got.Reasons); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
			if got.Reasons[0].Code == "DENIED_BY_RULE" && (got.Action != protocol.ActionNone || got.Target != nil) {
				t.Errorf("denied decision has action %s, target %v; want none without target", got.Action, got.Target)
			}
		})
	}
}

func TestRulesRefused(t *testing.T) {
	tests := []struct {
		name     string
		rule     Rule
		wantName string
		wantText []string // substrings of the error, OPA's message among them
	}{
		{
			name:     "syntax error",
			rule:     Rule{Name: "broken.rego", Module: "package sluice.rules\n\ndeny contains msg if {\n\tmsg := \n}\n"},
			wantName: "broken.rego",
			wantText: []string{"policy: rule broken.rego:", "broken.rego:5", "rego_parse_error"},
		},
		{
			name:     "wrong package",
			rule:     Rule{Name: "other.rego", Module: "package sluice.decision\n\ndeny contains \"x\" if true\n"},
			wantName: "other.rego",
			wantText: []string{"policy: rule other.rego: package: sluice.decision is not allowed; want package sluice.rules"},
		},
		{
			name:     "compile error: unsafe variable",
			rule:     Rule{Name: "unsafe.rego", Module: "package sluice.rules\n\ndeny contains msg if {\n\tx == 1\n\tmsg := \"m\"\n}\n"},
			wantName: "unsafe.rego",
			wantText: []string{"policy: rule unsafe.rego:", "unsafe.rego:4", "rego_unsafe_var_error", "var x is unsafe"},
		},
		{
			name:     "compile error: unknown function",
			rule:     Rule{Name: "fn.rego", Module: "package sluice.rules\n\ndeny contains msg if {\n\tmsg := no_such_function(input.app)\n}\n"},
			wantName: "fn.rego",
			wantText: []string{"fn.rego:4", "rego_type_error", "undefined function no_such_function"},
		},
		{
			name:     "non-deterministic builtin",
			rule:     Rule{Name: "clock.rego", Module: "package sluice.rules\n\ndeny contains \"late\" if {\n\ttime.now_ns() > 0\n}\n"},
			wantName: "clock.rego",
			wantText: []string{"clock.rego:4", "undefined function time.now_ns"},
		},
		{
			name:     "deny is not a set",
			rule:     Rule{Name: "single.rego", Module: "package sluice.rules\n\ndeny := \"always\"\n"},
			wantName: "single.rego",
			wantText: []string{"single.rego:3: deny: is not a set of messages"},
		},
		{
			name:     "empty module",
			rule:     Rule{Name: "empty.rego", Module: ""},
			wantName: "empty.rego",
			wantText: []string{"empty.rego"},
		},
		{
			name:     "no name",
			rule:     Rule{Module: freezeRule},
			wantName: `""`,
			wantText: []string{"name: is empty"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEngine(t.Context(), Config{Rules: []Rule{{Name: "ok.rego", Module: "package sluice.rules\n"}, tc.rule}})
			var re *RuleError
			if !errors.As(err, &re) || !errors.Is(err, ErrRuleRefused) {
				t.Fatalf("NewEngine error = %v, want a *RuleError", err)
			}
			if re.Name != tc.wantName {
				t.Errorf("RuleError.Name = %q, want %q", re.Name, tc.wantName)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestRulesDuplicateName(t *testing.T) {
	r := Rule{Name: "freeze.rego", Module: freezeRule}
	_, err := NewEngine(t.Context(), Config{Rules: []Rule{r, r}})
	if want := "policy: rule freeze.rego: another rule has the same name"; err == nil || err.Error() != want {
		t.Errorf("NewEngine error = %v, want %q", err, want)
	}
}
