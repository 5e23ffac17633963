package android

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// listedPackage is one line of "pm list packages --show-versioncode".
type listedPackage struct {
	Name        string
	VersionCode int64
}

// parsePackageList reads "pm list packages [--show-versioncode]" lines of
// the form "package:NAME versionCode:N" (the version part is absent before
// Android 8).
func parsePackageList(out []byte) ([]listedPackage, error) {
	var pkgs []listedPackage
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "package:")
		if !ok {
			continue
		}
		name, version, _ := strings.Cut(rest, " ")
		p := listedPackage{Name: name}
		if v, ok := strings.CutPrefix(strings.TrimSpace(version), "versionCode:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: pm list packages: %s: versionCode %q is not a number", ErrUnrecognized, name, v)
			}
			p.VersionCode = n
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// packageDetails is what "dumpsys package PKG" tells about PKG.
type packageDetails struct {
	VersionCode int64
	VersionName string
	MinSDK      int
	UpdatedAt   time.Time
	CodePath    string
}

// dumpsysTimeLayout is how PackageManager prints firstInstallTime and
// lastUpdateTime, in the device's local time.
const dumpsysTimeLayout = "2006-01-02 15:04:05"

// parsePackageDump reads the "Package [pkg]" record under "Packages:" in
// "dumpsys package pkg". Updated system apps also appear under "Hidden
// system packages:" with the factory version; that record is skipped.
// Times are interpreted in loc, the device's zone.
func parsePackageDump(out []byte, pkg string, loc *time.Location) (packageDetails, error) {
	var d packageDetails
	section := ""
	inRecord, found := false, false
	header := "Package [" + pkg + "]"
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if raw != "" && raw[0] != ' ' && strings.HasSuffix(line, ":") {
			section = line
			inRecord = false
			continue
		}
		if strings.HasPrefix(line, "Package [") {
			inRecord = section == "Packages:" && strings.HasPrefix(line, header) && !found
			found = found || inRecord
			continue
		}
		if !inRecord {
			continue
		}
		for _, field := range strings.Fields(line) {
			key, value, ok := strings.Cut(field, "=")
			if !ok {
				continue
			}
			switch key {
			case "versionCode":
				n, err := strconv.ParseInt(value, 10, 64)
				if err != nil {
					return d, fmt.Errorf("%w: dumpsys package %s: versionCode %q is not a number", ErrUnrecognized, pkg, value)
				}
				d.VersionCode = n
			case "minSdk":
				d.MinSDK, _ = strconv.Atoi(value)
			case "codePath":
				d.CodePath = value
			}
		}
		switch {
		case strings.HasPrefix(line, "versionName="):
			d.VersionName = strings.TrimPrefix(line, "versionName=")
		case strings.HasPrefix(line, "lastUpdateTime="):
			v := strings.TrimPrefix(line, "lastUpdateTime=")
			t, err := time.ParseInLocation(dumpsysTimeLayout, v, loc)
			if err != nil {
				return d, fmt.Errorf("%w: dumpsys package %s: lastUpdateTime %q is not %s", ErrUnrecognized, pkg, v, dumpsysTimeLayout)
			}
			d.UpdatedAt = t
		}
	}
	if !found {
		return d, fmt.Errorf("%w: dumpsys package %s: no %q record under \"Packages:\"", ErrUnrecognized, pkg, header)
	}
	return d, nil
}

// parsePackagePath reads "pm path PKG": the base.apk line, or the first
// "package:" line when none is called base.apk (single-APK installs before
// Android 5).
func parsePackagePath(out []byte, pkg string) (string, error) {
	first := ""
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		p, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "package:")
		if !ok {
			continue
		}
		if strings.HasSuffix(p, "/base.apk") {
			return p, nil
		}
		if first == "" {
			first = p
		}
	}
	if first == "" {
		return "", fmt.Errorf("%w: pm path %s: no \"package:\" line", ErrUnrecognized, pkg)
	}
	return first, nil
}
