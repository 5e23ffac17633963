// Package policy is Sluice's decision engine and its model: releases, update
// policies, the facts known about a device, and the decision that comes out.
//
// Manifests (YAML or JSON, Kubernetes style) are loaded and validated here;
// the decision procedure itself is written in Rego, embedded in the binary,
// and evaluated with OPA: compiled once, evaluated per (device, app), with
// the evaluation time injected so that every decision can be replayed. Go
// prepares the input document, including facts that are plain functions of
// it (times in nanoseconds, defaults, version comparisons, per-release
// predicates; see [InputFacts]), and writes the sentences of the reasons the
// Rego gives by code; which gate applies, in what order, with which action
// and target, is decided in Rego.
//
// policy may import protocol (a [Decision] is the wire type) and nothing
// else of Sluice; it knows nothing of NATS or HTTP. The controller and the
// sluice CLI import it; the agent never does.
package policy
