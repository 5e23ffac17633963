package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/sluice-mdm/sluice/policy"
)

// Format is an output format of [Marshal] and [Encode].
type Format string

// Formats.
const (
	YAML Format = "yaml"
	JSON Format = "json"
)

// Manifest is one object as written: the document form of a Set's
// members, for APIs that return single objects as well as for Marshal.
type Manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   Meta   `json:"metadata"`
	// Spec is the kind's spec: a policy.Release, policy.UpdatePolicy or
	// the spec shapes of the other kinds.
	Spec any `json:"spec"`
}

// deviceSpec writes a Device's spec without its id, which is
// metadata.name: the outer ID hides the embedded one.
type deviceSpec struct {
	policy.Device
	ID string `json:"id,omitempty"`
}

func manifest(kind string, meta Meta, spec any) Manifest {
	return Manifest{APIVersion: policy.APIVersion, Kind: kind, Metadata: meta, Spec: spec}
}

// Manifests returns the set's objects as documents, kind by kind in the
// order of [Kinds], each kind in the set's order.
func (s *Set) Manifests() []Manifest {
	out := make([]Manifest, 0, s.Len())
	for _, r := range s.Releases {
		out = append(out, manifest(policy.KindRelease, r.Meta, r.Spec))
	}
	for _, p := range s.Policies {
		out = append(out, manifest(policy.KindUpdatePolicy, p.Meta, p.Spec))
	}
	for _, g := range s.Groups {
		out = append(out, manifest(policy.KindDeviceGroup, g.Meta, groupSpec{Selector: g.Spec.Selector, Members: g.Spec.Members}))
	}
	for _, a := range s.Assignments {
		out = append(out, manifest(policy.KindAssignment, a.Meta, assignmentSpec{Policy: a.Spec.Policy, Groups: a.Spec.Groups, Priority: a.Spec.Priority}))
	}
	for _, d := range s.Devices {
		out = append(out, manifest(policy.KindDevice, d.Meta, deviceSpec{Device: d.Spec}))
	}
	for _, r := range s.Rules {
		out = append(out, manifest(policy.KindRule, r.Meta, ruleSpec{Module: r.Spec.Module}))
	}
	return out
}

// Marshal writes the set as documents of the format, separated by "---"
// lines; [Parse] reads them back into the same set. One object in JSON is
// a plain JSON document.
func Marshal(s *Set, f Format) ([]byte, error) {
	var b bytes.Buffer
	if err := Encode(&b, s, f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Encode writes the set to w as [Marshal] does.
func Encode(w io.Writer, s *Set, f Format) error {
	ms := s.Manifests()
	switch f {
	case YAML:
		if len(ms) == 0 {
			return nil // the YAML encoder cannot close an empty stream
		}
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		for _, m := range ms {
			n, err := yamlNode(m)
			if err != nil {
				return fmt.Errorf("manifest: encode %s %q: %w", m.Kind, m.Metadata.Name, err)
			}
			if err := enc.Encode(n); err != nil {
				return fmt.Errorf("manifest: encode %s %q: %w", m.Kind, m.Metadata.Name, err)
			}
		}
		if err := enc.Close(); err != nil {
			return fmt.Errorf("manifest: encode: %w", err)
		}
		return nil
	case JSON:
		for i, m := range ms {
			data, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				return fmt.Errorf("manifest: encode %s %q: %w", m.Kind, m.Metadata.Name, err)
			}
			if i > 0 {
				data = append([]byte("---\n"), data...)
			}
			if _, err := w.Write(append(data, '\n')); err != nil {
				return fmt.Errorf("manifest: encode: %w", err)
			}
		}
		return nil
	}
	return fmt.Errorf("manifest: format %q is not one of %s, %s", f, YAML, JSON)
}

// yamlNode converts m to a YAML node tree through its JSON form, keeping
// the field order of the Go types.
func yamlNode(m Manifest) (*yaml.Node, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return jsonToNode(dec)
}

func jsonToNode(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if t == '[' {
			n = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		}
		for dec.More() {
			if n.Kind == yaml.MappingNode {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, strNode(k.(string)))
			}
			v, err := jsonToNode(dec)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, v)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return strNode(t), nil
	case json.Number:
		tag := tagInt
		if strings.ContainsAny(string(t), ".eE") {
			tag = tagFloat
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(t)}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tagBool, Value: fmt.Sprint(t)}, nil
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tagNull, Value: "null"}, nil
}

func strNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: tagStr, Value: s}
	switch {
	case strings.ContainsAny(s, "\r\u0085\u2028\u2029"):
		// YAML line breaks other than LF would be written raw in any other
		// style, and a document separator could end up on their line.
		n.Style = yaml.DoubleQuotedStyle
	case strings.Contains(s, "\n"):
		n.Style = yaml.LiteralStyle
	}
	return n
}
