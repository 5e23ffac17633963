// Package policy is Sluice's decision engine and its model: releases, update
// policies, the facts known about a device, and the decision that comes out.
//
// Manifests (YAML or JSON, Kubernetes style) are loaded and validated here;
// the decision procedure itself is written in Rego, embedded in the binary,
// and evaluated with OPA: prepared once, evaluated per (device, app), with
// the evaluation time injected so that every decision can be replayed.
//
// policy may import protocol (a [Decision] is the wire type) and nothing
// else of Sluice; it knows nothing of NATS or HTTP. The controller and the
// sluice CLI import it; the agent never does.
package policy
