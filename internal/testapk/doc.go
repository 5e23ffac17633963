// Package testapk holds Sluice's own demo and test APKs: real Android
// packages of three apps (com.example.pos, com.example.menu,
// com.example.kiosk) in several versions, signed with one of two test keys,
// plus a signer-mismatch copy, a minSdk 34 variant and a 3 MiB download
// demo. build.sh builds them with Debian's aapt, zipalign and apksigner;
// the outputs and the keys are committed, so tests and the demo need none
// of those tools.
//
// Tests reach a file with [Path]; the demo command writes one out with
// [WriteTo]. [All] is the catalogue, which a test keeps equal to what the
// files really are. The keys in keys/ are test keys whose private halves
// are public: nothing real may ever trust them.
package testapk
