package platform

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-mdm/sluice/protocol"
)

// Platform is the device the agent enforces directives on. Implementations
// are safe for concurrent use; Install runs one installation at a time.
type Platform interface {
	// Name is the platform's name as given on the command line
	// ("android", "sim").
	Name() string
	// Info reports the SDK level, the OS version and the time zone, as far
	// as the platform knows them.
	Info(ctx context.Context) (Info, error)
	// State senses whether the network is unmetered, the device charging
	// and idle, which app is in the foreground and how much storage is free.
	State(ctx context.Context) (protocol.DeviceState, error)
	// Installed lists the installed apps by package name.
	Installed(ctx context.Context) (map[string]protocol.InstalledApp, error)
	// Install installs the APK at apkPath. A refusal by the package manager
	// is an *InstallError; other errors mean the install could not be tried.
	Install(ctx context.Context, apkPath string, opt InstallOptions) error
}

// Info describes the device. Zero fields are unknown.
type Info struct {
	// SDK is the API level (ro.build.version.sdk).
	SDK int `json:"sdk"`
	// OSVersion is the release name (ro.build.version.release), e.g. "13".
	OSVersion string `json:"osVersion,omitempty"`
	// TimeZone is the IANA zone, e.g. "Europe/Berlin".
	TimeZone string `json:"timeZone,omitempty"`
}

// InstallOptions qualify one installation.
type InstallOptions struct {
	// Package, when set, is the package name the APK must declare; another
	// package is refused with INSTALL_FAILED_INVALID_APK.
	Package string
	// AllowDowngrade lets a lower versionCode replace the installed one
	// (pm install -d). Without it a downgrade fails with
	// INSTALL_FAILED_VERSION_DOWNGRADE.
	AllowDowngrade bool
}

// Install failure codes, as Android's PackageManager names them. Any other
// INSTALL_FAILED_* or INSTALL_PARSE_FAILED_* code Android reports is passed
// through unchanged in [InstallError.Code].
const (
	CodeUpdateIncompatible  = "INSTALL_FAILED_UPDATE_INCOMPATIBLE"
	CodeVersionDowngrade    = "INSTALL_FAILED_VERSION_DOWNGRADE"
	CodeOlderSDK            = "INSTALL_FAILED_OLDER_SDK"
	CodeInsufficientStorage = "INSTALL_FAILED_INSUFFICIENT_STORAGE"
	CodeInvalidAPK          = "INSTALL_FAILED_INVALID_APK"
	CodeInternalError       = "INSTALL_FAILED_INTERNAL_ERROR"
	CodeNoCertificates      = "INSTALL_PARSE_FAILED_NO_CERTIFICATES"
	CodeInconsistentCerts   = "INSTALL_PARSE_FAILED_INCONSISTENT_CERTIFICATES"
	CodeNotAPK              = "INSTALL_PARSE_FAILED_NOT_APK"
	CodeBadManifest         = "INSTALL_PARSE_FAILED_BAD_MANIFEST"
)

// InstallError is the package manager's refusal of an APK.
type InstallError struct {
	// Code is Android's failure code, e.g. INSTALL_FAILED_VERSION_DOWNGRADE.
	Code string
	// Message is the package manager's explanation, possibly empty.
	Message string
}

func (e *InstallError) Error() string {
	if e.Message == "" {
		return "install failed: " + e.Code
	}
	return fmt.Sprintf("install failed: %s: %s", e.Code, e.Message)
}

// Reason is the code the agent reports for this failure: the design's
// short codes for the failures it names (INSUFFICIENT_STORAGE,
// SIGNER_MISMATCH, VERSION_DOWNGRADE) and Android's own code otherwise.
func (e *InstallError) Reason() string {
	switch e.Code {
	case CodeInsufficientStorage:
		return "INSUFFICIENT_STORAGE"
	case CodeUpdateIncompatible, CodeInconsistentCerts:
		return "SIGNER_MISMATCH"
	case CodeVersionDowngrade:
		return "VERSION_DOWNGRADE"
	}
	if strings.HasPrefix(e.Code, "INSTALL_") {
		return e.Code
	}
	return "INSTALL_FAILED_" + e.Code
}
