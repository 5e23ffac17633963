package policy

import (
	"fmt"
	"strconv"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/sluice-mdm/sluice/protocol"
)

// Keys of the Rego result that the input does not already name.
var (
	kAction    = key("action")
	kReasons   = key("reasons")
	kCode      = key("code")
	kForm      = key("form")
	kSince     = key("since")
	kEnded     = key("ended")
	kRelease   = key("release")
	kRule      = key("rule")
	kNotBefore = key("notBefore")
	kStoreURL  = key("storeUrl")
	kWebURL    = key("webUrl")
)

// decisionFrom turns the value of data.sluice.decision.result into a
// Decision. It copies what the Rego decided; the only things it adds are
// the identities the input already holds (device, app, policy, time), the
// target release the Rego designated by its index, and the sentences of the
// reasons (engine_messages.go). A result that does
// not have the documented shape is an error, never a guess.
func decisionFrom(v ast.Value, in *Input) (Decision, error) {
	obj, ok := v.(ast.Object)
	if !ok {
		return Decision{}, fmt.Errorf("decision: is a %s, want an object", ast.ValueName(v))
	}
	r := resultReader{obj: obj, path: "decision"}
	d := Decision{
		Device:         in.Device.ID,
		App:            in.App,
		Action:         protocol.Action(r.str(kAction)),
		Mode:           protocol.Mode(r.str(kMode)),
		InstallType:    r.str(kInstallType),
		AllowDowngrade: r.boolean(kAllowDowngrade),
		NotBefore:      r.time(kNotBefore),
		EvaluatedAt:    in.At,
	}
	if in.Policy != nil {
		d.Policy = &protocol.PolicyRef{Name: in.Policy.Name, Revision: in.Policy.Revision}
	}
	if i, ok := r.int(kTarget); ok {
		if i < 0 || i >= int64(len(in.Releases)) {
			return Decision{}, fmt.Errorf("decision.target: %d is not an index of the %d releases", i, len(in.Releases))
		}
		rel := &in.Releases[i]
		art := rel.Artifact
		d.Target = &protocol.Target{
			VersionName:  rel.VersionName,
			VersionCode:  rel.VersionCode,
			Artifact:     &art,
			ReleaseNotes: rel.ReleaseNotes,
			AppStoreID:   rel.AppStoreID,
		}
	}
	if c, ok := r.object(kConstraints); ok {
		d.Constraints = &protocol.Constraints{
			UnmeteredNetwork: c.boolean(kUnmeteredNetwork),
			Charging:         c.boolean(kCharging),
			Idle:             c.boolean(kIdle),
			NotForeground:    c.boolean(kNotForeground),
		}
		r.err = c.err
	}
	if w, ok := r.object(kMaintenanceWindow); ok {
		d.MaintenanceWindow = &protocol.MaintenanceWindow{Start: w.str(kStart), End: w.str(kEnd)}
		r.err = w.err
	}
	if p, ok := r.object(kPrompt); ok {
		freq, _ := p.int(kDailyFrequency)
		d.Prompt = &protocol.Prompt{
			Closable:       p.boolean(kClosable),
			DailyFrequency: int(freq),
			Text:           p.str(kText),
			Button:         p.str(kButton),
			ForceAfter:     p.time(kForceAfter),
			StoreURL:       p.str(kStoreURL),
			WebURL:         p.str(kWebURL),
		}
		r.err = p.err
	}
	if r.err != nil {
		return Decision{}, r.err
	}
	if reasons, ok := r.array(kReasons); ok {
		d.Reasons = make([]protocol.Reason, reasons.Len())
		for i := range reasons.Len() {
			ro, ok := reasons.Elem(i).Value.(ast.Object)
			if !ok {
				return Decision{}, fmt.Errorf("decision.reasons[%d]: is a %s, want an object", i, ast.ValueName(reasons.Elem(i).Value))
			}
			rr := resultReader{obj: ro, path: "decision.reasons[" + strconv.Itoa(i) + "]"}
			re := reason{code: rr.str(kCode), form: rr.str(kForm), release: -1, target: -1, rule: ro.Get(kRule)}
			re.since, _ = rr.int(kSince)
			re.ended, _ = rr.int(kEnded)
			if n, ok := rr.int(kRelease); ok {
				re.release = n
			}
			if n, ok := rr.int(kTarget); ok {
				re.target = n
			}
			if rr.err != nil {
				return Decision{}, rr.err
			}
			msg, err := message(in, &d, &re)
			if err != nil {
				return Decision{}, fmt.Errorf("decision.reasons[%d]: %w", i, err)
			}
			d.Reasons[i] = protocol.Reason{Code: re.code, Message: msg}
		}
	}
	if r.err != nil {
		return Decision{}, r.err
	}
	if d.Action == "" {
		return Decision{}, fmt.Errorf("decision.action: is missing")
	}
	if len(d.Reasons) == 0 {
		return Decision{}, fmt.Errorf("decision.reasons: is empty; every decision needs a reason")
	}
	return d, nil
}

// resultReader reads optional members of a result object; absent and null
// members read as zero values. The first type error sticks in err.
type resultReader struct {
	obj  ast.Object
	path string
	err  error
}

func (r *resultReader) get(k *ast.Term) ast.Value {
	t := r.obj.Get(k)
	if t == nil {
		return nil
	}
	if _, null := t.Value.(ast.Null); null {
		return nil
	}
	return t.Value
}

func (r *resultReader) fail(k *ast.Term, v ast.Value, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s.%s: is a %s, want %s", r.path, k.Value.(ast.String), ast.ValueName(v), want)
	}
}

func (r *resultReader) str(k *ast.Term) string {
	v := r.get(k)
	if v == nil {
		return ""
	}
	s, ok := v.(ast.String)
	if !ok {
		r.fail(k, v, "a string")
	}
	return string(s)
}

func (r *resultReader) boolean(k *ast.Term) bool {
	v := r.get(k)
	if v == nil {
		return false
	}
	b, ok := v.(ast.Boolean)
	if !ok {
		r.fail(k, v, "a boolean")
	}
	return bool(b)
}

func (r *resultReader) int(k *ast.Term) (int64, bool) {
	v := r.get(k)
	if v == nil {
		return 0, false
	}
	n, ok := v.(ast.Number)
	if !ok {
		r.fail(k, v, "a number")
		return 0, false
	}
	i, ok := n.Int64()
	if !ok {
		r.fail(k, v, "an integer in range")
		return 0, false
	}
	return i, true
}

// time reads nanoseconds since the epoch.
func (r *resultReader) time(k *ast.Term) *time.Time {
	ns, ok := r.int(k)
	if !ok {
		return nil
	}
	t := time.Unix(0, ns).UTC()
	return &t
}

func (r *resultReader) object(k *ast.Term) (resultReader, bool) {
	v := r.get(k)
	if v == nil {
		return resultReader{}, false
	}
	o, ok := v.(ast.Object)
	if !ok {
		r.fail(k, v, "an object")
		return resultReader{}, false
	}
	return resultReader{obj: o, path: r.path + "." + string(k.Value.(ast.String)), err: r.err}, true
}

func (r *resultReader) array(k *ast.Term) (*ast.Array, bool) {
	v := r.get(k)
	if v == nil {
		return nil, false
	}
	a, ok := v.(*ast.Array)
	if !ok {
		r.fail(k, v, "an array")
		return nil, false
	}
	return a, true
}

// SameOutcome compares two decisions apart from DecisionID and EvaluatedAt,
// the fields that name an evaluation rather than its outcome. It returns an
// empty string when they agree, else a human-readable diff (-a +b).
func SameOutcome(a, b Decision) (diff string) {
	return cmp.Diff(a, b, cmpopts.IgnoreFields(Decision{}, "DecisionID", "EvaluatedAt"), cmpopts.EquateEmpty())
}
