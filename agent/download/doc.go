// Package download fetches one release artifact (an APK) to a file, the way
// a device on a flaky shop network needs it: resumable, verified and
// bounded in the resources it uses.
//
// A [Downloader] keeps the partial file of every artifact in its Config.Dir,
// keyed by the artifact's SHA-256, next to a small JSON metadata file (the
// URL the bytes came from, its ETag or Last-Modified validator, the expected
// size, how many bytes are durable on disk and the SHA-256 state over
// exactly those bytes). Both survive a cut connection and an agent restart:
// the next [Downloader.Fetch] hashes the bytes on disk again, checks them
// against the recorded state (a partial damaged on disk starts over) and
// continues with "Range: bytes=N-" and "If-Range".
//
// Fetch tries the artifact's URLs in order (primary first, then mirrors).
// Connection errors, timeouts, 408, 429 and 5xx answers are retried on the
// same URL with exponential backoff and jitter, then the next URL is tried;
// other 4xx answers move to the next URL at once. The SHA-256 is computed
// while writing; a file whose hash or size does not match is deleted, and
// the next URL is tried from zero, so a corrupt primary never prevents a
// good mirror from being used and corrupt bytes never reach the
// destination. The destination path is written only by renaming a verified
// file.
//
// The partial file is fsynced at checkpoints (every few seconds of
// transfer and whenever an attempt is interrupted), never per chunk, and
// the metadata is rewritten only after that. The finished file is renamed into place
// without a further fsync: it is re-verified by whoever uses it, and by the
// next Fetch, so a power cut can cost a download but never pass a wrong
// file.
//
// Pausing is cancelling the context given to Fetch: the partial is kept.
// [Downloader.Discard] cancels for good and removes it.
//
// Failures are reported as [*Error] values whose Code is one of the
// agent's reason codes (NETWORK_ERROR, HASH_MISMATCH, SIZE_MISMATCH,
// INSUFFICIENT_STORAGE, HTTP_<status>, CANCELLED).
//
// The package belongs to the on-device agent: it imports only the standard
// library and protocol, never the controller, fleet, policy or OPA.
package download
