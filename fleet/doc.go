// Package fleet describes which devices belong together and which policy
// applies to each of them: labels, Kubernetes-style label selectors, device
// groups, and assignments of policies to groups with priorities.
//
// fleet stands alone: it imports no other Sluice package, so it can be
// reused by any tool that needs to reason about group membership. It
// identifies devices by id and labels only; the facts the decision engine
// needs live in package policy.
package fleet
