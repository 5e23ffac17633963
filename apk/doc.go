// Package apk reads what an Android package file is and checks that it is
// what it claims to be: its identity from the binary AndroidManifest.xml
// (package, versionCode, versionName, minSdk, targetSdk), its v1 (JAR), v2
// and v3 signatures verified as Android would verify them, the SHA-256
// fingerprints of its signing certificates, and the SHA-256 and size of the
// whole file.
//
// Two callers use it. The controller calls [Inspect] when it admits a
// release, so that package, versions, minSdk and signer are read from the
// APK itself and never typed by hand. The agent calls [Check] before it
// installs a downloaded file, comparing the file with what its directive
// says ([Expect]); a mismatch is a [*CheckError] whose Code is one of the
// reason codes the agent reports (HASH_MISMATCH, SIGNER_MISMATCH, ...).
//
// # Signature rules
//
// Verification answers "would a device at API level sdk, or any later
// level, accept this signature?" (the question apksigner answers with
// --min-sdk-version). Devices below API 24 only understand v1, so an APK
// signed with v2 or v3 alone is refused for them; devices from API 24 check
// v2 and from API 28 v3, and a present signature of a scheme they check
// must verify. [Info.Schemes] lists the schemes such devices verified,
// which matches the "Verified using vN scheme" lines of apksigner.
//
// Errors wrap [ErrMalformed], [ErrUnsigned] or [ErrBadSignature] and end
// with one sentence saying why.
//
// # Cost
//
// The file is never loaded whole. Its SHA-256 is computed in a second
// goroutine while the manifest is parsed and the signature verified (each
// scheme checked reads the file once more). Only AndroidManifest.xml (at
// most 16 MiB), resources.arsc (at most 64 MiB, and only when the manifest
// refers into it) and the JAR signature files (at most 64 MiB each) are
// read into memory, after their declared sizes are checked against what
// the file holds: the parsers underneath allocate whatever a chunk claims.
//
// The package is a leaf (standard library, github.com/avast/apkverifier and
// its manifest parser github.com/avast/apkparser) because the agent links
// it and must stay small. It holds no state and is safe for concurrent use.
package apk
