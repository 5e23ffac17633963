// Package controller is the Sluice controller: it keeps the fleet's desired
// state and history in NATS JetStream, serves artifacts and the admin and
// app-facing APIs, and turns policies, releases and device reports into
// signed directives.
//
// # State
//
// Everything the controller knows lives in JetStream, so a restarted
// controller loses nothing and several replicas can share one NATS cluster
// ([Store]):
//
//   - KV buckets, one per kind of object (releases, policies, groups,
//     assignments, rules, devices, directives, tokens, meta). Each value is
//     a [Record]: the object plus who changed it and when. Its revision is
//     the KV revision, which increases monotonically across the bucket.
//     Writes that can race use compare-and-set on that revision and fail
//     with [ErrConflict] instead of overwriting another admin's change.
//   - Streams capturing device reports and events (published by devices on
//     their own subjects), and the controller's decision log and admin audit
//     log, with age and size limits.
//   - An object store holding uploaded APKs by SHA-256, served over HTTP by
//     [ArtifactHandler] with Range requests from a verified local cache.
//
// # HTTP
//
// [API] is the HTTP interface (the contract is API.md next to this file):
// admin routes under /api/v1 behind bearer tokens with roles (auditor,
// operator, admin, superadmin; [Roles]), every change and every denial in
// the admin audit log; release admission, which downloads or receives an
// APK and reads the release from the file itself; the app-facing version
// check, prompt configuration and event report, rate limited per client
// address; artifacts, health, readiness and metrics.
//
// # NATS
//
// By default the controller runs its own NATS server with JetStream
// ([StartEmbeddedNATS]); with an external URL it only connects
// ([ConnectNATS]). Devices use core NATS only.
//
// The controller may import protocol, policy and fleet; nothing imports the
// controller except its command.
package controller
