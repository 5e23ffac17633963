package android

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-mdm/sluice/agent/platform"
	"github.com/sluice-mdm/sluice/apk"
	"github.com/sluice-mdm/sluice/protocol"
)

// SignerFunc returns the SHA-256 fingerprints (lowercase hex) of the
// certificates that sign the APK at path, as verified for sdk.
type SignerFunc func(path string, sdk int) ([]string, error)

// APKSigners reads the fingerprints with apk.Inspect, verifying the
// signature as a device on API level sdk would.
func APKSigners(path string, sdk int) ([]string, error) {
	info, err := apk.Inspect(path, sdk)
	if err != nil {
		return nil, err
	}
	return info.SignerSHA256, nil
}

// Config configures a [Platform].
type Config struct {
	// Runner runs device commands; nil means [ExecRunner].
	Runner Runner
	// DataDir is where the agent keeps downloads; its file system's free
	// space is reported as FreeStorage. Required.
	DataDir string
	// Signers reads signing-certificate fingerprints from an installed
	// base.apk; nil means [APKSigners] (package apk).
	Signers SignerFunc
	// Filter limits Installed to the packages it accepts (the apps the agent
	// manages), saving a dumpsys per unmanaged package. Nil lists every
	// package.
	Filter func(pkg string) bool
	// Logger receives debug logs; nil means slog.Default().
	Logger *slog.Logger
}

// Platform is a real Android device. It implements platform.Platform.
type Platform struct {
	run     Runner
	dataDir string
	signers SignerFunc
	filter  func(string) bool
	log     *slog.Logger

	install sync.Mutex // one pm install at a time

	mu      sync.Mutex
	signerC map[signerKey][]string // fingerprints per installed version
}

type signerKey struct {
	pkg         string
	versionCode int64
	updatedAt   int64 // Unix seconds: time.Time keys compare Location pointers
}

var _ platform.Platform = (*Platform)(nil)

// New returns the android platform.
func New(cfg Config) (*Platform, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("android: config: DataDir is empty; want the agent's data directory")
	}
	p := &Platform{
		run:     cfg.Runner,
		dataDir: cfg.DataDir,
		signers: cfg.Signers,
		filter:  cfg.Filter,
		log:     cfg.Logger,
		signerC: make(map[signerKey][]string),
	}
	if p.run == nil {
		p.run = ExecRunner{}
	}
	if p.signers == nil {
		p.signers = APKSigners
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	return p, nil
}

// Name implements platform.Platform.
func (p *Platform) Name() string { return "android" }

// Info implements platform.Platform with getprop.
func (p *Platform) Info(ctx context.Context) (platform.Info, error) {
	var info platform.Info
	sdk, err := p.getprop(ctx, "ro.build.version.sdk")
	if err != nil {
		return info, err
	}
	if info.SDK, err = strconv.Atoi(sdk); err != nil {
		return info, fmt.Errorf("%w: getprop ro.build.version.sdk: %q is not a number", ErrUnrecognized, sdk)
	}
	if info.OSVersion, err = p.getprop(ctx, "ro.build.version.release"); err != nil {
		return info, err
	}
	if info.TimeZone, err = p.getprop(ctx, "persist.sys.timezone"); err != nil {
		return info, err
	}
	if info.TimeZone != "" {
		if _, err := time.LoadLocation(info.TimeZone); err != nil {
			p.log.Debug("device time zone unknown to Go", "time_zone", info.TimeZone, "err", err)
			info.TimeZone = ""
		}
	}
	return info, nil
}

func (p *Platform) getprop(ctx context.Context, name string) (string, error) {
	out, err := p.run.Run(ctx, "getprop", name)
	if err != nil {
		return "", fmt.Errorf("android: getprop %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (p *Platform) dumpsys(ctx context.Context, args ...string) ([]byte, error) {
	out, err := p.run.Run(ctx, "dumpsys", args...)
	if err != nil {
		return nil, fmt.Errorf("android: dumpsys %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}

// State implements platform.Platform. See the package documentation for
// how each field is decided.
func (p *Platform) State(ctx context.Context) (protocol.DeviceState, error) {
	var st protocol.DeviceState
	out, err := p.dumpsys(ctx, "battery")
	if err != nil {
		return st, err
	}
	if st.Charging, err = parseCharging(out); err != nil {
		return st, err
	}
	if out, err = p.dumpsys(ctx, "connectivity"); err != nil {
		return st, err
	}
	if st.Unmetered, err = parseUnmetered(out); err != nil {
		return st, err
	}
	power, err := p.dumpsys(ctx, "power")
	if err != nil {
		return st, err
	}
	doze, err := p.dumpsys(ctx, "deviceidle")
	if err != nil {
		return st, err
	}
	st.Idle = idle(parsePower(power), parseDeviceIdle(doze))
	if out, err = p.dumpsys(ctx, "activity", "activities"); err != nil {
		return st, err
	}
	st.ForegroundApp = parseForeground(out)
	if st.FreeStorage, err = freeBytes(p.dataDir); err != nil {
		return st, fmt.Errorf("android: %w", err)
	}
	return st, nil
}

// Installed implements platform.Platform.
func (p *Platform) Installed(ctx context.Context) (map[string]protocol.InstalledApp, error) {
	out, err := p.run.Run(ctx, "pm", "list", "packages", "--show-versioncode")
	if err != nil {
		return nil, fmt.Errorf("android: pm list packages: %w", err)
	}
	list, err := parsePackageList(out)
	if err != nil {
		return nil, err
	}
	loc, sdk := time.Local, 0
	if info, err := p.Info(ctx); err == nil {
		sdk = info.SDK
		if l, err := time.LoadLocation(info.TimeZone); err == nil && info.TimeZone != "" {
			loc = l
		}
	} else {
		p.log.Debug("device info unavailable; reading update times in local time", "err", err)
	}
	apps := make(map[string]protocol.InstalledApp, len(list))
	for _, lp := range list {
		if p.filter != nil && !p.filter(lp.Name) {
			continue
		}
		dump, err := p.dumpsys(ctx, "package", lp.Name)
		if err != nil {
			return nil, err
		}
		d, err := parsePackageDump(dump, lp.Name, loc)
		if err != nil {
			return nil, err
		}
		apps[lp.Name] = protocol.InstalledApp{
			VersionName:  d.VersionName,
			VersionCode:  d.VersionCode,
			SignerSHA256: p.signerFingerprints(ctx, lp.Name, d, sdk),
			UpdatedAt:    d.UpdatedAt.UTC(),
		}
	}
	return apps, nil
}

// signerFingerprints reads the installed base.apk's certificates once per
// installed version.
func (p *Platform) signerFingerprints(ctx context.Context, pkg string, d packageDetails, sdk int) []string {
	key := signerKey{pkg: pkg, versionCode: d.VersionCode, updatedAt: d.UpdatedAt.Unix()}
	p.mu.Lock()
	fps, ok := p.signerC[key]
	p.mu.Unlock()
	if ok {
		return fps
	}
	out, err := p.run.Run(ctx, "pm", "path", pkg)
	if err != nil {
		p.log.Debug("pm path failed; listing app without signer", "app", pkg, "err", err)
		return nil
	}
	path, err := parsePackagePath(out, pkg)
	if err != nil {
		p.log.Debug("no base.apk; listing app without signer", "app", pkg, "err", err)
		return nil
	}
	if fps, err = p.signers(path, sdk); err != nil {
		p.log.Debug("base.apk unreadable; listing app without signer", "app", pkg, "path", path, "err", err)
		return nil
	}
	p.mu.Lock()
	p.signerC[key] = fps
	p.mu.Unlock()
	return fps
}

// Install implements platform.Platform with "pm install -r [-d] [--pkg
// PACKAGE] PATH". With --pkg, PackageInstaller itself refuses an APK that
// declares another package (INSTALL_FAILED_INVALID_APK, "Inconsistent
// package"). Installs are serialized.
func (p *Platform) Install(ctx context.Context, apkPath string, opt platform.InstallOptions) error {
	p.install.Lock()
	defer p.install.Unlock()
	args := []string{"install", "-r"}
	if opt.AllowDowngrade {
		args = append(args, "-d")
	}
	if opt.Package != "" {
		args = append(args, "--pkg", opt.Package)
	}
	args = append(args, apkPath)
	out, runErr := p.run.Run(ctx, "pm", args...)
	if ctx.Err() != nil {
		return fmt.Errorf("android: pm install %s: %w", apkPath, ctx.Err())
	}
	err := parseInstall(out)
	var ie *platform.InstallError
	if errors.As(err, &ie) && ie.Code == platform.CodeInternalError && runErr != nil {
		ie.Message = fmt.Sprintf("%s (%v)", ie.Message, runErr)
	}
	if err != nil {
		return fmt.Errorf("android: pm install %s: %w", apkPath, err)
	}
	p.log.Debug("installed", "path", apkPath, "package", opt.Package)
	return nil
}
