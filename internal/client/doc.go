// Package client is a typed Go client for the Sluice controller's HTTP API
// (controller/API.md): objects and apply, devices, explain and rollout,
// release admission and upload, the decision and audit logs, tokens, and
// the app-facing and health routes.
//
// It speaks the API's JSON shapes and never imports the controller, so a
// program that only talks to a controller does not link the server. The
// sluice command line is built on it; scripts in Go may use it too.
//
// # Errors
//
// An answer other than success is an [*APIError] carrying the status, the
// server's sentence and its per-problem lines. errors.Is matches it
// against [ErrInvalid] (400, 413, 415, 422), [ErrUnauthorized] (401),
// [ErrForbidden] (403), [ErrNotFound] (404), [ErrConflict] (409),
// [ErrRateLimited] (429) and [ErrNotReady] (503). A controller that cannot
// be reached, or does not answer in time, gives an [*UnavailableError],
// which matches [ErrUnavailable].
//
// # Apply
//
// [Client.Apply] sends manifest files with their names, so that the
// server's validation errors name them: one file as the request body with
// ?file=NAME, several as one multipart/form-data body with a part per file
// (see API.md).
package client
