// Package sim is a simulated Android device kept in a data directory, for
// the demo and the end-to-end tests. It implements platform.Platform.
//
// The directory holds state.json (SDK level, time zone, the sensed state,
// and the installed-packages database), state.lock, and a copy of every
// installed APK under data/app/<package>-<n>/base.apk, as on a device. The
// state file is replaced atomically (write, fsync, rename) under an
// exclusive flock(2) on state.lock, and every read re-reads it, so a second
// process (`sluice-agent sim set`) can change the device while the agent
// runs.
//
// Install applies PackageManager's rules to the real APK, in this order:
//
//  1. the file must be an APK whose signature verifies for the device's SDK
//     (package apk): otherwise INSTALL_PARSE_FAILED_NOT_APK for a file that
//     is not an APK, INSTALL_PARSE_FAILED_NO_CERTIFICATES for an unsigned one
//     or one whose signature does not verify (Android reports both as
//     NO_CERTIFICATES, e.g. "SHA-256 digest of contents did not verify");
//  2. with InstallOptions.Package set, the APK must declare that package:
//     INSTALL_FAILED_INVALID_APK ("Inconsistent package"), as a
//     PackageInstaller session with an app package name answers;
//  3. the APK must fit in the free storage: INSTALL_FAILED_INSUFFICIENT_STORAGE;
//  4. its minSdk must not exceed the device's SDK: INSTALL_FAILED_OLDER_SDK;
//  5. when the package is installed, the versionCode must not be lower
//     (equal is a reinstall) unless AllowDowngrade: INSTALL_FAILED_VERSION_DOWNGRADE;
//  6. and the signing certificates must be the installed ones:
//     INSTALL_FAILED_UPDATE_INCOMPATIBLE.
//
// A refused install changes nothing: the installed copy, the database and
// the free storage stay as they were. Installs are serialized, within the
// process and across processes, by the same lock.
package sim
