package controller

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

func (a *API) explain(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r.URL.Query(), "app")
	if err != nil {
		return err
	}
	id := r.PathValue("name")
	if err := protocol.ValidateDeviceID(id); err != nil {
		return badRequest("device id %q is not allowed; want 1 to %d letters, digits, '-', '_' and ':'", id, protocol.MaxDeviceIDLen)
	}
	app := q["app"]
	if v, ok := q["app"]; ok {
		if err := protocol.ValidatePackageName(v); err != nil {
			return badParam("app", v, "a package name such as com.example.pos")
		}
	}
	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	ex, err := a.decider.Explain(ctx, id, app)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ex)
}

// RolloutItem is the progress of one policy across the devices it
// decides for.
type RolloutItem struct {
	Policy   string `json:"policy"`
	App      string `json:"app"`
	Revision uint64 `json:"revision"`
	// Target is the version most of the policy's decisions move to; nil
	// when none has a target.
	Target *RolloutTarget `json:"target,omitempty"`
	// Devices is how many devices' last directives hold a decision of the
	// policy.
	Devices int `json:"devices"`
	// ByAction counts those decisions by action; ByState counts the
	// devices by the state their agent last reported for the app
	// ("unknown" before any report).
	ByAction map[protocol.Action]int `json:"byAction"`
	ByState  map[string]int          `json:"byState"`
}

// RolloutTarget names a target version.
type RolloutTarget struct {
	VersionName string `json:"versionName"`
	VersionCode int64  `json:"versionCode"`
}

// rollout counts, per policy, the decisions of the last directive of
// every device and the states their agents reported.
func (a *API) rollout(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r.URL.Query(), "policy")
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(r, adminTimeout)
	defer cancel()
	var policies []Record[policy.UpdatePolicy]
	if name, ok := q["policy"]; ok {
		rec, err := a.store.Policies().Get(ctx, name)
		if err != nil {
			return err
		}
		policies = append(policies, rec)
	} else if policies, err = a.store.Policies().List(ctx); err != nil {
		return fmt.Errorf("list policies: %w", err)
	}
	directives, err := a.store.Directives().List(ctx)
	if err != nil {
		return fmt.Errorf("list directives: %w", err)
	}
	devices, err := a.store.Devices().List(ctx)
	if err != nil {
		return fmt.Errorf("list devices: %w", err)
	}
	status := make(map[string]map[string]protocol.AppStatus, len(devices))
	for _, d := range devices {
		if d.Value.LastReport != nil {
			status[d.Name] = d.Value.LastReport.Status
		}
	}
	items := make([]RolloutItem, len(policies))
	index := make(map[string]int, len(policies))
	targets := make([]map[RolloutTarget]int, len(policies))
	for i, p := range policies {
		items[i] = RolloutItem{Policy: p.Name, App: p.Value.App, Revision: p.Revision, ByAction: map[protocol.Action]int{}, ByState: map[string]int{}}
		index[p.Name] = i
		targets[i] = map[RolloutTarget]int{}
	}
	for _, rec := range directives {
		if rec.Value.Envelope == nil {
			continue
		}
		var d protocol.Directive
		if err := json.Unmarshal(rec.Value.Envelope.Payload, &d); err != nil {
			a.log.Warn("stored directive is unreadable", "device_id", rec.Name, "error", err)
			continue
		}
		for _, dec := range d.Decisions {
			if dec.Policy == nil {
				continue
			}
			i, ok := index[dec.Policy.Name]
			if !ok {
				continue
			}
			it := &items[i]
			it.Devices++
			it.ByAction[dec.Action]++
			state := "unknown"
			if st, ok := status[rec.Name][dec.App]; ok && st.State != "" {
				state = st.State
			}
			it.ByState[state]++
			if dec.Target != nil {
				targets[i][RolloutTarget{VersionName: dec.Target.VersionName, VersionCode: dec.Target.VersionCode}]++
			}
		}
	}
	for i := range items {
		items[i].Target = mostCommon(targets[i])
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

// mostCommon returns the target counted most often, the higher version on
// a tie, or nil.
func mostCommon(counts map[RolloutTarget]int) *RolloutTarget {
	keys := make([]RolloutTarget, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(x, y RolloutTarget) int {
		if c := counts[y] - counts[x]; c != 0 {
			return c
		}
		if x.VersionCode != y.VersionCode {
			return int(min(max(y.VersionCode-x.VersionCode, -1), 1))
		}
		return strings.Compare(x.VersionName, y.VersionName)
	})
	return &keys[0]
}
