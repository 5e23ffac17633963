package manifest

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/sluice-mdm/sluice/policy"
)

// maxNodes bounds the values one document may expand to, aliases included,
// so that a small file cannot make the loader do unbounded work.
const maxNodes = 100000

// YAML core tags.
const (
	tagStr       = "!!str"
	tagInt       = "!!int"
	tagFloat     = "!!float"
	tagBool      = "!!bool"
	tagNull      = "!!null"
	tagTimestamp = "!!timestamp"
	tagMerge     = "!!merge"
)

const (
	allowedTime = "an RFC 3339 time such as 2025-05-02T09:00:00Z, or a date such as 2025-05-02"
)

var timeType = reflect.TypeFor[time.Time]()

// decoder turns a YAML node tree into a value that encoding/json decodes
// into the target type, checking on the way what encoding/json cannot say
// well: unknown fields with their path and the allowed names, values of
// the wrong type, fields given twice.
type decoder struct {
	r     *report
	nodes int
	// bad lists the paths of values that were reported and left out, so
	// that validation does not report them a second time.
	bad []string
}

// decode fills out (a pointer) from n, reporting problems under path.
// Values with problems are left out (zero), so that the rest can still be
// validated. It reports whether out could be filled at all. skip names
// top-level fields of out's struct type that a manifest may not set, with
// the reason.
func (d *decoder) decode(n *yaml.Node, out any, path string, skip map[string]string) bool {
	v, _ := d.value(n, reflect.TypeOf(out).Elem(), path, skip)
	data, err := json.Marshal(v)
	if err == nil {
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		err = dec.Decode(out)
	}
	if err != nil {
		d.fail(path, "", "cannot be decoded: "+err.Error(), "")
		return false
	}
	return true
}

// fail reports a problem with the value at path, which is left out.
func (d *decoder) fail(path, value, problem, allowed string) {
	d.bad = append(d.bad, path)
	d.r.field(path, value, problem, allowed)
}

// wrong reports a value of the wrong type or form.
func (d *decoder) wrong(n *yaml.Node, path, allowed string) {
	d.fail(path, describe(n), "", allowed)
}

// validated reports the field errors of a decoded object's validation,
// with paths under prefix, except those about values already reported.
func (d *decoder) validated(prefix string, err error) {
	if err == nil {
		return
	}
	fes := policy.FieldErrors(err)
	if len(fes) == 0 {
		d.r.add(err)
		return
	}
	for _, fe := range fes {
		c := *fe
		c.Path = joinPath(prefix, c.Path)
		if !d.reported(c.Path) {
			d.r.add(&c)
		}
	}
}

// reported says whether path, or a value holding it, was reported.
func (d *decoder) reported(path string) bool {
	for _, b := range d.bad {
		if path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return true
		}
	}
	return false
}

// describe renders a node as a FieldError value: quoted strings, bare
// other scalars, "a mapping" or "a list".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.ShortTag() == tagStr {
		return strconv.Quote(n.Value)
	}
	return n.Value
}

// value returns the JSON-ready form of n for type t: nil (leave the zero
// value), string, int64, float64, bool, []any or map[string]any.
func (d *decoder) value(n *yaml.Node, t reflect.Type, path string, skip map[string]string) (any, bool) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	d.nodes++
	if d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.fail(path, "", fmt.Sprintf("expands to more than %d values", maxNodes), "a smaller document (check YAML aliases)")
		}
		return nil, false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull {
		return nil, true
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return d.time(n, path)
	}
	switch t.Kind() {
	case reflect.String:
		return d.str(n, path)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != tagBool {
			d.wrong(n, path, "a boolean (true or false)")
			return nil, false
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			d.wrong(n, path, "a boolean (true or false)")
			return nil, false
		}
		return b, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return d.integer(n, t, path)
	case reflect.Float32, reflect.Float64:
		return d.float(n, path)
	case reflect.Slice:
		return d.list(n, t, path)
	case reflect.Map:
		return d.mapping(n, t, path)
	case reflect.Struct:
		return d.object(n, t, path, skip)
	}
	d.fail(path, "", fmt.Sprintf("has a type (%s) manifests cannot hold", t), "")
	return nil, false
}

func (d *decoder) str(n *yaml.Node, path string) (any, bool) {
	if n.Kind != yaml.ScalarNode {
		d.wrong(n, path, "a string")
		return nil, false
	}
	switch n.ShortTag() {
	case tagStr, tagInt, tagFloat, tagBool, tagTimestamp:
		// A plain 5.1 or true meant for a string field is the text written.
	default:
		d.fail(path, "", "has the YAML tag "+n.Tag, "a plain string")
		return nil, false
	}
	if !utf8.ValidString(n.Value) {
		d.fail(path, strconv.Quote(n.Value), "is not valid UTF-8", "")
		return nil, false
	}
	return n.Value, true
}

func (d *decoder) integer(n *yaml.Node, t reflect.Type, path string) (any, bool) {
	tag := n.ShortTag()
	outOfRange := func() (any, bool) {
		d.fail(path, n.Value, "is out of range", fmt.Sprintf("a whole number that fits in %d bits", t.Bits()))
		return nil, false
	}
	switch {
	case n.Kind == yaml.ScalarNode && tag == tagFloat && isInteger(n.Value):
		return outOfRange() // too large for an int64, so YAML read it as a float
	case n.Kind == yaml.ScalarNode && tag == tagFloat:
		d.wrong(n, path, "a whole number")
		return nil, false
	case n.Kind != yaml.ScalarNode || tag != tagInt:
		d.wrong(n, path, "a number")
		return nil, false
	}
	var i int64
	if err := n.Decode(&i); err != nil || reflect.Zero(t).OverflowInt(i) {
		return outOfRange()
	}
	return i, true
}

// isInteger reports whether s is an optionally signed run of digits.
func isInteger(s string) bool {
	s = strings.TrimLeft(s, "+-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (d *decoder) float(n *yaml.Node, path string) (any, bool) {
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || (tag != tagInt && tag != tagFloat) {
		d.wrong(n, path, "a number")
		return nil, false
	}
	var f float64
	if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.wrong(n, path, "a finite number")
		return nil, false
	}
	return f, true
}

func (d *decoder) time(n *yaml.Node, path string) (any, bool) {
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || (tag != tagStr && tag != tagTimestamp) {
		d.wrong(n, path, allowedTime)
		return nil, false
	}
	if t, err := time.Parse(time.RFC3339Nano, n.Value); err == nil {
		return t.Format(time.RFC3339Nano), true
	}
	if t, err := time.Parse(time.DateOnly, n.Value); err == nil {
		return t.Format(time.RFC3339Nano), true
	}
	d.fail(path, strconv.Quote(n.Value), "", allowedTime)
	return nil, false
}

func (d *decoder) list(n *yaml.Node, t reflect.Type, path string) (any, bool) {
	if n.Kind != yaml.SequenceNode {
		d.wrong(n, path, "a list")
		return nil, false
	}
	if len(n.Content) == 0 {
		return nil, true
	}
	out := make([]any, len(n.Content))
	ok := true
	for i, item := range n.Content {
		v, good := d.value(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), nil)
		ok = ok && good
		out[i] = v
	}
	return out, ok
}

// keys walks a mapping's keys, reporting keys that are not plain strings,
// merge keys and keys given twice; it calls f for each good one.
func (d *decoder) keys(n *yaml.Node, path string, f func(key string, value *yaml.Node, keyPath string) bool) bool {
	ok := true
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		for k.Kind == yaml.AliasNode {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == tagNull || k.ShortTag() == tagMerge {
			what := describe(k)
			if k.ShortTag() == tagMerge {
				what = "<<"
			}
			d.fail(path, what, "is used as a key", "plain string keys (YAML merge keys are not supported)")
			ok = false
			continue
		}
		keyPath := joinPath(path, k.Value)
		if seen[k.Value] {
			d.fail(keyPath, "", "is given twice", "each field once")
			ok = false
			continue
		}
		seen[k.Value] = true
		if !f(k.Value, v, keyPath) {
			ok = false
		}
	}
	return ok
}

func (d *decoder) mapping(n *yaml.Node, t reflect.Type, path string) (any, bool) {
	if n.Kind != yaml.MappingNode {
		d.wrong(n, path, "a mapping")
		return nil, false
	}
	if len(n.Content) == 0 {
		return nil, true
	}
	out := make(map[string]any, len(n.Content)/2)
	ok := d.keys(n, path, func(key string, v *yaml.Node, _ string) bool {
		if !utf8.ValidString(key) {
			d.fail(path, strconv.Quote(key), "is not valid UTF-8", "")
			return false
		}
		val, good := d.value(v, t.Elem(), path+"["+key+"]", nil)
		out[key] = val
		return good
	})
	return out, ok
}

// jsonFields maps a struct's JSON names to their field types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func (d *decoder) object(n *yaml.Node, t reflect.Type, path string, skip map[string]string) (any, bool) {
	fields := jsonFields(t)
	var names []string
	for name := range fields {
		if _, skipped := skip[name]; !skipped {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if n.Kind != yaml.MappingNode {
		d.wrong(n, path, "a mapping with fields "+strings.Join(names, ", "))
		return nil, false
	}
	out := make(map[string]any, len(n.Content)/2)
	ok := d.keys(n, path, func(key string, v *yaml.Node, keyPath string) bool {
		ft, known := fields[key]
		if why, skipped := skip[key]; skipped {
			d.fail(keyPath, "", "cannot be set here: "+why, strings.Join(names, ", "))
			return false
		}
		if !known {
			d.fail(keyPath, "", "unknown field", strings.Join(names, ", "))
			return false
		}
		val, good := d.value(v, ft, keyPath, nil)
		if val != nil {
			out[key] = val
		}
		return good
	})
	return out, ok
}
