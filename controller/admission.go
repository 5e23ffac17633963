package controller

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sluice-mdm/sluice/apk"
	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// Admission timeouts.
const (
	admissionDialTimeout   = 10 * time.Second
	admissionHeaderTimeout = 30 * time.Second
	admissionTotalTimeout  = 10 * time.Minute
)

func defaultAdmissionClient() *http.Client {
	return &http.Client{
		Timeout: admissionTotalTimeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: admissionDialTimeout}).DialContext,
			TLSHandshakeTimeout:   admissionDialTimeout,
			ResponseHeaderTimeout: admissionHeaderTimeout,
			MaxIdleConns:          4,
			IdleConnTimeout:       90 * time.Second,
		},
	}
}

// ReleaseRequest is the body of POST /api/v1/releases.
type ReleaseRequest struct {
	URL     string   `json:"url"`
	Mirrors []string `json:"mirrors,omitempty"`
	Track   string   `json:"track,omitempty"`
	Notes   string   `json:"notes,omitempty"`
	// AppStoreID is the numeric iOS App Store id of the same app, if any.
	AppStoreID string `json:"appStoreId,omitempty"`
}

// ReleaseAdmission is the answer of a release admission: the release's
// record, whether it was created or already there, and warnings (such as
// a rewritten link).
type ReleaseAdmission struct {
	ObjectRecord
	Action   string   `json:"action"`
	Warnings []string `json:"warnings,omitempty"`
}

// Limits of release requests.
const (
	maxMirrors  = 8
	maxURLLen   = 2048
	maxNotesLen = 10000
	maxTrackLen = 63
)

// checkURL checks a download link: an absolute http or https URL.
func checkURL(field, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || len(raw) > maxURLLen || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf("field %s: %q is not allowed; want an absolute http:// or https:// URL of at most %d bytes", field, raw, maxURLLen)}
	}
	return u, nil
}

// DropboxHosts are the hosts of Dropbox share links.
var DropboxHosts = []string{"dropbox.com", "www.dropbox.com", "dl.dropbox.com", "dl.dropboxusercontent.com"}

// rewriteShareLink turns a share link on one of hosts (dl=0, which answers
// with an HTML preview page) into its direct download form (dl=1). Other
// links are left exactly as they are: dl means nothing in general. It
// returns the link and whether it changed.
func rewriteShareLink(u *url.URL, hosts []string) (string, bool) {
	q := u.Query()
	if q.Get("dl") != "0" || !slices.Contains(hosts, strings.ToLower(u.Hostname())) {
		return u.String(), false
	}
	q.Set("dl", "1")
	v := *u
	v.RawQuery = q.Encode()
	return v.String(), true
}

func (a *API) shareLinkHosts() []string {
	if a.shareHosts == nil {
		return DropboxHosts
	}
	return a.shareHosts
}

func checkTrack(track string) (string, error) {
	if track == "" {
		return policy.DefaultTrack, nil
	}
	ok := len(track) <= maxTrackLen
	for i := 0; i < len(track) && ok; i++ {
		c := track[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_' || c == '.')
	}
	if !ok {
		return "", fmt.Errorf("%q is not allowed; want 1 to %d lowercase letters, digits, '-', '_' and '.', starting with a letter or digit (default %s)", track, maxTrackLen, policy.DefaultTrack)
	}
	return track, nil
}

func checkAppStoreID(id string) error {
	if id == "" {
		return nil
	}
	ok := len(id) <= 20
	for i := 0; i < len(id) && ok; i++ {
		ok = id[i] >= '0' && id[i] <= '9'
	}
	if !ok {
		return fmt.Errorf("%q is not allowed; want the numeric App Store id (the digits after \"id\" in the app's App Store link)", id)
	}
	return nil
}

func (a *API) addRelease(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r.URL.Query()); err != nil {
		return err
	}
	var req ReleaseRequest
	if err := decodeJSON(w, r, a.maxBody, &req); err != nil {
		return err
	}
	u, err := checkURL("url", req.URL)
	if err != nil {
		return err
	}
	if len(req.Mirrors) > maxMirrors {
		return badRequest("field mirrors: %d links are too many; want at most %d", len(req.Mirrors), maxMirrors)
	}
	var warnings []string
	link, rewritten := rewriteShareLink(u, a.shareLinkHosts())
	if rewritten {
		warnings = append(warnings, fmt.Sprintf("url: %s answers with a preview page (dl=0); using the direct download link %s instead", req.URL, link))
	}
	urls := []string{link}
	for i, m := range req.Mirrors {
		mu, err := checkURL(fmt.Sprintf("mirrors[%d]", i), m)
		if err != nil {
			return err
		}
		ml, rewritten := rewriteShareLink(mu, a.shareLinkHosts())
		if rewritten {
			warnings = append(warnings, fmt.Sprintf("mirrors[%d]: %s answers with a preview page (dl=0); using the direct download link %s instead", i, m, ml))
		}
		urls = append(urls, ml)
	}
	track, err := checkTrack(req.Track)
	if err != nil {
		return badRequest("field track: %v", err)
	}
	if err := checkAppStoreID(req.AppStoreID); err != nil {
		return badRequest("field appStoreId: %v", err)
	}
	if len(req.Notes) > maxNotesLen {
		return badRequest("field notes: %d bytes are too many; want at most %d", len(req.Notes), maxNotesLen)
	}

	target := auditTarget{Action: "release add", Kind: string(KindRelease), Name: link}
	path, cleanup, err := a.download(r.Context(), link)
	if err != nil {
		a.auditResult(r, target, err)
		return err
	}
	defer cleanup()
	rel, more, err := a.inspectAPK(path, link)
	if err != nil {
		a.auditResult(r, target, err)
		return err
	}
	warnings = append(warnings, more...)
	rel.Track, rel.ReleaseNotes, rel.AppStoreID = track, req.Notes, req.AppStoreID
	rel.Artifact.URLs = urls
	return a.admit(w, r, rel, target, warnings)
}

// admit stores a checked release, or finds the same one stored, and
// answers with its record.
func (a *API) admit(w http.ResponseWriter, r *http.Request, rel policy.Release, target auditTarget, warnings []string) error {
	name := ReleaseName(rel.App, rel.VersionCode)
	target.Name = name
	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	rec, err := a.store.Releases().Get(ctx, name)
	action := ApplyUnchanged
	switch {
	case err == nil:
		if rec.Value.Artifact.SHA256 != rel.Artifact.SHA256 {
			err = &ImmutableError{App: rel.App, VersionCode: rel.VersionCode, StoredSHA256: rec.Value.Artifact.SHA256, GivenSHA256: rel.Artifact.SHA256}
			a.auditResult(r, target, err)
			return err
		}
	case errors.Is(err, ErrNotFound):
		rec, err = a.store.Releases().Put(ctx, name, rel, CreateOnly, principalFrom(r.Context()).Name)
		target.Revision = rec.Revision
		a.auditResult(r, target, err)
		if err != nil {
			return err
		}
		action = ApplyCreated
	default:
		return err
	}
	status := http.StatusOK
	if action == ApplyCreated {
		status = http.StatusCreated
	}
	return writeJSON(w, status, ReleaseAdmission{
		ObjectRecord: toRecord(policy.KindRelease, rec, same[policy.Release]),
		Action:       action,
		Warnings:     warnings,
	})
}

// download fetches link once into a temporary file, refusing a non-2xx
// status, an HTML page and anything larger than the upload cap.
func (a *API) download(ctx context.Context, link string) (path string, cleanup func(), err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return "", nil, badRequest("field url: %q cannot be requested: %v", link, err)
	}
	req.Header.Set("Accept", "application/vnd.android.package-archive, application/octet-stream;q=0.9, */*;q=0.1")
	resp, err := a.client.Do(req)
	if err != nil {
		return "", nil, &apiError{Status: http.StatusBadGateway, Message: fmt.Sprintf("the download of %s failed: %v", link, unwrapURLError(err))}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", nil, &apiError{Status: http.StatusBadGateway, Message: fmt.Sprintf("the download of %s answered %s; want a 2xx status with the APK", link, resp.Status)}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" || mt == "application/xhtml+xml" {
		return "", nil, htmlAnswer(link)
	}
	if resp.ContentLength > a.maxUpload {
		return "", nil, tooLargeAPK(link, a.maxUpload)
	}
	br := bufio.NewReader(resp.Body)
	if head, _ := br.Peek(512); looksLikeHTML(head) {
		return "", nil, htmlAnswer(link)
	}
	path, cleanup, err = a.spool(ctx, br, link)
	if err != nil {
		var tl *tooLarge
		if errors.As(err, &tl) {
			return "", nil, tooLargeAPK(link, a.maxUpload)
		}
		return "", nil, &apiError{Status: http.StatusBadGateway, Message: fmt.Sprintf("the download of %s broke off: %v", link, unwrapURLError(err))}
	}
	return path, cleanup, nil
}

func htmlAnswer(link string) error {
	return &apiError{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf("the link answers with an HTML page, not an APK: use a direct download link (%s)", link)}
}

func tooLargeAPK(link string, limit int64) error {
	return &apiError{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf("the APK at %s is larger than the %d bytes allowed", link, limit)}
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// looksLikeHTML reports whether a body starts like an HTML document.
func looksLikeHTML(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	head = bytes.TrimLeft(head, " \t\r\n")
	lower := bytes.ToLower(head[:min(len(head), 16)])
	return bytes.HasPrefix(lower, []byte("<!doctype")) || bytes.HasPrefix(lower, []byte("<html"))
}

// tooLarge is a body beyond the upload cap.
type tooLarge struct{ limit int64 }

func (e *tooLarge) Error() string { return fmt.Sprintf("more than %d bytes", e.limit) }

// spool copies r into a new temporary file, at most maxUpload bytes.
func (a *API) spool(ctx context.Context, r io.Reader, what string) (string, func(), error) {
	f, err := os.CreateTemp(a.tempDir, "sluice-admission-*.apk")
	if err != nil {
		return "", nil, fmt.Errorf("spool %s: %w", what, err)
	}
	cleanup := func() { _ = os.Remove(f.Name()) }
	n, err := io.Copy(f, io.LimitReader(r, a.maxUpload+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err == nil && n > a.maxUpload {
		err = &tooLarge{limit: a.maxUpload}
	}
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return f.Name(), cleanup, nil
}

// signatureLevels are the API levels an APK's signature is tried at when it
// does not verify at the APK's own minSdk: v2 and v3 signatures count from
// API 24 on, so an APK signed with them alone is installable from there.
var signatureLevels = []int{24, 28}

// inspectAPK reads the release facts from the APK at path: package,
// versions, minSdk and signers come from the file, never from the
// request. what names the APK in errors instead of the temporary path.
func (a *API) inspectAPK(path, what string) (policy.Release, []string, error) {
	info, err := apk.Inspect(path, 0)
	var warnings []string
	if errors.Is(err, apk.ErrBadSignature) {
		for _, sdk := range signatureLevels {
			if i, err2 := apk.Inspect(path, sdk); err2 == nil {
				warnings = append(warnings, fmt.Sprintf("the APK declares minSdk %d, but its signature (schemes %v) verifies only from API %d; the release records minSdk %d so that older devices are not sent an APK they would refuse",
					i.MinSDK, i.Schemes, sdk, sdk))
				i.MinSDK = sdk
				info, err = i, nil
				break
			}
		}
	}
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), path, what)
		msg = strings.TrimPrefix(msg, "apk: ")
		if errors.Is(err, apk.ErrMalformed) || errors.Is(err, apk.ErrUnsigned) || errors.Is(err, apk.ErrBadSignature) {
			return policy.Release{}, nil, &apiError{Status: http.StatusUnprocessableEntity, Message: "the APK is refused: " + msg}
		}
		return policy.Release{}, nil, fmt.Errorf("inspect %s: %w", what, err)
	}
	return policy.Release{
		App:         info.Package,
		VersionName: info.VersionName,
		VersionCode: info.VersionCode,
		PublishedAt: a.now().UTC(),
		Artifact: protocol.Artifact{
			SHA256:       info.SHA256,
			Size:         info.Size,
			SignerSHA256: info.SignerSHA256,
			MinSDK:       info.MinSDK,
		},
	}, warnings, nil
}
