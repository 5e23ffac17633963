package protocol

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEventValidate(t *testing.T) {
	allNames := "UpdateCheck, UpdateDialogShow, UpdateButtonClick, DownloadStart, DownloadProgress, DownloadComplete, InstallStart, InstallResult, StoreRedirect, DirectiveRejected, DirectiveApplied, VerifyFailed"
	allParams := "zz_button_action, zz_dialog_type, zz_download_url, zz_error_code, zz_file_size, zz_force_update, zz_install_type, zz_new_version, zz_platform, zz_progress, zz_reason, zz_redirect_result, zz_remaining, zz_speed, zz_success, zz_total_time, zz_update_type, zz_version_info"
	withParam := func(k, v string) func(e *Event) { return func(e *Event) { e.Params = map[string]string{k: v} } }
	tests := []struct {
		name   string
		change func(e *Event)
		want   string // "" means valid
	}{
		{name: "golden event", change: func(e *Event) {}},
		{name: "no device id (HTTP API without the agent)", change: func(e *Event) { e.DeviceID = "" }},
		{name: "no params", change: func(e *Event) { e.Params = nil }},
		{name: "every kind of param", change: func(e *Event) {
			e.Name = EventInstallResult
			e.Params = map[string]string{
				ParamSuccess: "true", ParamForceUpdate: "0", ParamFileSize: "0", ParamProgress: "100", ParamSpeed: "0.5",
				ParamRemaining: "0", ParamTotalTime: "12.75", ParamErrorCode: "INSTALL_FAILED_INSUFFICIENT_STORAGE",
				ParamInstallType: "silent", ParamReason: strings.Repeat("r", MaxParamLen),
			}
		}},
		{name: "unknown event name", change: func(e *Event) { e.Name = "UpdateDone" },
			want: `event: name: "UpdateDone" is not one of ` + allNames},
		{name: "empty event name", change: func(e *Event) { e.Name = "" },
			want: `event: name: "" is not one of ` + allNames},
		{name: "event name in wrong case", change: func(e *Event) { e.Name = "updatecheck" },
			want: `event: name: "updatecheck" is not one of ` + allNames},
		{name: "missing id", change: func(e *Event) { e.ID = "" },
			want: `event DownloadProgress: id: "" must be 1 to 128 bytes`},
		{name: "id too long", change: func(e *Event) { e.ID = strings.Repeat("i", 129) },
			want: `event DownloadProgress: id: "` + strings.Repeat("i", 129) + `" must be 1 to 128 bytes`},
		{name: "bad device id", change: func(e *Event) { e.DeviceID = "pos.42" },
			want: `event DownloadProgress: deviceId: protocol: device id "pos.42": has '.' at byte 3; allowed: 1 to 128 bytes of letters, digits, '-', '_' and ':'`},
		{name: "missing app", change: func(e *Event) { e.App = "" },
			want: `event DownloadProgress: app: package "" is empty; want dot-separated segments like com.example.app`},
		{name: "bad app", change: func(e *Event) { e.App = "pos app" },
			want: `event DownloadProgress: app: package "pos app" has ' ' at byte 3; want dot-separated segments like com.example.app`},
		{name: "zero time", change: func(e *Event) { e.Time = time.Time{} },
			want: `event DownloadProgress: time: is missing; want an RFC 3339 time`},
		{name: "unknown param", change: withParam("zz_colour", "red"),
			want: `event DownloadProgress: params.zz_colour: is not a known parameter; allowed: ` + allParams},
		{name: "param without prefix", change: withParam("progress", "5"),
			want: `event DownloadProgress: params.progress: is not a known parameter; allowed: ` + allParams},
		{name: "bad bool", change: withParam(ParamSuccess, "yes"),
			want: `event DownloadProgress: params.zz_success: "yes" is not a boolean; want true, false, 1 or 0`},
		{name: "bad force bool", change: withParam(ParamForceUpdate, "TRUE"),
			want: `event DownloadProgress: params.zz_force_update: "TRUE" is not a boolean; want true, false, 1 or 0`},
		{name: "percent 101", change: withParam(ParamProgress, "101"),
			want: `event DownloadProgress: params.zz_progress: "101" is not a percentage from 0 to 100`},
		{name: "negative percent", change: withParam(ParamProgress, "-0.5"),
			want: `event DownloadProgress: params.zz_progress: "-0.5" is not a percentage from 0 to 100`},
		{name: "percent not a number", change: withParam(ParamProgress, "half"),
			want: `event DownloadProgress: params.zz_progress: "half" is not a percentage from 0 to 100`},
		{name: "negative size", change: withParam(ParamFileSize, "-1"),
			want: `event DownloadProgress: params.zz_file_size: "-1" is not a non-negative whole number`},
		{name: "fractional size", change: withParam(ParamFileSize, "1.5"),
			want: `event DownloadProgress: params.zz_file_size: "1.5" is not a non-negative whole number`},
		{name: "negative speed", change: withParam(ParamSpeed, "-3"),
			want: `event DownloadProgress: params.zz_speed: "-3" is not a non-negative number`},
		{name: "remaining not a number", change: withParam(ParamRemaining, "soon"),
			want: `event DownloadProgress: params.zz_remaining: "soon" is not a non-negative number`},
		{name: "too long value", change: withParam(ParamVersionInfo, strings.Repeat("v", MaxParamLen+1)),
			want: `event DownloadProgress: params.zz_version_info: value is 2049 bytes; at most 2048 allowed`},
		{name: "first bad param in sorted order", change: func(e *Event) {
			e.Params = map[string]string{ParamSuccess: "maybe", ParamFileSize: "-1", ParamProgress: "200"}
		}, want: `event DownloadProgress: params.zz_file_size: "-1" is not a non-negative whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := goldenEvent()
			tt.change(e)
			got := ""
			if err := e.Validate(); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventNames(t *testing.T) {
	names := EventNames()
	want := []EventName{
		EventUpdateCheck, EventUpdateDialogShow, EventUpdateButtonClick, EventDownloadStart, EventDownloadProgress,
		EventDownloadComplete, EventInstallStart, EventInstallResult, EventStoreRedirect,
		EventDirectiveRejected, EventDirectiveApplied, EventVerifyFailed,
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("EventNames (-want +got):\n%s", diff)
	}
	names[0] = "Changed"
	if diff := cmp.Diff(want, EventNames()); diff != "" {
		t.Errorf("EventNames after the caller changed its copy (-want +got):\n%s", diff)
	}
}
