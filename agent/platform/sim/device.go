package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-mdm/sluice/agent/platform"
	"github.com/sluice-mdm/sluice/apk"
	"github.com/sluice-mdm/sluice/protocol"
)

// Defaults of a new simulated device.
const (
	DefaultSDK         = 30
	DefaultTimeZone    = "UTC"
	DefaultFreeStorage = 8 << 30
)

// Options configure Open. Zero fields take the documented defaults; SDK,
// TimeZone and FreeStorage only apply when the directory holds no device
// yet.
type Options struct {
	// Now is the clock stamped on installs; nil means time.Now.
	Now func() time.Time
	// Logger receives install logs; nil means slog.Default().
	Logger *slog.Logger
	// SDK of a new device; 0 means DefaultSDK.
	SDK int
	// TimeZone of a new device; "" means DefaultTimeZone.
	TimeZone string
	// FreeStorage of a new device, in bytes; 0 means DefaultFreeStorage.
	FreeStorage int64
}

// Device is a simulated Android device in a directory. It implements
// platform.Platform. Several Devices, in one process or several, may share
// a directory.
type Device struct {
	dir string
	now func() time.Time
	log *slog.Logger
	mu  sync.Mutex // serializes writers within the process; flock does across processes
}

var _ platform.Platform = (*Device)(nil)

// Open opens the simulated device in dir, creating dir and a factory-new
// device (no apps, everything off) when it holds none.
func Open(dir string, opt Options) (*Device, error) {
	if dir == "" {
		return nil, errors.New("sim: open: dir is empty; want the device's directory")
	}
	d := &Device{dir: dir, now: opt.Now, log: opt.Logger}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sim: open: %w", err)
	}
	st := state{Version: stateVersion, SDK: opt.SDK, TimeZone: opt.TimeZone, FreeStorage: opt.FreeStorage, Packages: map[string]installed{}}
	if st.SDK == 0 {
		st.SDK = DefaultSDK
	}
	if st.TimeZone == "" {
		st.TimeZone = DefaultTimeZone
	}
	if st.FreeStorage == 0 {
		st.FreeStorage = DefaultFreeStorage
	}
	if err := apply(&st, "sdk="+strconv.Itoa(st.SDK)); err != nil {
		return nil, fmt.Errorf("sim: open: options: %w", err)
	}
	if err := apply(&st, "tz="+st.TimeZone); err != nil {
		return nil, fmt.Errorf("sim: open: options: %w", err)
	}
	if st.FreeStorage < 0 {
		return nil, fmt.Errorf("sim: open: options: FreeStorage %d is negative; want bytes", st.FreeStorage)
	}
	err := d.update(func(cur *state, exists bool, _ *txn) error {
		if !exists {
			*cur = st
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Dir is the device's directory.
func (d *Device) Dir() string { return d.dir }

// txn collects what to do once the new state is written (commit) or
// when it is not (abort).
type txn struct {
	onCommit, onAbort []func()
}

// update runs fn on the current state under the lock and writes the result
// unless fn fails. On success the commit actions run, otherwise the abort
// actions.
func (d *Device) update(fn func(st *state, exists bool, tx *txn) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	unlock, err := lockFile(filepath.Join(d.dir, lockName))
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	defer unlock()
	st, exists, err := readState(d.dir)
	if err != nil {
		return err
	}
	var tx txn
	if err = fn(&st, exists, &tx); err == nil {
		err = writeState(d.dir, st)
	}
	actions := tx.onCommit
	if err != nil {
		actions = tx.onAbort
	}
	for _, a := range actions {
		a()
	}
	return err
}

func (d *Device) read() (state, error) {
	st, ok, err := readState(d.dir)
	if err != nil {
		return st, err
	}
	if !ok {
		return st, fmt.Errorf("sim: %s holds no device: %s is missing", d.dir, stateFile)
	}
	return st, nil
}

// Name implements platform.Platform.
func (d *Device) Name() string { return "sim" }

// Info implements platform.Platform.
func (d *Device) Info(ctx context.Context) (platform.Info, error) {
	if err := ctx.Err(); err != nil {
		return platform.Info{}, err
	}
	st, err := d.read()
	if err != nil {
		return platform.Info{}, err
	}
	return platform.Info{SDK: st.SDK, OSVersion: osVersion(st.SDK), TimeZone: st.TimeZone}, nil
}

// osVersion names the Android release of an API level, as
// ro.build.version.release does.
func osVersion(sdk int) string {
	switch {
	case sdk >= 30:
		return strconv.Itoa(sdk - 19)
	case sdk == 29:
		return "10"
	case sdk == 28:
		return "9"
	case sdk == 27:
		return "8.1"
	case sdk == 26:
		return "8.0"
	case sdk == 25:
		return "7.1"
	case sdk == 24:
		return "7.0"
	}
	return ""
}

// State implements platform.Platform; it reads what was last set.
func (d *Device) State(ctx context.Context) (protocol.DeviceState, error) {
	if err := ctx.Err(); err != nil {
		return protocol.DeviceState{}, err
	}
	st, err := d.read()
	if err != nil {
		return protocol.DeviceState{}, err
	}
	return protocol.DeviceState{
		Unmetered:     st.Unmetered,
		Charging:      st.Charging,
		Idle:          st.Idle,
		ForegroundApp: st.Foreground,
		FreeStorage:   st.FreeStorage,
	}, nil
}

// Installed implements platform.Platform.
func (d *Device) Installed(ctx context.Context) (map[string]protocol.InstalledApp, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := d.read()
	if err != nil {
		return nil, err
	}
	apps := make(map[string]protocol.InstalledApp, len(st.Packages))
	for pkg, p := range st.Packages {
		apps[pkg] = protocol.InstalledApp{
			VersionName:  p.VersionName,
			VersionCode:  p.VersionCode,
			SignerSHA256: slices.Clone(p.SignerSHA256),
			UpdatedAt:    p.UpdatedAt,
		}
	}
	return apps, nil
}

// InstalledPath is the installed base.apk copy of pkg, or "" when pkg is
// not installed.
func (d *Device) InstalledPath(pkg string) (string, error) {
	st, err := d.read()
	if err != nil {
		return "", err
	}
	p, ok := st.Packages[pkg]
	if !ok {
		return "", nil
	}
	return filepath.Join(d.dir, p.Path), nil
}

// Set applies assignments such as "wifi=on", "charging=off", "idle=on",
// "foreground=com.example.pos" (or "foreground=" / "foreground=none"),
// "sdk=30", "storage=2GiB" and "tz=Europe/Berlin". Either all apply or, on
// the first bad one, none does; the error is a *SetError naming the key,
// the value and what is allowed.
func (d *Device) Set(ctx context.Context, assignments ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.update(func(st *state, exists bool, _ *txn) error {
		if !exists {
			return fmt.Errorf("sim: %s holds no device: %s is missing", d.dir, stateFile)
		}
		next := *st
		for _, a := range assignments {
			if err := apply(&next, a); err != nil {
				return err
			}
		}
		*st = next
		return nil
	})
}

// Seed installs the APK at apkPath as pkg without PackageManager's update
// rules, as a factory image ships it: any version replaces any other. The
// APK must still be a signed APK declaring pkg, and there must be room for
// it.
func (d *Device) Seed(pkg, apkPath string) error {
	return d.update(func(st *state, exists bool, tx *txn) error {
		if !exists {
			return fmt.Errorf("sim: %s holds no device: %s is missing", d.dir, stateFile)
		}
		info, err := apk.Inspect(apkPath, st.SDK)
		if err != nil {
			return fmt.Errorf("sim: seed %s: %w", pkg, err)
		}
		if info.Package != pkg {
			return fmt.Errorf("sim: seed %s: %s declares package %s", pkg, apkPath, info.Package)
		}
		if err := d.place(st, tx, info, apkPath); err != nil {
			return fmt.Errorf("sim: seed %s: %w", pkg, err)
		}
		return nil
	})
}

// Install implements platform.Platform with the rules in the package
// documentation.
func (d *Device) Install(ctx context.Context, apkPath string, opt platform.InstallOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var installed *apk.Info
	err := d.update(func(st *state, exists bool, tx *txn) error {
		if !exists {
			return fmt.Errorf("sim: %s holds no device: %s is missing", d.dir, stateFile)
		}
		info, err := check(st, apkPath, opt)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		installed = info
		return d.place(st, tx, info, apkPath)
	})
	var ie *platform.InstallError
	switch {
	case errors.As(err, &ie):
		d.log.Info("install refused", "path", apkPath, "app", opt.Package, "code", ie.Code)
		return fmt.Errorf("sim: install %s: %w", apkPath, err)
	case err != nil:
		return fmt.Errorf("sim: install %s: %w", apkPath, err)
	}
	d.log.Info("installed", "path", apkPath, "app", installed.Package, "version_code", installed.VersionCode)
	return nil
}

// check applies PackageManager's rules and returns the APK's identity.
func check(st *state, apkPath string, opt platform.InstallOptions) (*apk.Info, error) {
	info, err := apk.Inspect(apkPath, st.SDK)
	switch {
	case errors.Is(err, apk.ErrUnsigned), errors.Is(err, apk.ErrBadSignature):
		return nil, &platform.InstallError{Code: platform.CodeNoCertificates, Message: err.Error()}
	case errors.Is(err, apk.ErrMalformed):
		return nil, &platform.InstallError{Code: platform.CodeNotAPK, Message: err.Error()}
	case err != nil:
		return nil, err
	}
	if opt.Package != "" && info.Package != opt.Package {
		return nil, &platform.InstallError{Code: platform.CodeInvalidAPK,
			Message: fmt.Sprintf("Inconsistent package %s in %s; expected %s", info.Package, apkPath, opt.Package)}
	}
	if info.Size > st.FreeStorage {
		return nil, &platform.InstallError{Code: platform.CodeInsufficientStorage,
			Message: fmt.Sprintf("%s needs %d bytes, %d free", info.Package, info.Size, st.FreeStorage)}
	}
	if info.MinSDK > st.SDK {
		return nil, &platform.InstallError{Code: platform.CodeOlderSDK,
			Message: fmt.Sprintf("Requires newer sdk version #%d (current version is #%d)", info.MinSDK, st.SDK)}
	}
	cur, ok := st.Packages[info.Package]
	if !ok {
		return info, nil
	}
	if info.VersionCode < cur.VersionCode && !opt.AllowDowngrade {
		return nil, &platform.InstallError{Code: platform.CodeVersionDowngrade,
			Message: fmt.Sprintf("Downgrade detected: Update version code %d is older than current %d", info.VersionCode, cur.VersionCode)}
	}
	if !slices.Equal(info.SignerSHA256, cur.SignerSHA256) {
		return nil, &platform.InstallError{Code: platform.CodeUpdateIncompatible,
			Message: fmt.Sprintf("Package %s signatures do not match previously installed version; ignoring!", info.Package)}
	}
	return info, nil
}

// place copies the APK into a new directory and points the database at
// it. The previous copy is removed only once the new state is written; if
// it is not, the new copy is removed instead, so a failure leaves the
// previous installation as it was.
func (d *Device) place(st *state, tx *txn, info *apk.Info, apkPath string) error {
	old, had := st.Packages[info.Package]
	free := st.FreeStorage + old.Size - info.Size
	if free < 0 {
		return &platform.InstallError{Code: platform.CodeInsufficientStorage,
			Message: fmt.Sprintf("%s needs %d bytes, %d free", info.Package, info.Size, st.FreeStorage)}
	}
	st.Installs++
	rel := filepath.Join("data", "app", fmt.Sprintf("%s-%d", info.Package, st.Installs), "base.apk")
	newDir := filepath.Join(d.dir, filepath.Dir(rel))
	if err := copyFile(apkPath, filepath.Join(d.dir, rel)); err != nil {
		return err
	}
	tx.onAbort = append(tx.onAbort, func() { d.removeAll(newDir) })
	if had {
		oldDir := filepath.Join(d.dir, filepath.Dir(old.Path))
		tx.onCommit = append(tx.onCommit, func() { d.removeAll(oldDir) })
	}
	st.Packages[info.Package] = installed{
		VersionName:  info.VersionName,
		VersionCode:  info.VersionCode,
		SignerSHA256: slices.Clone(info.SignerSHA256),
		UpdatedAt:    d.now().UTC(),
		Path:         rel,
		Size:         info.Size,
	}
	st.FreeStorage = free
	return nil
}

func (d *Device) removeAll(dir string) {
	if err := os.RemoveAll(dir); err != nil {
		d.log.Warn("remove apk copy", "path", dir, "err", err)
	}
}

// copyFile copies src to dst (a new file in a new directory) and syncs it.
func copyFile(src, dst string) (err error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("copy apk: %w", err)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy apk: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("copy apk: %w", err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("copy apk: %w", cerr)
		}
		if err != nil {
			os.RemoveAll(filepath.Dir(dst))
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy apk: %w", err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("copy apk: %w", err)
	}
	return nil
}
