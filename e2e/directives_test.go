package e2e

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/sluice-mdm/sluice/internal/sandbox"
	"github.com/sluice-mdm/sluice/protocol"
)

// directiveTap records the directives the controller pushes to one
// device, as anyone on the NATS network could.
type directiveTap struct {
	mu   sync.Mutex
	envs []protocol.Envelope
}

func (d *directiveTap) handle(m *nats.Msg) {
	var env protocol.Envelope
	if json.Unmarshal(m.Data, &env) == nil {
		d.mu.Lock()
		d.envs = append(d.envs, env)
		d.mu.Unlock()
	}
}

// find returns the pushed envelope whose directive has seq.
func (d *directiveTap) find(t *testing.T, seq uint64) (protocol.Envelope, protocol.Directive) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, env := range d.envs {
		var dir protocol.Directive
		if err := json.Unmarshal(env.Payload, &dir); err != nil {
			t.Fatalf("pushed payload %q: %v", env.Payload, err)
		}
		if dir.Sequence == seq {
			return env, dir
		}
	}
	t.Fatalf("no directive with sequence %d was pushed", seq)
	return protocol.Envelope{}, protocol.Directive{}
}

// TestForgedAndReplayedDirectives publishes, on a device's directive
// subject, an older genuine directive that would install an update, and
// directives forged with another key: the agent refuses each one,
// reports why, and installs nothing; the genuine next directive still
// works.
func TestForgedAndReplayedDirectives(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys := startSystem(t, sandbox.Config{})
	apply := func(spec string) {
		applyYAML(t, ctx, sys, map[string]string{"pos.yaml": governed("pos-guarded", "shop=1", "app: com.example.pos\nmode: default\n"+spec)})
	}
	apply("")
	d := startDevice(t, ctx, sys, sandbox.DeviceSpec{ID: "till-guarded", Labels: map[string]string{"shop": "1"}, Installed: []string{"pos-1.0.0.apk"}})
	waitDecision(t, ctx, sys, d, posApp, "none [NO_NEWER_RELEASE]")

	nc, err := nats.Connect(sys.NATSURL(), nats.Name("e2e attacker"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subject, err := protocol.DirectiveSubject(d.ID())
	if err != nil {
		t.Fatal(err)
	}
	tap := &directiveTap{}
	sub, err := nc.Subscribe(subject, tap.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	// A genuine directive to install 2.0.0 (waiting for Wi-Fi and the
	// rest), then one saying the installed version is out of range.
	pushReleases(t, ctx, sys, "pos-2.0.0.apk")
	ex := waitDecision(t, ctx, sys, d, posApp, "install [UPDATE_AVAILABLE] -> 2.0.0")
	oldEnv, oldDir := tap.find(t, ex.Directive.Sequence)
	apply("eligible: {versionName: \">=5.0.0\"}")
	ex = waitDecision(t, ctx, sys, d, posApp, "none [NOT_IN_ELIGIBLE_RANGE]")
	current := ex.Directive.Sequence
	waitFor(t, ctx, scenarioTimeout, "the agent enforcing the out-of-range directive", func() (bool, error) {
		return d.Status().DirectiveSequence == current, nil
	})
	// Now an install would run at once.
	if err := d.Set(ctx, "wifi=on", "charging=on", "idle=on"); err != nil {
		t.Fatal(err)
	}

	// The attacks: the old directive again; the same install, newer, signed
	// with the attacker's key under its own id and under the controller's.
	attacker, err := protocol.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := os.ReadFile(sys.PublicKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := protocol.ParsePublicKey(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	forged := oldDir
	forged.Sequence, forged.IssuedAt, forged.ExpiresAt = current+100, sys.Now().UTC(), sys.Now().Add(time.Hour).UTC()
	unknownKey, err := protocol.SignDirective(attacker, &forged)
	if err != nil {
		t.Fatal(err)
	}
	badSignature := *unknownKey
	badSignature.KeyID = protocol.KeyID(pub)
	for _, msg := range []any{oldEnv, unknownKey, badSignature, "not an envelope"} {
		var data []byte
		if s, ok := msg.(string); ok {
			data = []byte(s)
		} else if data, err = json.Marshal(msg); err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish(subject, data); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{
		agentApp + " DirectiveRejected code=REPLAYED": 1, agentApp + " DirectiveRejected code=UNKNOWN_KEY": 1,
		agentApp + " DirectiveRejected code=BAD_SIGNATURE": 1, agentApp + " DirectiveRejected code=MALFORMED": 1,
	}
	evs := waitEvents(t, ctx, sys, d.ID(), want)
	if diff := cmp.Diff(want, countEvents(evs, protocol.EventDirectiveRejected)); diff != "" {
		t.Errorf("rejections reported (-want +got):\n%s", diff)
	}
	for _, e := range eventsNamed(evs, agentApp, protocol.EventDirectiveRejected) {
		if e.Params[protocol.ParamReason] == "" {
			t.Errorf("DirectiveRejected %s carries no reason: %v", e.Params[protocol.ParamErrorCode], e.Params)
		}
	}

	// Nothing changed on the device: same directive, same app, no install.
	if got := d.Status().DirectiveSequence; got != current {
		t.Errorf("the agent enforces sequence %d after the attacks; want %d", got, current)
	}
	if s, _ := appStatus(d, posApp); s.Action != string(protocol.ActionNone) {
		t.Errorf("the agent's POS action is %q after the attacks; want none", s.Action)
	}
	if diff := cmp.Diff(map[string]string{posApp: "1.0.0"}, installed(t, ctx, d)); diff != "" {
		t.Errorf("installed after the attacks (-want +got):\n%s", diff)
	}
	if got := installEvents(evs, posApp); len(got) > 0 {
		t.Errorf("install events after the attacks: %v", got)
	}

	// The genuine next directive is still accepted.
	apply("")
	waitVersion(t, ctx, d, posApp, "2.0.0")
	if got := d.Status().DirectiveSequence; got <= current {
		t.Errorf("sequence %d after the next genuine directive; want above %d", got, current)
	}
}
