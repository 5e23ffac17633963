// Package e2e holds Sluice's whole-system tests. They use no mocks: the
// real controller with its embedded NATS server and JetStream storage in a
// temporary directory, real agents on the sim platform, the real signed
// APKs of internal/testapk served over HTTP on loopback, and the real
// admin, app-facing and prompt APIs.
//
// What the suite covers:
//
//   - the binaries: `sluice server`, `sluice release push`, `sluice apply`,
//     two `sluice-agent run` processes (one from a YAML config file, one
//     from flags), `sluice-agent sim set`, `sluice get devices`, `sluice
//     explain` and `sluice audit decisions`, then a clean SIGTERM of every
//     process (binary_test.go);
//   - every update behaviour on in-process systems built with
//     internal/sandbox: the three modes, prompts with a daily frequency,
//     forced updates, forceAfter, eligible ranges and excluded versions,
//     minClientVersion, rollout percentages, iOS store redirects;
//   - fleet-scale behaviour: a policy change reaching 200 agents, an
//     offline device catching up, a controller restarted mid-rollout;
//   - faults: an agent killed mid-download, failing or corrupted download
//     mirrors, forged and replayed directives, downgrades and signer
//     changes, and malformed input at every door.
//
// Each scenario asserts the final installed versions read from the
// simulated devices, and the events and decisions the controller recorded.
// The package has no exported API: it exists for its tests.
package e2e
