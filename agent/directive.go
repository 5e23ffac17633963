package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sluice-mdm/sluice/agent/atomicfile"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-mdm/sluice/protocol"
)

const directiveFile = "directive.json"

// storedDirective is the directive file: the last accepted envelope and its
// sequence.
type storedDirective struct {
	Sequence uint64             `json:"sequence"`
	Envelope *protocol.Envelope `json:"envelope"`
}

// loadDirective reads the stored directive and verifies its signature and
// device, not its expiry (see the package documentation). It returns the
// last accepted sequence even when the envelope no longer verifies, so that
// replays stay refused.
func (a *Agent) loadDirective() (*protocol.Directive, *protocol.Envelope, uint64, error) {
	b, err := os.ReadFile(filepath.Join(a.cfg.DataDir, directiveFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, 0, nil
	}
	if err != nil {
		return nil, nil, 0, fmt.Errorf("read stored directive: %w", err)
	}
	var sd storedDirective
	if err := json.Unmarshal(b, &sd); err != nil {
		return nil, nil, 0, fmt.Errorf("stored directive %s: %w", directiveFile, err)
	}
	payload, err := sd.Envelope.Verify(a.cfg.ControllerKeys...)
	if err != nil {
		return nil, nil, sd.Sequence, fmt.Errorf("stored directive: %w", err)
	}
	var d protocol.Directive
	if err := json.Unmarshal(payload, &d); err != nil {
		return nil, nil, sd.Sequence, fmt.Errorf("stored directive: %w", err)
	}
	if d.DeviceID != a.cfg.DeviceID {
		return nil, nil, sd.Sequence, fmt.Errorf("stored directive: %w: for %q, this is %q", protocol.ErrWrongDevice, d.DeviceID, a.cfg.DeviceID)
	}
	return &d, sd.Envelope, max(sd.Sequence, d.Sequence), nil
}

func (a *Agent) saveDirective(env *protocol.Envelope, seq uint64) error {
	b, err := json.Marshal(storedDirective{Sequence: seq, Envelope: env})
	if err != nil {
		return fmt.Errorf("encode directive: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(a.cfg.DataDir, directiveFile), b, 0o600); err != nil {
		return fmt.Errorf("store directive: %w", err)
	}
	return nil
}

// rejectReason is the short code of a refused directive.
func rejectReason(err error) string {
	for _, c := range []struct {
		err  error
		code string
	}{
		{protocol.ErrUnsigned, "UNSIGNED"}, {protocol.ErrUnknownKey, "UNKNOWN_KEY"},
		{protocol.ErrBadSignature, "BAD_SIGNATURE"}, {protocol.ErrWrongDevice, "WRONG_DEVICE"},
		{protocol.ErrReplayed, "REPLAYED"}, {protocol.ErrExpired, "EXPIRED"},
	} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "MALFORMED"
}

// acceptEnvelope verifies env and makes it the enforced directive. source
// is "sync" or "push", for logs. The same envelope again (a sync reply
// repeating the current directive) is ignored without a refusal.
func (a *Agent) acceptEnvelope(env *protocol.Envelope, source string) {
	a.mu.Lock()
	if a.env != nil && env != nil && bytes.Equal(a.env.Payload, env.Payload) && bytes.Equal(a.env.Signature, env.Signature) {
		a.mu.Unlock()
		return
	}
	old := a.directive
	d, err := protocol.OpenDirective(env, a.cfg.DeviceID, a.lastSeq, a.cfg.Now(), a.cfg.ControllerKeys...)
	if err == nil {
		if err = a.saveDirective(env, d.Sequence); err == nil {
			a.directive, a.env, a.lastSeq = d, env, d.Sequence
		}
	}
	a.mu.Unlock()
	if err == nil {
		a.prune(old, d)
	}
	if err != nil {
		a.reject(source, err)
		return
	}
	a.log.Info("directive accepted", "source", source, "sequence", d.Sequence, "decisions", len(d.Decisions))
	a.emit(AgentApp, protocol.EventDirectiveApplied, "", map[string]string{
		protocol.ParamReason: fmt.Sprintf("sequence %d with %d decisions", d.Sequence, len(d.Decisions)),
	})
	a.wake()
}

// artifacts lists the artifacts of d's targets by SHA-256.
func artifacts(d *protocol.Directive) map[string]protocol.Artifact {
	m := map[string]protocol.Artifact{}
	if d == nil {
		return m
	}
	for _, dec := range d.Decisions {
		if dec.Target != nil && dec.Target.Artifact != nil && dec.Target.Artifact.SHA256 != "" {
			m[strings.ToLower(dec.Target.Artifact.SHA256)] = *dec.Target.Artifact
		}
	}
	return m
}

// prune discards the partial downloads of artifacts old needed and cur no
// longer does, and deletes kept APK files no decision of cur targets.
func (a *Agent) prune(old, cur *protocol.Directive) {
	keep := artifacts(cur)
	for sha, art := range artifacts(old) {
		if _, ok := keep[sha]; !ok {
			if err := a.dl.Discard(art); err != nil {
				a.log.Warn("discard old download", "sha256", sha, "err", err)
			}
		}
	}
	des, err := os.ReadDir(a.apkDir())
	if err != nil {
		return
	}
	for _, de := range des {
		sha, ok := strings.CutSuffix(de.Name(), ".apk")
		if _, kept := keep[strings.ToLower(sha)]; ok && !kept {
			if err := os.Remove(filepath.Join(a.apkDir(), de.Name())); err != nil {
				a.log.Warn("remove old apk", "file", de.Name(), "err", err)
			}
		}
	}
}

// reject reports a refused directive.
func (a *Agent) reject(source string, err error) {
	code := rejectReason(err)
	a.log.Warn("directive refused", "source", source, "reason", code, "err", err)
	a.emit(AgentApp, protocol.EventDirectiveRejected, "", map[string]string{
		protocol.ParamErrorCode: code,
		protocol.ParamReason:    truncate(err.Error(), protocol.MaxParamLen),
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
