package protocol

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EventName is one step of an update, as named by the product requirements.
type EventName string

// Event names.
const (
	EventUpdateCheck       EventName = "UpdateCheck"
	EventUpdateDialogShow  EventName = "UpdateDialogShow"
	EventUpdateButtonClick EventName = "UpdateButtonClick"
	EventDownloadStart     EventName = "DownloadStart"
	EventDownloadProgress  EventName = "DownloadProgress"
	EventDownloadComplete  EventName = "DownloadComplete"
	EventInstallStart      EventName = "InstallStart"
	EventInstallResult     EventName = "InstallResult"
	EventStoreRedirect     EventName = "StoreRedirect"
	// Agent-only events, beyond the product requirements' list.
	EventDirectiveRejected EventName = "DirectiveRejected"
	EventDirectiveApplied  EventName = "DirectiveApplied"
	EventVerifyFailed      EventName = "VerifyFailed"
)

// Event parameters (the product requirements' zz_* names).
const (
	ParamUpdateType     = "zz_update_type"
	ParamNewVersion     = "zz_new_version"
	ParamForceUpdate    = "zz_force_update"
	ParamDialogType     = "zz_dialog_type"
	ParamVersionInfo    = "zz_version_info"
	ParamButtonAction   = "zz_button_action"
	ParamPlatform       = "zz_platform"
	ParamFileSize       = "zz_file_size"
	ParamDownloadURL    = "zz_download_url"
	ParamProgress       = "zz_progress"
	ParamSpeed          = "zz_speed"
	ParamRemaining      = "zz_remaining"
	ParamTotalTime      = "zz_total_time"
	ParamSuccess        = "zz_success"
	ParamInstallType    = "zz_install_type"
	ParamErrorCode      = "zz_error_code"
	ParamRedirectResult = "zz_redirect_result"
	// ParamReason carries a free-text explanation (agent-only events).
	ParamReason = "zz_reason"
)

// paramKind says how a parameter's value is checked.
type paramKind int

const (
	kindText paramKind = iota
	kindBool
	kindUint
	kindPercent
	kindNumber
)

var paramKinds = map[string]paramKind{
	ParamUpdateType:     kindText,
	ParamNewVersion:     kindText,
	ParamForceUpdate:    kindBool,
	ParamDialogType:     kindText,
	ParamVersionInfo:    kindText,
	ParamButtonAction:   kindText,
	ParamPlatform:       kindText,
	ParamFileSize:       kindUint,
	ParamDownloadURL:    kindText,
	ParamProgress:       kindPercent,
	ParamSpeed:          kindNumber,
	ParamRemaining:      kindNumber,
	ParamTotalTime:      kindNumber,
	ParamSuccess:        kindBool,
	ParamInstallType:    kindText,
	ParamErrorCode:      kindText,
	ParamRedirectResult: kindText,
	ParamReason:         kindText,
}

var eventNames = []EventName{
	EventUpdateCheck, EventUpdateDialogShow, EventUpdateButtonClick, EventDownloadStart,
	EventDownloadProgress, EventDownloadComplete, EventInstallStart, EventInstallResult,
	EventStoreRedirect, EventDirectiveRejected, EventDirectiveApplied, EventVerifyFailed,
}

// EventNames lists every event name a controller accepts.
func EventNames() []EventName { return slices.Clone(eventNames) }

// MaxParamLen caps one parameter value, in bytes.
const MaxParamLen = 2048

// Event is one step of an update on a device (or in an app without the
// agent, through the HTTP event API).
type Event struct {
	// ID is unique per device and lets the controller drop duplicates sent
	// again after a reconnect.
	ID       string    `json:"id"`
	DeviceID string    `json:"deviceId"`
	App      string    `json:"app"`
	Name     EventName `json:"name"`
	Time     time.Time `json:"time"`
	// DecisionID links the event to the decision it carries out, if any.
	DecisionID string            `json:"decisionId,omitempty"`
	Params     map[string]string `json:"params,omitempty"`
}

// Validate checks the event's name, app and parameters, naming the first
// field that is wrong, its value and what is allowed.
func (e *Event) Validate() error {
	if !slices.Contains(eventNames, e.Name) {
		names := make([]string, len(eventNames))
		for i, n := range eventNames {
			names[i] = string(n)
		}
		return fmt.Errorf("event: name: %q is not one of %s", e.Name, strings.Join(names, ", "))
	}
	if e.ID == "" || len(e.ID) > 128 {
		return fmt.Errorf("event %s: id: %q must be 1 to 128 bytes", e.Name, e.ID)
	}
	if e.DeviceID != "" {
		if err := ValidateDeviceID(e.DeviceID); err != nil {
			return fmt.Errorf("event %s: deviceId: %w", e.Name, err)
		}
	}
	if err := ValidatePackageName(e.App); err != nil {
		return fmt.Errorf("event %s: app: %w", e.Name, err)
	}
	if e.Time.IsZero() {
		return fmt.Errorf("event %s: time: is missing; want an RFC 3339 time", e.Name)
	}
	keys := make([]string, 0, len(e.Params))
	for k := range e.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := validateParam(k, e.Params[k]); err != nil {
			return fmt.Errorf("event %s: params.%s: %w", e.Name, k, err)
		}
	}
	return nil
}

func validateParam(name, value string) error {
	kind, ok := paramKinds[name]
	if !ok {
		known := make([]string, 0, len(paramKinds))
		for k := range paramKinds {
			known = append(known, k)
		}
		sort.Strings(known)
		return fmt.Errorf("is not a known parameter; allowed: %s", strings.Join(known, ", "))
	}
	if len(value) > MaxParamLen {
		return fmt.Errorf("value is %d bytes; at most %d allowed", len(value), MaxParamLen)
	}
	switch kind {
	case kindBool:
		if value != "true" && value != "false" && value != "0" && value != "1" {
			return fmt.Errorf("%q is not a boolean; want true, false, 1 or 0", value)
		}
	case kindUint:
		if _, err := strconv.ParseUint(value, 10, 63); err != nil {
			return fmt.Errorf("%q is not a non-negative whole number", value)
		}
	case kindPercent:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || f < 0 || f > 100 {
			return fmt.Errorf("%q is not a percentage from 0 to 100", value)
		}
	case kindNumber:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || f < 0 {
			return fmt.Errorf("%q is not a non-negative number", value)
		}
	}
	return nil
}
