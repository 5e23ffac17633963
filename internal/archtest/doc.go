// Package archtest holds repository-wide tests: every package documents
// itself, the agent and the wire protocol stay free of OPA and of the
// controller, and go.mod keeps the agreed Go version. It has no code of its
// own; nothing imports it.
package archtest
