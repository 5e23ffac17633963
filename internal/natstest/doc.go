// Package natstest starts real, embedded NATS servers with JetStream for
// tests: one per test, on a random loopback port, storing under the test's
// temporary directory, shut down when the test ends. It never mocks the
// broker. Only tests import it.
package natstest
