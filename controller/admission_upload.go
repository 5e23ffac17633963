package controller

import (
	"fmt"
	"net/http"
	"os"
)

// apkContentType is the media type of an APK upload.
const apkContentType = "application/vnd.android.package-archive"

// uploadRelease admits an APK sent as the request body: the same checks as
// a download, then the file goes into the object store and the release's
// URL is the controller's own /artifacts/SHA256.
func (a *API) uploadRelease(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r.URL.Query(), "track", "notes")
	if err != nil {
		return err
	}
	track, err := checkTrack(q["track"])
	if err != nil {
		return badParam("track", q["track"], "1 to 63 lowercase letters, digits, '-', '_' and '.'")
	}
	if len(q["notes"]) > maxNotesLen {
		return badParam("notes", q["notes"][:32]+"...", fmt.Sprintf("at most %d bytes", maxNotesLen))
	}
	if a.publicURL == "" {
		return &apiError{Status: http.StatusServiceUnavailable, Message: "this controller has no public URL configured, so devices could not download an uploaded APK; add the release by URL instead"}
	}
	if _, err := checkContentType(r, apkContentType); err != nil {
		return err
	}
	if r.ContentLength > a.maxUpload {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("the APK of %d bytes is larger than the %d bytes allowed", r.ContentLength, a.maxUpload)}
	}
	path, cleanup, err := a.spool(r.Context(), r.Body, "upload")
	if err != nil {
		if _, ok := err.(*tooLarge); ok {
			return &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("the APK is larger than the %d bytes allowed", a.maxUpload)}
		}
		return badRequest("the upload broke off: %v", err)
	}
	defer cleanup()

	target := auditTarget{Action: "release push", Kind: string(KindRelease), Name: "upload"}
	rel, warnings, err := a.inspectAPK(path, "the uploaded file")
	if err != nil {
		a.auditResult(r, target, err)
		return err
	}
	rel.Track, rel.ReleaseNotes = track, q["notes"]
	rel.Artifact.URLs = []string{a.publicURL + "/artifacts/" + rel.Artifact.SHA256}

	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	// Refuse a conflicting release before its APK takes space in the
	// object store.
	name := ReleaseName(rel.App, rel.VersionCode)
	if cur, err := a.store.Releases().Get(ctx, name); err == nil && cur.Value.Artifact.SHA256 != rel.Artifact.SHA256 {
		err := &ImmutableError{App: rel.App, VersionCode: rel.VersionCode, StoredSHA256: cur.Value.Artifact.SHA256, GivenSHA256: rel.Artifact.SHA256}
		target.Name = name
		a.auditResult(r, target, err)
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reopen upload: %w", err)
	}
	defer f.Close()
	if _, err := a.store.PutArtifact(ctx, rel.Artifact.SHA256, f); err != nil {
		target.Name = name
		a.auditResult(r, target, err)
		return fmt.Errorf("store artifact %s: %w", rel.Artifact.SHA256, err)
	}
	return a.admit(w, r, rel, target, warnings)
}
