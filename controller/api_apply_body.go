package controller

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"

	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/policy"
)

// manifestTypes are the media types of one manifest file: YAML, JSON, or
// text/plain for a Rego module (a file named *.rego).
var manifestTypes = []string{"application/yaml", "application/x-yaml", "text/yaml", "application/json", "text/plain"}

// maxApplyParts bounds the files of one multipart apply.
const maxApplyParts = 1000

// readManifests reads an apply body: one file as the body, named by
// ?file= (default "request"), or several as multipart/form-data parts
// named "file" with their file names, parsed one by one and checked
// together for duplicates. Every problem of every file is reported.
func (a *API) readManifests(w http.ResponseWriter, r *http.Request, file string, named bool) (*manifest.Set, error) {
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		if _, err := checkContentType(r, manifestTypes...); err != nil {
			return nil, &apiError{Status: http.StatusUnsupportedMediaType, Message: err.Error() + ", or multipart/form-data with one part per file"}
		}
		data, err := readBody(w, r, a.maxBody)
		if err != nil {
			return nil, err
		}
		return manifest.Parse(file, data)
	}
	if named {
		return nil, badRequest("parameter file is not allowed with a multipart body; each part names its file")
	}
	data, err := readBody(w, r, a.maxBody)
	if err != nil {
		return nil, err
	}
	mr := multipart.NewReader(bytes.NewReader(data), params["boundary"])
	set := &manifest.Set{}
	var errs []error
	for i := 0; ; i++ {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, badRequest("the multipart body is not acceptable: part %d: %v", i+1, err)
		}
		if i >= maxApplyParts {
			return nil, badRequest("the multipart body has more than %d parts; apply fewer files at once", maxApplyParts)
		}
		// Part.FileName drops directories; the admin's name is wanted.
		_, disp, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		name, filename := disp["name"], disp["filename"]
		if name != "file" || filename == "" {
			return nil, badRequest(`multipart part %d (name %q, filename %q) is not acceptable; want each part named "file" with the file's name as its filename`, i+1, name, filename)
		}
		if ct := part.Header.Get("Content-Type"); ct != "" {
			if pt, _, err := mime.ParseMediaType(ct); err != nil || !slices.Contains(manifestTypes, pt) {
				return nil, &apiError{Status: http.StatusUnsupportedMediaType,
					Message: fmt.Sprintf("multipart part %q: content type %q is not accepted; want one of application/yaml, application/x-yaml, text/yaml, application/json, text/plain", filename, ct)}
			}
		}
		body, err := io.ReadAll(part)
		if err != nil {
			return nil, badRequest("the multipart body is not acceptable: part %q: %v", filename, err)
		}
		s, err := manifest.Parse(filename, body)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		addSet(set, s)
	}
	if len(errs) == 0 {
		errs = duplicates(set)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

func addSet(dst, src *manifest.Set) {
	dst.Releases = append(dst.Releases, src.Releases...)
	dst.Policies = append(dst.Policies, src.Policies...)
	dst.Groups = append(dst.Groups, src.Groups...)
	dst.Assignments = append(dst.Assignments, src.Assignments...)
	dst.Devices = append(dst.Devices, src.Devices...)
	dst.Rules = append(dst.Rules, src.Rules...)
}

// duplicates reports objects of one kind and name in two files, in the
// manifest package's words.
func duplicates(s *manifest.Set) []error {
	var errs []error
	check := func(kind string, n int, at func(int) (manifest.Meta, manifest.Source)) {
		seen := map[string]manifest.Source{}
		for i := range n {
			m, src := at(i)
			if prev, dup := seen[m.Name]; dup {
				errs = append(errs, &manifest.Error{Source: src, Kind: kind, Name: m.Name, Err: &policy.FieldError{
					Path: "metadata.name", Value: strconv.Quote(m.Name), Problem: "is already defined in " + prev.String(), Allowed: "one " + kind + " per name"}})
				continue
			}
			seen[m.Name] = src
		}
	}
	check(policy.KindRelease, len(s.Releases), func(i int) (manifest.Meta, manifest.Source) { return s.Releases[i].Meta, s.Releases[i].Source })
	check(policy.KindUpdatePolicy, len(s.Policies), func(i int) (manifest.Meta, manifest.Source) { return s.Policies[i].Meta, s.Policies[i].Source })
	check(policy.KindDeviceGroup, len(s.Groups), func(i int) (manifest.Meta, manifest.Source) { return s.Groups[i].Meta, s.Groups[i].Source })
	check(policy.KindAssignment, len(s.Assignments), func(i int) (manifest.Meta, manifest.Source) { return s.Assignments[i].Meta, s.Assignments[i].Source })
	check(policy.KindDevice, len(s.Devices), func(i int) (manifest.Meta, manifest.Source) { return s.Devices[i].Meta, s.Devices[i].Source })
	check(policy.KindRule, len(s.Rules), func(i int) (manifest.Meta, manifest.Source) { return s.Rules[i].Meta, s.Rules[i].Source })
	return errs
}
