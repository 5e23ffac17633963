package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/sluice-mdm/sluice/policy"
)

// File extensions LoadFiles reads from a directory.
var (
	manifestExts = []string{".yaml", ".yml", ".json"}
	regoExt      = ".rego"
)

// Parse reads one file's bytes: YAML or JSON manifests, or, when name ends
// in .rego, one Rego module that becomes a Rule named after the file. name
// is used in errors and in each object's Source.
//
// Every object is decoded strictly and validated on its own, and names are
// checked for uniqueness per kind; references between objects are checked
// by [Set.Validate]. On any problem Parse returns a nil Set and all the
// problems, as [*Error]s joined with errors.Join.
func Parse(name string, data []byte) (*Set, error) {
	var errs []error
	s := parseFile(name, data, &errs)
	checkDuplicates(s, &errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s.fillApps(nil)
	return s, nil
}

// LoadFiles reads manifest files and directories (see the package
// documentation for what a directory contributes) into one Set, with the
// same checks and errors as [Parse], across all the files.
func LoadFiles(paths ...string) (*Set, error) {
	var files []string
	var errs []error
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("manifest: %w", err))
			continue
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("manifest: %w", err))
			continue
		}
		for _, e := range entries { // ReadDir sorts by name
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if e.Type().IsRegular() && (slices.Contains(manifestExts, ext) || ext == regoExt) {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	s := &Set{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("manifest: %w", err))
			continue
		}
		s.add(parseFile(f, data, &errs))
	}
	checkDuplicates(s, &errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s.fillApps(nil)
	return s, nil
}

func parseFile(name string, data []byte, errs *[]error) *Set {
	s := &Set{}
	if !utf8.Valid(data) {
		r := report{src: Source{File: name}, errs: errs}
		r.add(fmt.Errorf("is not UTF-8 text (invalid byte at offset %d)", invalidUTF8At(data)))
		return s
	}
	if strings.EqualFold(filepath.Ext(name), regoExt) {
		base := filepath.Base(name)
		parseRego(s, Source{File: name, Document: 1, Documents: 1}, base[:len(base)-len(regoExt)], string(data), errs)
		return s
	}
	var docs []parsed
	for _, c := range split(data) {
		if p := parseChunk(c); p.node != nil || p.err != nil {
			docs = append(docs, p)
		}
	}
	for i, p := range docs {
		src := Source{File: name, Document: i + 1, Documents: len(docs)}
		if p.err != nil {
			r := report{src: src, errs: errs}
			r.add(p.err)
			continue
		}
		parseDocument(s, src, p.node, errs)
	}
	return s
}

func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// envelope holds a document's top-level fields.
type envelope struct {
	apiVersion, kind, metadata, spec *yaml.Node
}

var topFields = []string{"apiVersion", "kind", "metadata", "spec"}

func parseDocument(s *Set, src Source, doc *yaml.Node, errs *[]error) {
	r := &report{src: src, errs: errs}
	start := len(*errs)
	defer func() {
		// Name the object in every error, also those found before its kind
		// and name were known.
		for _, err := range (*errs)[start:] {
			if e, ok := err.(*Error); ok {
				e.Kind, e.Name = r.kind, r.name
			}
		}
	}()
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	for root.Kind == yaml.AliasNode {
		root = root.Alias
	}
	if root.Kind != yaml.MappingNode {
		r.field("", describe(root), "", "a manifest: a mapping with fields apiVersion, kind, metadata, spec")
		return
	}
	d := &decoder{r: r}
	var env envelope
	d.keys(root, "", func(key string, v *yaml.Node, keyPath string) bool {
		switch key {
		case "apiVersion":
			env.apiVersion = v
		case "kind":
			env.kind = v
		case "metadata":
			env.metadata = v
		case "spec":
			env.spec = v
		default:
			d.r.field(keyPath, "", "unknown field", strings.Join(topFields, ", "))
			return false
		}
		return true
	})

	kind, okKind := scalarField(r, env.kind, "kind", "one of "+strings.Join(Kinds, ", "))
	if okKind && !slices.Contains(Kinds, kind) {
		r.field("kind", strconv.Quote(kind), "", "one of "+strings.Join(Kinds, ", "))
		okKind = false
	}
	if okKind {
		r.kind = kind
	}
	if apiVersion, ok := scalarField(r, env.apiVersion, "apiVersion", policy.APIVersion); ok && apiVersion != policy.APIVersion {
		r.field("apiVersion", strconv.Quote(apiVersion), "", policy.APIVersion)
	}
	var meta Meta
	if env.metadata == nil || isNull(env.metadata) {
		r.field("metadata.name", "", "is missing", nameRule(kind))
	} else if d.decode(env.metadata, &meta, "metadata", nil) {
		r.name = meta.Name
		checkMeta(r, kind, okKind, meta)
	}
	if !okKind {
		return
	}
	if env.spec == nil || isNull(env.spec) {
		r.field("spec", "", "is missing", "a mapping with fields "+strings.Join(specFields(kind), ", "))
		return
	}
	obj := decodeSpec(d, kind, meta, env.spec)
	if obj == nil || len(*errs) > start {
		return // the document has problems, all reported
	}
	obj.addTo(s, meta, src)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull
}

// scalarField reads a top-level string field that must be present.
func scalarField(r *report, n *yaml.Node, path, allowed string) (string, bool) {
	if n == nil || isNull(n) {
		r.field(path, "", "is missing", allowed)
		return "", false
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != tagStr {
		r.field(path, describe(n), "", allowed)
		return "", false
	}
	return n.Value, true
}
