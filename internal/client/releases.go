package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
)

// AddRelease is the body of a release admission by URL.
type AddRelease struct {
	// URL is the APK's primary download link; Mirrors are tried after it.
	URL     string   `json:"url"`
	Mirrors []string `json:"mirrors,omitempty"`
	// Track is the release track; empty is the server's default
	// (production).
	Track string `json:"track,omitempty"`
	Notes string `json:"notes,omitempty"`
	// AppStoreID is the numeric iOS App Store id of the same app, if any.
	AppStoreID string `json:"appStoreId,omitempty"`
}

// Admission is the answer of a release admission: the release's record,
// whether it was created or was already there (unchanged), and warnings
// such as a rewritten Dropbox link.
type Admission struct {
	Record
	Action   string   `json:"action"`
	Warnings []string `json:"warnings,omitempty"`
}

// AddRelease asks the controller to download the APK at req.URL once,
// check it and record the release. The download happens while the request
// waits: give ctx room for it.
func (c *Client) AddRelease(ctx context.Context, req AddRelease) (Admission, error) {
	body, err := jsonBody(req)
	if err != nil {
		return Admission{}, err
	}
	var out Admission
	err = c.do(ctx, request{method: http.MethodPost, path: "/api/v1/releases", body: body, contentType: "application/json"}, &out)
	return out, err
}

// Upload describes an APK upload.
type Upload struct {
	// APK is read to its end and sent as the body.
	APK io.Reader
	// Size is the APK's length in bytes, sent as Content-Length so that
	// the controller can refuse a file too large at once; 0 if unknown.
	Size  int64
	Track string
	Notes string
}

// APKContentType is the media type of an APK upload.
const APKContentType = "application/vnd.android.package-archive"

// UploadRelease streams an APK to the controller, which checks it, keeps
// it in its object store and serves it to devices at /artifacts/SHA256.
// Wrap up.APK to follow the upload's progress.
func (c *Client) UploadRelease(ctx context.Context, up Upload) (Admission, error) {
	q := url.Values{}
	if up.Track != "" {
		q.Set("track", up.Track)
	}
	if up.Notes != "" {
		q.Set("notes", up.Notes)
	}
	var out Admission
	err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/releases/upload", query: q,
		body: up.APK, size: up.Size, contentType: APKContentType}, &out)
	return out, err
}
