// Package promptapi is the agent's local HTTP API for apps on the device.
// It listens on a loopback TCP address or a unix socket, never on an
// outside interface, and answers:
//
//	GET  /v1/apps/{pkg}/prompt    should the app show its update prompt now, and how
//	POST /v1/apps/{pkg}/prompt    {"action": "update" | "later" | "cancel"}
//	GET  /v1/apps/{pkg}/progress  bytes, total, speed, remaining time and state
//	GET  /v1/status               the agent's status, for `sluice-agent status`
//
// A closable prompt shows at most prompt.dailyFrequency times per
// device-local day (the shows are counted per local date and kept in the
// data directory, so a restart does not reset them); "later" hides it for a
// day divided by that frequency, at most until local midnight. A forced
// prompt (action force, a prompt that is not closable, or forceAfter
// passed) shows on every call and cannot be put off. "update" answers a
// prompt or forced decision: it starts the download and install at once,
// with no constraints, since the user asked; for any other decision (a
// silent install, a postponement) it is refused with 409.
// "cancel" stops a running download and keeps the partial file.
//
// Every call produces the matching event (UpdateCheck, UpdateDialogShow,
// UpdateButtonClick). Errors are JSON objects naming the field at fault:
// {"error": "...", "field": "action", "value": "explode"}.
//
// The agent supplies a [Backend]; the package imports only protocol and
// agent/state.
package promptapi
