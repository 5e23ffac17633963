package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/sluice-mdm/sluice/protocol"
)

// RevisionAnnotation, on a manifest, makes apply write the object only if
// its stored revision still equals the annotation's value (0 to create).
const RevisionAnnotation = "sluice.dev/revision"

// File is one manifest file to apply: its name as the admin gave it (used
// in the server's errors) and its bytes, sent unchanged.
type File struct {
	Name string
	Data []byte
}

// ApplyResult is what an apply did, or with dry run would do.
type ApplyResult struct {
	DryRun  bool          `json:"dryRun"`
	Objects []ApplyObject `json:"objects"`
	Impact  *Impact       `json:"impact,omitempty"`
}

// Apply actions of an [ApplyObject].
const (
	ApplyCreated   = "created"
	ApplyUpdated   = "updated"
	ApplyUnchanged = "unchanged"
)

// ApplyObject is what apply did to one object.
type ApplyObject struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Action   string `json:"action"`
	Revision uint64 `json:"revision"`
}

// Impact is how the fleet's decisions change.
type Impact struct {
	// Devices is how many devices were evaluated; Changed how many (device,
	// app) decisions change; Sample lists some of them.
	Devices int            `json:"devices"`
	Changed int            `json:"changed"`
	Sample  []ImpactChange `json:"sample"`
}

// ImpactChange is one decision that changes.
type ImpactChange struct {
	Device string          `json:"device"`
	App    string          `json:"app"`
	From   protocol.Action `json:"from"`
	To     protocol.Action `json:"to"`
	Reason string          `json:"reason"`
}

// quoteEscaper escapes a multipart filename as mime/multipart does.
var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"")

// ContentType is the media type a manifest file is sent with, by its
// extension: application/json for .json, text/plain for .rego (a Rego
// module the server turns into a Rule named after the file), and
// application/yaml otherwise.
func ContentType(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return "application/json"
	case ".rego":
		return "text/plain"
	}
	return "application/yaml"
}

// Apply sends manifest files to be validated and written (or, with
// dryRun, only validated and evaluated). One file goes as the request
// body with ?file=NAME; several go as one multipart/form-data body with a
// part named "file" per file, whose filename is the file's name, so that
// the server validates and applies them together as one set.
func (c *Client) Apply(ctx context.Context, files []File, dryRun bool) (ApplyResult, error) {
	if len(files) == 0 {
		return ApplyResult{}, errors.New("client: apply: no files; want at least one manifest file")
	}
	q := url.Values{}
	if dryRun {
		q.Set("dryRun", "true")
	}
	req := request{method: http.MethodPost, path: "/api/v1/apply", query: q}
	if len(files) == 1 {
		q.Set("file", files[0].Name)
		req.body, req.size = bytes.NewReader(files[0].Data), int64(len(files[0].Data))
		req.contentType = ContentType(files[0].Name)
	} else {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, f := range files {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, quoteEscaper.Replace(f.Name)))
			h.Set("Content-Type", ContentType(f.Name))
			pw, err := mw.CreatePart(h)
			if err != nil {
				return ApplyResult{}, fmt.Errorf("client: apply: %s: %w", f.Name, err)
			}
			if _, err := pw.Write(f.Data); err != nil {
				return ApplyResult{}, fmt.Errorf("client: apply: %s: %w", f.Name, err)
			}
		}
		if err := mw.Close(); err != nil {
			return ApplyResult{}, fmt.Errorf("client: apply: %w", err)
		}
		req.body, req.size = &buf, int64(buf.Len())
		req.contentType = mw.FormDataContentType()
	}
	var out ApplyResult
	err := c.do(ctx, req, &out)
	return out, err
}
