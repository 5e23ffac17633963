// Package fleet describes which devices belong together and which policy
// applies to each of them: labels, Kubernetes-style label selectors, device
// groups, and assignments of policies to groups with priorities.
//
// fleet stands alone: it imports no other Sluice package, so it can be
// reused by any tool that needs to reason about group membership. It
// identifies devices by id and labels only; the facts the decision engine
// needs live in package policy.
//
// # Labels and selectors
//
// Label keys and values follow the Kubernetes rules ([ValidateLabels]).
// [ParseSelector] reads the Kubernetes selector syntax ("store=berlin-01,
// model in (P2,V2),!beta"); a [Selector] has a canonical [Selector.String]
// form, and the empty selector matches every label set.
//
// # Groups
//
// [CompileGroup] turns a [DeviceGroup] into a [Group]: its explicit members
// plus the devices its selector matches. Inside a group an empty selector
// selects nobody, so a group with neither selector nor members is empty.
//
// # Assignments
//
// [NewIndex] checks a set of groups and assignments and refuses ties: two
// assignments for one app, with one priority, that could reach the same
// device. [Index.Resolve] then picks, for a device and an app, the
// applicable assignment with the highest priority, and reports an
// [AmbiguousError] in the one case an index cannot rule out in advance: a
// device listed in one group whose labels match another group's selector.
package fleet
