// Package android is the agent's platform on a real Android device. It runs
// the platform's own shell commands through an injected [Runner] and parses
// their output; it needs the shell or system uid (or root) for dumpsys.
//
// What is read, and from which command:
//
//   - charging: "dumpsys battery". The device counts as charging when AC,
//     USB, wireless or dock power is online, or the battery status is 2
//     (BATTERY_STATUS_CHARGING). A full battery on a charger (status 5) is
//     still "charging": the constraint means "plugged in".
//   - unmetered network: "dumpsys connectivity". The "Active default
//     network" is looked up under "Current Networks"; it is unmetered when
//     its capabilities include NOT_METERED or its transports include WIFI or
//     ETHERNET (some Android 7 builds list Wi-Fi without NOT_METERED). No
//     active network ("none") counts as metered: the device is offline. A
//     Wi-Fi hotspot the user marked as metered therefore still counts as
//     unmetered.
//   - idle: "dumpsys power" and "dumpsys deviceidle". The device is idle
//     when it is not interactive: mWakefulness is anything but Awake
//     (Asleep, Dozing, Dreaming), or, on releases without mWakefulness,
//     "Display Power: state=OFF" or mScreenOn=false. It is also idle when
//     deviceidle's deep state (mState) is IDLE or IDLE_MAINTENANCE, whatever
//     the screen says. When dumpsys power answers neither way, deviceidle's
//     mScreenOn decides.
//   - foreground app: "dumpsys activity activities", the package of the
//     first topResumedActivity / ResumedActivity / mResumedActivity /
//     mFocusedActivity record. None (as while the device sleeps) means no
//     app is in the foreground.
//   - free storage: statfs(2) of the agent's data directory.
//   - installed apps: "pm list packages --show-versioncode" lists them,
//     "dumpsys package PKG" gives versionCode, versionName and
//     lastUpdateTime (device-local time). dumpsys prints only hash codes of
//     the signing certificates, not their digests, so the SHA-256
//     fingerprints are read from the APK itself: "pm path PKG" names
//     base.apk, which is world-readable on Android, and the injected
//     [Config.Signers] ([APKSigners], apk.Inspect) reads its certificates. When base.apk
//     cannot be read the app is listed without fingerprints.
//   - install: "pm install -r [-d] PATH". "Success" is success; a
//     "Failure [CODE: message]" answer becomes a platform.InstallError with
//     that code, for every INSTALL_FAILED_* and INSTALL_PARSE_FAILED_* code
//     Android has or will have. An exception saying there is not enough
//     space becomes INSTALL_FAILED_INSUFFICIENT_STORAGE.
//
// The parsers were written against outputs captured on real devices, kept
// in testdata/ with their sources in testdata/SOURCES.md.
package android
