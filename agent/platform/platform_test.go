package platform

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInstallErrorReason(t *testing.T) {
	tests := []struct {
		name string
		code string
		want string
	}{
		{name: "storage", code: CodeInsufficientStorage, want: "INSUFFICIENT_STORAGE"},
		{name: "signer", code: CodeUpdateIncompatible, want: "SIGNER_MISMATCH"},
		{name: "inconsistent certificates", code: CodeInconsistentCerts, want: "SIGNER_MISMATCH"},
		{name: "downgrade", code: CodeVersionDowngrade, want: "VERSION_DOWNGRADE"},
		{name: "other android code", code: CodeOlderSDK, want: "INSTALL_FAILED_OLDER_SDK"},
		{name: "parse code", code: CodeNoCertificates, want: "INSTALL_PARSE_FAILED_NO_CERTIFICATES"},
		{name: "bare code", code: "ABORTED", want: "INSTALL_FAILED_ABORTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := (&InstallError{Code: tt.code}).Reason()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Reason() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInstallErrorAs(t *testing.T) {
	err := fmt.Errorf("install com.example.pos: %w", &InstallError{Code: CodeOlderSDK, Message: "Requires newer sdk version #34 (current version is #30)"})
	var ie *InstallError
	if !errors.As(err, &ie) {
		t.Fatalf("errors.As(%v) = false, want true", err)
	}
	want := "install com.example.pos: install failed: INSTALL_FAILED_OLDER_SDK: Requires newer sdk version #34 (current version is #30)"
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("Error() mismatch (-want +got):\n%s", diff)
	}
}
