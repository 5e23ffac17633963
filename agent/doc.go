// Package agent is the on-device daemon of Sluice: it keeps the device's
// signed directive in sync with the controller, decides per app when an
// update may run (with agent/state), downloads, verifies and installs it
// one app at a time, and reports what it sees and does.
//
// # Directives
//
// On every (re)connect the agent asks for its directive on the sync subject
// and then follows pushes on its directive subject. A directive is accepted
// only if it is signed by one of the pinned controller keys, addressed to
// this device, newer than the last accepted sequence and not expired; each
// refusal is reported as a DirectiveRejected event with zz_reason. The last
// accepted envelope is stored atomically (temporary file, fsync, rename) in
// the data directory together with its sequence, so replays are refused
// across restarts.
//
// At start the stored envelope is verified again (signature and device) but
// not for expiry: a device that has lost its controller keeps enforcing the
// last directive it was given rather than doing nothing, and its status and
// reports say that the directive has expired. Expiry protects against
// replays of old directives from the network, which the stored sequence
// already refuses; it is not a reason to stop enforcing the newest one.
//
// # Updates
//
// The platform is sensed every SenseInterval, at once when a directive
// arrives, and when the prompt API asks. Every app of the directive is
// evaluated with [state.Evaluate]; installs run one at a time: download
// with agent/download (progress into the status, and DownloadProgress events
// at most every ProgressEventEvery), verification with apk.Check against the
// decision (package, versionCode, SHA-256, size, signers, the device's SDK;
// a mismatch deletes the file), then Platform.Install. A failure is retried
// with backoff up to the retry budget, then the app is FAILED until the
// decision changes. A verified file whose install was interrupted is kept.
//
// # Reporting
//
// Reports and events are first written to an on-disk spool (agent/spool)
// and then published, oldest first, as core NATS requests to the device's
// report and event subjects; the controller's JetStream streams capture
// those subjects and answer with a PubAck. Only an acknowledged message
// leaves the spool, so nothing is lost while offline or across a restart;
// a full spool drops its oldest messages and the count is reported in
// DeviceReport.Dropped. Each message carries a unique id, also sent as the
// Nats-Msg-Id header, so duplicates after a reconnect are dropped.
//
// Events not about one app (DirectiveRejected, DirectiveApplied) name the
// pseudo-package [AgentApp].
//
// The package imports only protocol, apk and agent/... packages of Sluice,
// and nats.go core, never the NATS server, OPA or the controller.
package agent
