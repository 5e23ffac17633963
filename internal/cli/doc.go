// Package cli holds what both Sluice commands share in front of a person:
// output formats (tables, JSON, YAML), progress bars, and exit codes that
// mean something to scripts. It imports only the standard library and
// sigs.k8s.io/yaml, so the agent may link it.
package cli
