package policy

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// regoFS holds the decision modules (package sluice.decision) and their
// Rego unit tests (*_test.rego, run by go test, never loaded by the engine).
//
//go:embed rego/*.rego
var regoFS embed.FS

// rulesPackage is the package of admins' extension modules.
var rulesPackage = ast.MustParseRef("data.sluice.rules")

// Config configures an [Engine]. The zero value is usable.
type Config struct {
	// Rules are admins' extension modules (package sluice.rules) that may
	// deny updates. Nil means none.
	Rules []Rule
	// Logger receives a debug record per decision. Nil discards.
	Logger *slog.Logger
	// Now is used only when a Request has no At: it becomes the evaluation
	// time. Nil means time.Now.
	Now func() time.Time
}

// Engine evaluates the decision procedure: the embedded Rego modules plus
// the configured extension rules, compiled once by [NewEngine]. It is safe
// for concurrent use.
type Engine struct {
	query *query
	log   *slog.Logger
	now   func() time.Time
}

// ErrRuleRefused is returned, wrapped in a [*RuleError], when an extension
// rule cannot be loaded.
var ErrRuleRefused = errors.New("policy: extension rule refused")

// ErrNoDecision means the decision modules produced no decision for an
// input: a defect of the modules, never of the input.
var ErrNoDecision = errors.New("policy: the decision modules gave no decision")

// RuleError says which extension rule was refused and why; Err is OPA's
// parse or compile error when there is one.
type RuleError struct {
	Name string // Rule.Name, usually the file name
	Err  error
}

func (e *RuleError) Error() string { return fmt.Sprintf("policy: rule %s: %v", e.Name, e.Err) }

func (e *RuleError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrRuleRefused].
func (e *RuleError) Is(target error) bool { return target == ErrRuleRefused }

// NewEngine compiles the decision modules and cfg.Rules once. A rule that
// does not parse or compile, or is not in package sluice.rules, is refused
// with a [*RuleError] naming it and carrying OPA's message.
func NewEngine(ctx context.Context, cfg Config) (*Engine, error) {
	e := &Engine{log: cfg.Logger, now: cfg.Now}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	modules, err := decisionModules()
	if err != nil {
		return nil, err
	}
	all := make(map[string]*ast.Module, len(modules)+len(cfg.Rules))
	for _, m := range modules {
		all[m.Package.Location.File] = m
	}
	rules := make(map[string]bool, len(cfg.Rules))
	for _, r := range cfg.Rules {
		m, err := parseRule(r, modules)
		if err != nil {
			return nil, err
		}
		if rules[r.Name] {
			return nil, &RuleError{Name: r.Name, Err: errors.New("another rule has the same name")}
		}
		rules[r.Name] = true
		all[r.Name] = m
	}
	ref := resultRef
	if len(cfg.Rules) == 0 {
		ref = outcomeRef
	}
	q, err := newQuery(all, ref)
	if err != nil {
		var errs ast.Errors
		if errors.As(err, &errs) {
			for _, ae := range errs {
				if ae.Location != nil && rules[ae.Location.File] {
					return nil, &RuleError{Name: ae.Location.File, Err: err}
				}
			}
		}
		return nil, fmt.Errorf("policy: compile decision modules: %w", err)
	}
	e.query = q
	return e, nil
}

// decisionModules parses the embedded modules, leaving out their tests.
func decisionModules() ([]*ast.Module, error) {
	files, err := fs.Glob(regoFS, "rego/*.rego")
	if err != nil {
		return nil, fmt.Errorf("policy: list decision modules: %w", err)
	}
	var modules []*ast.Module
	for _, name := range files {
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		src, err := regoFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("policy: read decision module %s: %w", name, err)
		}
		m, err := ast.ParseModuleWithOpts(path.Join("sluice", name), string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("policy: parse decision module %s: %w", name, err)
		}
		modules = append(modules, m)
	}
	return modules, nil
}

// parseRule parses one extension module and checks what the compiler does
// not: its package, and that deny is a set of messages.
func parseRule(r Rule, builtin []*ast.Module) (*ast.Module, error) {
	if r.Name == "" {
		return nil, &RuleError{Name: `""`, Err: errors.New("name: is empty; want the module's file name")}
	}
	for _, m := range builtin {
		if m.Package.Location != nil && m.Package.Location.File == r.Name {
			return nil, &RuleError{Name: r.Name, Err: errors.New("name: is taken by a built-in decision module")}
		}
	}
	m, err := ast.ParseModuleWithOpts(r.Name, r.Module, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, &RuleError{Name: r.Name, Err: err}
	}
	if m == nil {
		return nil, &RuleError{Name: r.Name, Err: errors.New("module: is empty; want a Rego module in package sluice.rules")}
	}
	if !m.Package.Path.Equal(rulesPackage) {
		return nil, &RuleError{Name: r.Name, Err: fmt.Errorf("package: %s is not allowed; want package sluice.rules", m.Package.Path.String()[len("data."):])}
	}
	for _, rule := range m.Rules {
		ref := rule.Head.Ref()
		if len(ref) > 0 && ref[0].Value.Compare(ast.Var("deny")) == 0 {
			if rule.Head.RuleKind() != ast.MultiValue || len(ref) != 1 {
				return nil, &RuleError{Name: r.Name, Err: fmt.Errorf("%s:%d: deny: is not a set of messages; write `deny contains msg if { ... }`", r.Name, rule.Location.Row)}
			}
		}
	}
	return m, nil
}

// deterministicCapabilities are OPA's builtins minus the non-deterministic
// ones (http.send, time.now_ns, rand.intn, ...): a decision depends on its
// input only, so that it can be replayed.
func deterministicCapabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	kept := caps.Builtins[:0]
	for _, b := range caps.Builtins {
		if !b.Nondeterministic {
			kept = append(kept, b)
		}
	}
	caps.Builtins = kept
	return caps
}

// Decide evaluates a request: it builds the [Input] and evaluates it. A
// request without At is evaluated at Config.Now.
func (e *Engine) Decide(ctx context.Context, req Request) (Decision, error) {
	if req.At.IsZero() {
		req.At = e.now()
	}
	in, err := BuildInput(req)
	if err != nil {
		return Decision{}, fmt.Errorf("decide %s on %s: %w", req.App, req.Device.ID, err)
	}
	return e.evaluate(ctx, &in)
}

// Evaluate evaluates an input document, typically one read back from the
// decision log: the same input gives the same decision and decision id.
func (e *Engine) Evaluate(ctx context.Context, in Input) (Decision, error) {
	if err := in.Check(); err != nil {
		return Decision{}, fmt.Errorf("evaluate %s on %s: %w", in.App, in.Device.ID, err)
	}
	in.deriveFacts()
	return e.evaluate(ctx, &in)
}

func (e *Engine) evaluate(ctx context.Context, in *Input) (Decision, error) {
	v, id := in.build()
	term, err := e.query.eval(ctx, v, in.At)
	if err != nil {
		return Decision{}, fmt.Errorf("evaluate %s on %s: %w", in.App, in.Device.ID, err)
	}
	d, err := decisionFrom(term.Value, in)
	if err != nil {
		return Decision{}, fmt.Errorf("evaluate %s on %s: %w", in.App, in.Device.ID, err)
	}
	d.DecisionID = id
	if e.log.Enabled(ctx, slog.LevelDebug) {
		attrs := []slog.Attr{
			slog.String("device_id", d.Device), slog.String("app", d.App),
			slog.String("action", string(d.Action)), slog.String("reason", d.Reasons[0].Code),
			slog.String("decision_id", d.DecisionID),
		}
		if d.Policy != nil {
			attrs = append(attrs, slog.String("policy", d.Policy.Name), slog.Uint64("policy_rev", d.Policy.Revision))
		}
		e.log.LogAttrs(ctx, slog.LevelDebug, "decision", attrs...)
	}
	return d, nil
}
