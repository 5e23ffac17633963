package manifest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	yaml "go.yaml.in/yaml/v3"

	"github.com/sluice-mdm/sluice/fleet"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// Spec shapes of the kinds whose spec is not a policy type.
type (
	groupSpec struct {
		Selector string   `json:"selector,omitempty"`
		Members  []string `json:"members,omitempty"`
	}
	assignmentSpec struct {
		Policy   string   `json:"policy"`
		Groups   []string `json:"groups"`
		Priority int      `json:"priority"`
	}
	ruleSpec struct {
		Module string `json:"module"`
	}
)

// deviceSkip names the Device field a manifest sets through metadata.name.
var deviceSkip = map[string]string{"id": "the device id is metadata.name"}

// RulePackage is the Rego package every Rule module must declare.
const RulePackage = "sluice.rules"

// Limits on metadata.
const (
	maxNameLen            = 253
	maxAnnotationValueLen = 10000
)

const allowedName = "1 to 253 lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit"

func nameRule(kind string) string {
	if kind == policy.KindDevice {
		return fmt.Sprintf("a device id of 1 to %d bytes of letters, digits, '-', '_' and ':'", protocol.MaxDeviceIDLen)
	}
	return allowedName
}

// validName checks the name of any object but a Device.
func validName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || i == len(s)-1 || (c != '-' && c != '_' && c != '.')) {
			return false
		}
	}
	return true
}

// checkMeta validates metadata; knownKind says whether kind is one of
// Kinds (the name rule depends on it).
func checkMeta(r *report, kind string, knownKind bool, m Meta) {
	switch {
	case m.Name == "":
		r.field("metadata.name", "", "is missing", nameRule(kind))
	case knownKind && kind == policy.KindDevice:
		var idErr *protocol.DeviceIDError
		if err := protocol.ValidateDeviceID(m.Name); errors.As(err, &idErr) {
			r.field("metadata.name", strconv.Quote(m.Name), idErr.Reason, nameRule(kind))
		}
	case knownKind && !validName(m.Name):
		r.field("metadata.name", strconv.Quote(m.Name), "", allowedName)
	}
	checkLabels(r, "metadata.labels", m.Labels)
	for _, k := range sortedKeys(m.Annotations) {
		path := "metadata.annotations[" + k + "]"
		if err := fleet.ValidateLabelKey(k); err != nil {
			labelError(r, path, err)
		}
		if n := utf8.RuneCountInString(m.Annotations[k]); n > maxAnnotationValueLen {
			r.field(path, "", fmt.Sprintf("is %d characters long", n), fmt.Sprintf("at most %d characters", maxAnnotationValueLen))
		}
	}
}

func checkLabels(r *report, path string, labels map[string]string) {
	for _, k := range sortedKeys(labels) {
		p := path + "[" + k + "]"
		if err := fleet.ValidateLabelKey(k); err != nil {
			labelError(r, p, err)
		} else if err := fleet.ValidateLabelValue(k, labels[k]); err != nil {
			labelError(r, p, err)
		}
	}
}

// labelError words fleet's label errors as field errors.
func labelError(r *report, path string, err error) {
	var le *fleet.LabelError
	if !errors.As(err, &le) {
		r.add(fmt.Errorf("%s: %w", path, err))
		return
	}
	if le.IsValue {
		r.field(path, strconv.Quote(le.Value), le.Reason,
			fmt.Sprintf("a label value of up to %d letters, digits, '-', '_' and '.', starting and ending with a letter or digit", fleet.MaxLabelNameLen))
		return
	}
	r.field(path, "key "+strconv.Quote(le.Key), le.Reason,
		fmt.Sprintf("an optional DNS prefix and '/', then 1 to %d letters, digits, '-', '_' and '.', starting and ending with a letter or digit", fleet.MaxLabelNameLen))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// object is one decoded, valid manifest, ready to join a Set.
type object func(s *Set, meta Meta, src Source)

func (o object) addTo(s *Set, meta Meta, src Source) { o(s, meta, src) }

// decodeSpec decodes and validates the spec of a manifest of kind; it
// returns nil when the spec has problems, which it reports.
func decodeSpec(d *decoder, kind string, meta Meta, n *yaml.Node) object {
	r := d.r
	before := len(*r.errs)
	clean := func() bool { return len(*r.errs) == before }
	switch kind {
	case policy.KindRelease:
		var spec policy.Release
		if d.decode(n, &spec, "spec", nil) {
			d.validated("spec", spec.Validate())
		}
		if clean() {
			return func(s *Set, meta Meta, src Source) {
				s.Releases = append(s.Releases, Release{Meta: meta, Source: src, Spec: spec})
			}
		}
	case policy.KindUpdatePolicy:
		var spec policy.UpdatePolicy
		if d.decode(n, &spec, "spec", nil) {
			d.validated("spec", spec.Validate())
		}
		if clean() {
			return func(s *Set, meta Meta, src Source) {
				s.Policies = append(s.Policies, Policy{Meta: meta, Source: src, Spec: spec})
			}
		}
	case policy.KindDeviceGroup:
		var spec groupSpec
		if d.decode(n, &spec, "spec", nil) {
			checkGroup(r, meta.Name, spec)
		}
		if clean() {
			return func(s *Set, meta Meta, src Source) {
				g := fleet.DeviceGroup{Name: meta.Name, Selector: spec.Selector, Members: spec.Members}
				s.Groups = append(s.Groups, Group{Meta: meta, Source: src, Spec: g})
			}
		}
	case policy.KindAssignment:
		var spec assignmentSpec
		if d.decode(n, &spec, "spec", nil) {
			checkAssignment(r, spec)
		}
		if clean() {
			return func(s *Set, meta Meta, src Source) {
				a := fleet.Assignment{Name: meta.Name, Policy: spec.Policy, Groups: spec.Groups, Priority: spec.Priority}
				s.Assignments = append(s.Assignments, Assignment{Meta: meta, Source: src, Spec: a})
			}
		}
	case policy.KindDevice:
		var spec policy.Device
		if d.decode(n, &spec, "spec", deviceSkip) {
			spec.ID = meta.Name
			for _, fe := range policy.FieldErrors(spec.Validate()) {
				if fe.Path != "id" { // metadata.name was checked already
					d.validated("spec", fe)
				}
			}
			checkLabels(r, "spec.labels", spec.Labels)
		}
		if clean() {
			return func(s *Set, meta Meta, src Source) {
				s.Devices = append(s.Devices, Device{Meta: meta, Source: src, Spec: spec})
			}
		}
	case policy.KindRule:
		var spec ruleSpec
		if d.decode(n, &spec, "spec", nil) {
			checkRego(r, "spec.module", meta.Name+regoExt, spec.Module)
		}
		if clean() {
			return func(s *Set, meta Meta, src Source) {
				s.Rules = append(s.Rules, Rule{Meta: meta, Source: src, Spec: policy.Rule{Name: meta.Name, Module: spec.Module}})
			}
		}
	}
	return nil
}

func checkGroup(r *report, name string, spec groupSpec) {
	_, err := fleet.CompileGroup(fleet.DeviceGroup{Name: name, Selector: spec.Selector})
	var ve *fleet.ValidationError
	var se *fleet.SelectorError
	switch {
	case err == nil:
	case errors.As(err, &se):
		r.field("spec.selector", strconv.Quote(spec.Selector), fmt.Sprintf("at column %d: found %s", se.Column, se.Found), se.Want)
	case errors.As(err, &ve) && ve.Field == "selector":
		r.field("spec.selector", strconv.Quote(spec.Selector), ve.Reason, "")
	case errors.As(err, &ve) && ve.Field == "name":
		// metadata.name was checked already.
	default:
		r.add(fmt.Errorf("spec: %w", err))
	}
	seen := map[string]bool{}
	for i, m := range spec.Members {
		path := fmt.Sprintf("spec.members[%d]", i)
		var idErr *protocol.DeviceIDError
		if err := protocol.ValidateDeviceID(m); errors.As(err, &idErr) {
			r.field(path, strconv.Quote(m), idErr.Reason, nameRule(policy.KindDevice))
		} else if seen[m] {
			r.field(path, strconv.Quote(m), "is listed twice", "each member once")
		}
		seen[m] = true
	}
}

func checkAssignment(r *report, spec assignmentSpec) {
	switch {
	case spec.Policy == "":
		r.field("spec.policy", "", "is missing", "the name of an UpdatePolicy")
	case !validName(spec.Policy):
		r.field("spec.policy", strconv.Quote(spec.Policy), "", "the name of an UpdatePolicy: "+allowedName)
	}
	if len(spec.Groups) == 0 {
		r.field("spec.groups", "", "is missing", "a list of one or more DeviceGroup names")
	}
	seen := make(map[string]bool, len(spec.Groups))
	for i, g := range spec.Groups {
		path := fmt.Sprintf("spec.groups[%d]", i)
		switch {
		case !validName(g):
			r.field(path, strconv.Quote(g), "", "the name of a DeviceGroup: "+allowedName)
		case seen[g]:
			r.field(path, strconv.Quote(g), "is listed twice", "each group once")
		}
		seen[g] = true
	}
}

// checkRego parses a Rule's module and checks its package. path is where
// errors point ("" for a .rego file); file names the module in OPA's
// messages.
func checkRego(r *report, path, file, module string) {
	const allowed = "a Rego module in package " + RulePackage
	if strings.TrimSpace(module) == "" {
		r.field(path, "", "is missing", allowed)
		return
	}
	mod, err := ast.ParseModuleWithOpts(file, module, ast.ParserOptions{RegoVersion: ast.RegoV1})
	var astErrs ast.Errors
	var astErr *ast.Error
	if errors.As(err, &astErr) {
		astErrs = ast.Errors{astErr}
	}
	switch {
	case len(astErrs) > 0 || errors.As(err, &astErrs):
		var parts []string
		for _, e := range astErrs {
			at := ""
			if e.Location != nil {
				at = fmt.Sprintf("line %d, column %d: ", e.Location.Row, e.Location.Col)
			}
			parts = append(parts, at+e.Code+": "+e.Message)
		}
		r.field(path, "", "does not parse: "+strings.Join(parts, "; "), allowed)
	case err != nil:
		r.field(path, "", "does not parse: "+err.Error(), allowed)
	case mod == nil:
		r.field(path, "", "is empty", allowed)
	case mod.Package.Path.String() != "data."+RulePackage:
		r.field(path, "", "declares package "+strings.TrimPrefix(mod.Package.Path.String(), "data."), allowed)
	}
}

// parseRego adds a .rego file as the Rule name.
func parseRego(s *Set, src Source, name, module string, errs *[]error) {
	r := &report{src: src, kind: policy.KindRule, name: name, errs: errs}
	before := len(*errs)
	if !validName(name) {
		r.field("", "file name "+strconv.Quote(name+regoExt), "", "a Rule name before .rego: "+allowedName)
	}
	checkRego(r, "", src.File, module)
	if len(*errs) == before {
		s.Rules = append(s.Rules, Rule{Meta: Meta{Name: name}, Source: src, Spec: policy.Rule{Name: name, Module: module}})
	}
}

// checkDuplicates reports every object whose kind and name repeat an
// earlier one's.
func checkDuplicates(s *Set, errs *[]error) {
	dupCheck(policy.KindRelease, s.Releases, func(o Release) (Meta, Source) { return o.Meta, o.Source }, errs)
	dupCheck(policy.KindUpdatePolicy, s.Policies, func(o Policy) (Meta, Source) { return o.Meta, o.Source }, errs)
	dupCheck(policy.KindDeviceGroup, s.Groups, func(o Group) (Meta, Source) { return o.Meta, o.Source }, errs)
	dupCheck(policy.KindAssignment, s.Assignments, func(o Assignment) (Meta, Source) { return o.Meta, o.Source }, errs)
	dupCheck(policy.KindDevice, s.Devices, func(o Device) (Meta, Source) { return o.Meta, o.Source }, errs)
	dupCheck(policy.KindRule, s.Rules, func(o Rule) (Meta, Source) { return o.Meta, o.Source }, errs)
}

func dupCheck[T any](kind string, objs []T, id func(T) (Meta, Source), errs *[]error) {
	seen := make(map[string]Source, len(objs))
	for _, o := range objs {
		m, src := id(o)
		if prev, dup := seen[m.Name]; dup {
			r := report{src: src, kind: kind, name: m.Name, errs: errs}
			r.field("metadata.name", strconv.Quote(m.Name), "is already defined"+where(prev), "one "+kind+" per name")
			continue
		}
		seen[m.Name] = src
	}
}

func where(src Source) string {
	if src.File == "" {
		return ""
	}
	return " in " + src.String()
}

// specTypes are the Go types of each kind's spec.
var specTypes = map[string]reflect.Type{
	policy.KindRelease:      reflect.TypeFor[policy.Release](),
	policy.KindUpdatePolicy: reflect.TypeFor[policy.UpdatePolicy](),
	policy.KindDeviceGroup:  reflect.TypeFor[groupSpec](),
	policy.KindAssignment:   reflect.TypeFor[assignmentSpec](),
	policy.KindDevice:       reflect.TypeFor[policy.Device](),
	policy.KindRule:         reflect.TypeFor[ruleSpec](),
}

// specFields lists the fields a kind's spec may set, sorted.
func specFields(kind string) []string {
	var names []string
	for name := range jsonFields(specTypes[kind]) {
		if _, skipped := deviceSkip[name]; kind == policy.KindDevice && skipped {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
