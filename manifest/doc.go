// Package manifest reads and writes Sluice's declarative objects: Kubernetes
// style YAML or JSON documents with apiVersion sluice.dev/v1, a kind, a
// metadata.name and a spec. The kinds are Release, UpdatePolicy,
// DeviceGroup, Assignment, Device and Rule (an admin's Rego module).
//
// It is what the controller (server side of `sluice apply`, `sluice get`)
// and the sluice CLI (`sluice eval`, `sluice apply -f`) import; it may
// import policy, fleet and protocol, and nothing imports it from below.
//
// # Reading
//
// [Parse] reads one file's bytes, so a server can validate what a client
// sent exactly as the CLI validates files; [LoadFiles] reads files and
// directories. A file holds one or more documents separated by lines that
// are exactly "---"; empty documents are skipped and documents are
// numbered from 1 among the non-empty ones. A directory contributes every
// *.yaml, *.yml and *.json file directly inside it, in name order, plus
// every *.rego file as a Rule named after the file ("deny-weekends.rego" is
// Rule "deny-weekends"); sub-directories are not read, as with kubectl's
// apply -f without -R.
//
// Decoding is strict: unknown fields at any depth, values of the wrong
// type, fields given twice, and YAML syntax errors (with the line in the
// file) are errors; then each object is validated (see
// [policy.UpdatePolicy.Validate] and friends), and names must be unique per
// kind. Every problem of a load is reported, one [*Error] per line joined
// with errors.Join, each naming the file, the document when the file has
// several, the object, the field path, the bad value and what is allowed:
//
//	policy.yaml (document 2): UpdatePolicy "pos-stable": spec.mode: "fast" is not one of default, highPriority, postponed
//
// [Set.Validate] then checks references between objects: an Assignment's
// policy and groups exist, two releases of an app do not share a
// versionCode, and no two assignments tie (fleet's index check).
// [Set.ValidateAgainst] does the same for a set applied over objects that
// are already stored.
//
// # Writing
//
// [Marshal] and [Encode] write a Set back as YAML or JSON documents that
// Parse reads into the same Set (the fuzz test checks this round trip).
package manifest
