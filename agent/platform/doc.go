// Package platform declares what the agent needs from the device it runs
// on: sense the state that default-mode installs wait for, list the
// installed apps, and install one APK at a time.
//
// Two implementations exist: [github.com/sluice-mdm/sluice/agent/platform/android]
// runs Android's own shell commands (dumpsys, pm) and parses their output;
// [github.com/sluice-mdm/sluice/agent/platform/sim] is a simulated Android
// device kept in a data directory, for the demo and end-to-end tests.
//
// Install failures are reported as [*InstallError] carrying the code
// Android's PackageManager uses (INSTALL_FAILED_UPDATE_INCOMPATIBLE,
// INSTALL_PARSE_FAILED_NO_CERTIFICATES, ...), so the agent reports the same
// reason whichever platform it runs on.
//
// The package is imported by the agent only; it depends on protocol and
// nothing else of Sluice.
package platform
