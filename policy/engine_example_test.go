package policy_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

func ExampleEngine_Decide() {
	ctx := context.Background()
	engine, err := policy.NewEngine(ctx, policy.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	published := time.Date(2025, time.May, 2, 0, 0, 0, 0, time.UTC)
	d, err := engine.Decide(ctx, policy.Request{
		App: "com.example.pos",
		Device: policy.Device{
			ID: "pos-berlin-0042", Platform: protocol.PlatformAndroid, SDK: 30,
			Apps: map[string]protocol.InstalledApp{"com.example.pos": {VersionName: "5.0.0", VersionCode: 500}},
		},
		Policy: &policy.UpdatePolicy{
			App:               "com.example.pos",
			MaintenanceWindow: &protocol.MaintenanceWindow{Start: "22:00", End: "05:00"},
		},
		PolicyName:     "pos-stable",
		PolicyRevision: 3,
		Releases: []policy.Release{{
			App: "com.example.pos", VersionName: "5.1.0", VersionCode: 510, PublishedAt: published,
			Artifact: protocol.Artifact{URLs: []string{"https://cdn.example.com/pos-5.1.0.apk"}, MinSDK: 24},
		}},
		At: published.Add(24 * time.Hour),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Action, d.Target.VersionName, d.Policy.Name, d.Policy.Revision)
	fmt.Println(d.Reasons[0].Code + ": " + d.Reasons[0].Message)
	// Output:
	// install 5.1.0 pos-stable 3
	// UPDATE_AVAILABLE: Version 5.1.0 (510) is available; it installs when the device is on Wi-Fi, charging and idle and the app is not in use, between 22:00 and 05:00 device time.
}
