// Package sandbox runs a whole Sluice system in one process: the real
// controller (controller.Server with its embedded NATS server, JetStream
// store, reconciler and HTTP API) and any number of real agents on the
// simulated platform (agent/platform/sim), all sharing one settable
// [Clock]. `sluice demo` plays its story on it, and the end-to-end tests
// in e2e/ assert on it.
//
// Nothing is mocked: releases are the signed APKs of internal/testapk,
// uploaded through the admin API and downloaded by the agents over HTTP
// on loopback; manifests go through the same apply route as `sluice
// apply`; directives are signed and travel over NATS.
//
// # Time
//
// A [Clock] starts at a chosen instant and then flows with real time, so
// timeouts, backoffs and tickers behave as usual. [Clock.Set] and
// [Clock.Advance] jump it (forward, normally: a story that moves days
// ahead). After every jump the system asks the controller to re-evaluate
// every device at once, as its periodic resync would, so decisions that
// depend on time (postponement ends, forceAfter, rules on week days)
// follow the jump without waiting for the next resync. Agents sense every
// SenseInterval and notice the jump by themselves.
//
// # Layout on disk
//
//	Dir/controller/          the controller's data: signing key, controller.pub, JetStream
//	Dir/apks/                the test APKs written out for upload and seeding
//	Dir/devices/ID/sim/      the simulated device (state.json, installed APK copies)
//	Dir/devices/ID/data/     the agent's data: directive, spool, downloads, prompt records
//
// # Beyond the agreed API
//
// [DeviceSpec] has two fields beyond the ones agreed with the e2e suite:
// Channel (reported to the controller; empty reports none) and
// DownloadRate, which limits the device's download bandwidth (bytes per
// second, through a throttled HTTP transport in front of the real
// download), so that a download of a few megabytes on loopback lasts long
// enough to be watched and interrupted; agents report download progress
// every 100 ms (the agent's default is a second) so that it moves
// smoothly. [Config] has MaxReconnectDelay and ResyncInterval, so that a
// restarted controller is found within a second. [System.Controller] exposes the running
// controller.Server for tests that need its reconciler.
//
// # Lifetime
//
// [Start] returns once the controller answers /readyz and the bootstrap
// superadmin token is known. [System.Close] stops every agent, then the
// controller, and waits for each: no goroutine, listener or file lock is
// left behind. Nothing here exits the process.
//
// Only `sluice demo` and tests import this package.
package sandbox
