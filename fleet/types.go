package fleet

// DeviceGroup is a named set of devices: those whose labels match Selector,
// plus the explicit Members. A group with neither matches nothing.
type DeviceGroup struct {
	Name string `json:"name"`
	// Selector is a Kubernetes-style label selector such as
	// "store=berlin-01,model in (P2,V2)".
	Selector string `json:"selector,omitempty"`
	// Members lists device ids that belong whatever their labels.
	Members []string `json:"members,omitempty"`
}

// Assignment applies one policy to some groups. For a (device, app) the
// applicable assignment with the highest Priority wins.
type Assignment struct {
	Name string `json:"name"`
	// Policy names the UpdatePolicy assigned.
	Policy string `json:"policy"`
	// App is the package the policy governs, filled in from the policy when
	// assignments are indexed.
	App      string   `json:"app,omitempty"`
	Groups   []string `json:"groups"`
	Priority int      `json:"priority"`
}
