package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/sluice-mdm/sluice/internal/client"
	"github.com/sluice-mdm/sluice/internal/testapk"
	"github.com/sluice-mdm/sluice/policy"
)

// PushRelease uploads a test APK (a file name of internal/testapk, such
// as "pos-2.0.0.apk") through the admin API. The controller reads the
// release from the APK and stamps publishedAt with its clock.
func (s *System) PushRelease(ctx context.Context, file string) (policy.Release, error) {
	data, err := testAPK(file)
	if err != nil {
		return policy.Release{}, err
	}
	adm, err := s.Client().UploadRelease(ctx, client.Upload{APK: bytes.NewReader(data), Size: int64(len(data))})
	if err != nil {
		return policy.Release{}, fmt.Errorf("sandbox: push %s: %w", file, err)
	}
	rel, err := adm.Release()
	if err != nil {
		return policy.Release{}, fmt.Errorf("sandbox: push %s: %w", file, err)
	}
	return rel, nil
}

// testAPK returns the bytes of a file of internal/testapk.
func testAPK(file string) ([]byte, error) {
	if _, ok := testapk.Lookup(file); !ok {
		names := make([]string, 0)
		for _, a := range testapk.All() {
			names = append(names, a.File)
		}
		return nil, &ConfigError{Field: "file", Value: file, Want: "a test APK: one of " + strings.Join(names, ", ")}
	}
	data, err := testapk.Files.ReadFile("files/" + file)
	if err != nil {
		return nil, fmt.Errorf("sandbox: read test apk %s: %w", file, err)
	}
	return data, nil
}

// Apply sends manifests read from fsys through the apply route, all in
// one request, as `sluice apply -f` does. A path naming a directory adds
// its .yaml, .yml, .json and .rego files in name order (not its
// subdirectories).
func (s *System) Apply(ctx context.Context, fsys fs.FS, paths ...string) (client.ApplyResult, error) {
	if len(paths) == 0 {
		return client.ApplyResult{}, &ConfigError{Field: "paths", Want: "at least one manifest file or directory"}
	}
	var files []client.File
	for _, p := range paths {
		names, err := manifestNames(fsys, p)
		if err != nil {
			return client.ApplyResult{}, fmt.Errorf("sandbox: apply: %w", err)
		}
		for _, n := range names {
			data, err := fs.ReadFile(fsys, n)
			if err != nil {
				return client.ApplyResult{}, fmt.Errorf("sandbox: apply: %w", err)
			}
			files = append(files, client.File{Name: n, Data: data})
		}
	}
	res, err := s.Client().Apply(ctx, files, false)
	if err != nil {
		return res, fmt.Errorf("sandbox: apply %s: %w", strings.Join(paths, ", "), err)
	}
	return res, nil
}

// manifestNames expands p into manifest files.
func manifestNames(fsys fs.FS, p string) ([]string, error) {
	fi, err := fs.Stat(fsys, p)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{p}, nil
	}
	entries, err := fs.ReadDir(fsys, p)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		switch strings.ToLower(path.Ext(e.Name())) {
		case ".yaml", ".yml", ".json", ".rego":
			if !e.IsDir() {
				names = append(names, path.Join(p, e.Name()))
			}
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s holds no .yaml, .yml, .json or .rego file", p)
	}
	sort.Strings(names)
	return names, nil
}
