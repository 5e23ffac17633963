// Package protocol is the wire contract between the Sluice controller and
// its agents: the messages they exchange, the NATS subjects those messages
// travel on, and the Ed25519 envelope that signs directives.
//
// It is a leaf package (standard library only) so that both sides, and any
// third-party tool, can import it without pulling in the controller, the
// decision engine or OPA. No other package formats a NATS subject by hand:
// they call the builders in subjects.go.
//
// # Protocol versions
//
// Version 1 (this package's [Version]):
//
//   - Subjects live under "sluice.v1.device.<id>.": "directive" (controller →
//     device, core NATS push), "sync" (device → controller request/reply on
//     (re)connect), "report" and "event" (device → controller, captured by
//     JetStream streams).
//   - A [Directive] carries every [Decision] for one device with a strictly
//     increasing sequence number and an expiry. It travels inside an
//     [Envelope] signed with the controller's Ed25519 key; agents pin the
//     public key and refuse unsigned, mis-signed, replayed or expired
//     directives (see [OpenDirective]).
//   - A [DeviceReport] carries the device's inventory and sensed state; an
//     [Event] carries one step of an update with the zz_* parameters of the
//     product requirements.
//
// Field names are camelCase JSON. Times are RFC 3339 in UTC. Unknown fields
// are ignored by readers of the same major version, so a newer controller may
// add optional fields without breaking older agents.
package protocol
