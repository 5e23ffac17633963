package sandbox

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sluice-mdm/sluice/agent"
	"github.com/sluice-mdm/sluice/agent/download"
	"github.com/sluice-mdm/sluice/agent/platform/sim"
	"github.com/sluice-mdm/sluice/internal/testapk"
	"github.com/sluice-mdm/sluice/protocol"
)

// DefaultAgentVersion is the version agents report when a DeviceSpec
// names none.
const DefaultAgentVersion = "1.3.0"

// DeviceSpec describes a simulated device to start.
type DeviceSpec struct {
	// ID names the device (letters, digits, '-', '_', ':'). Required and
	// unique within the system.
	ID string
	// Labels are reported to the controller (store=berlin-01,model=P2).
	Labels map[string]string
	// AgentVersion is the agent version reported; "" is
	// DefaultAgentVersion.
	AgentVersion string
	// SDK and TimeZone of the new device; 0 and "" take the sim defaults.
	SDK      int
	TimeZone string
	// Channel is reported to the controller; "" reports none.
	Channel string
	// Installed are internal/testapk files ("pos-1.0.0.apk") seeded on the
	// device before the agent starts, as a factory image ships them.
	Installed []string
	// State are sim assignments applied before the agent starts:
	// "wifi=off", "charging=on", "idle=on", "foreground=com.example.pos".
	State []string
	// PromptAPI starts the agent's local prompt API on a random loopback
	// port (see Device.PromptURL).
	PromptAPI bool
	// DownloadRate limits the device's downloads to this many bytes per
	// second, as a slow network would; 0 is unlimited.
	DownloadRate int64
}

// Device is one simulated device and its agent.
type Device struct {
	sys     *System
	spec    DeviceSpec
	dataDir string
	sim     *sim.Device

	mu         sync.Mutex
	agent      *agent.Agent
	run        *agentRun // nil while stopped
	promptAddr string    // bound on first start, reused on restart
}

// agentRun is one run of an agent.
type agentRun struct {
	stop   context.CancelFunc
	exited chan struct{} // closed when Run returned
	err    error         // Run's error, once exited
}

// StartDevice creates the device's sim directory, seeds its apps and
// state, and starts its agent. It returns once the agent runs (and its
// prompt API listens, with PromptAPI); it does not wait for the agent to
// connect or report.
func (s *System) StartDevice(ctx context.Context, spec DeviceSpec) (*Device, error) {
	if err := protocol.ValidateDeviceID(spec.ID); err != nil {
		return nil, &ConfigError{Field: "DeviceSpec.ID", Value: spec.ID, Want: "1 to 128 letters, digits, '-', '_' or ':'"}
	}
	if spec.DownloadRate < 0 {
		return nil, &ConfigError{Field: "DeviceSpec.DownloadRate", Value: fmt.Sprint(spec.DownloadRate), Want: "zero (unlimited) or bytes per second"}
	}
	for _, f := range spec.Installed {
		if _, err := testAPK(f); err != nil {
			return nil, fmt.Errorf("sandbox: device %s: installed: %w", spec.ID, err)
		}
	}
	spec.AgentVersion = cmpOr(spec.AgentVersion, DefaultAgentVersion)
	spec.Labels = maps.Clone(spec.Labels)
	spec.Installed, spec.State = slices.Clone(spec.Installed), slices.Clone(spec.State)

	s.mu.Lock()
	closed := s.closed
	taken := s.ids[spec.ID]
	if !closed && !taken {
		s.ids[spec.ID] = true // reserved while starting
	}
	s.mu.Unlock()
	switch {
	case closed:
		return nil, errors.New("sandbox: start device: the system is closed")
	case taken:
		return nil, &ConfigError{Field: "DeviceSpec.ID", Value: spec.ID, Want: "an id no other device of the system has"}
	}

	dir := filepath.Join(s.cfg.Dir, "devices", spec.ID)
	if _, err := os.Stat(dir); err == nil {
		s.mu.Lock()
		delete(s.ids, spec.ID)
		s.mu.Unlock()
		return nil, &ConfigError{Field: "DeviceSpec.ID", Value: spec.ID, Want: "a new device: " + dir + " exists already"}
	}
	d, err := s.newDevice(ctx, spec, dir)
	if err != nil {
		_ = os.RemoveAll(dir) // a refused device leaves nothing behind
		s.mu.Lock()
		delete(s.ids, spec.ID)
		s.mu.Unlock()
		return nil, err
	}
	s.mu.Lock()
	closed = s.closed
	if !closed {
		s.devices = append(s.devices, d)
	}
	s.mu.Unlock()
	if closed {
		// Close ran while the device started: it must not outlive it.
		_ = d.Stop()
		return nil, errors.New("sandbox: start device: the system was closed while the device started")
	}
	return d, nil
}

// newDevice creates, seeds and starts the device in dir.
func (s *System) newDevice(ctx context.Context, spec DeviceSpec, dir string) (*Device, error) {
	sd, err := sim.Open(filepath.Join(dir, "sim"), sim.Options{
		Now: s.now, Logger: s.log.With("device_id", spec.ID, "component", "sim"), SDK: spec.SDK, TimeZone: spec.TimeZone,
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: device %s: %w", spec.ID, err)
	}
	for _, f := range spec.Installed {
		a, _ := testapk.Lookup(f)
		p, err := s.apkPath(f)
		if err != nil {
			return nil, fmt.Errorf("sandbox: device %s: %w", spec.ID, err)
		}
		if err := sd.Seed(a.Package, p); err != nil {
			return nil, fmt.Errorf("sandbox: device %s: %w", spec.ID, err)
		}
	}
	if len(spec.State) > 0 {
		if err := sd.Set(ctx, spec.State...); err != nil {
			return nil, fmt.Errorf("sandbox: device %s: state: %w", spec.ID, err)
		}
	}
	d := &Device{sys: s, spec: spec, dataDir: filepath.Join(dir, "data"), sim: sd}
	if spec.PromptAPI {
		d.promptAddr = "127.0.0.1:0"
	}
	if err := d.start(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// apkPath writes a test APK into the system's APK directory once.
func (s *System) apkPath(file string) (string, error) {
	s.apkMu.Lock()
	defer s.apkMu.Unlock()
	p := filepath.Join(s.apkDir, file)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return testapk.WriteTo(s.apkDir, file)
}

// start creates and runs a new agent on the device's data directory.
func (d *Device) start(ctx context.Context) error {
	s := d.sys
	s.mu.Lock()
	natsURL, pub := s.natsURL, s.pub
	s.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run != nil {
		return fmt.Errorf("sandbox: device %s: already running", d.spec.ID)
	}
	a, err := agent.New(agent.Config{
		NATSURL: natsURL, DeviceID: d.spec.ID, DataDir: d.dataDir, ControllerKeys: []ed25519.PublicKey{pub},
		Platform: d.sim, Labels: d.spec.Labels, Channel: d.spec.Channel, AgentVersion: d.spec.AgentVersion,
		SenseInterval: s.cfg.SenseInterval, ReportInterval: s.cfg.ReportInterval, PromptAddr: d.promptAddr,
		MaxReconnectDelay: s.cfg.MaxReconnectDelay,
		// Progress every tenth of a second, so that a watched download moves.
		Download: download.Config{Client: newHTTPClient(d.spec.DownloadRate), ProgressEvery: 100 * time.Millisecond},
		Logger:   s.log.With("component", "agent"), Now: s.now,
	})
	if err != nil {
		return fmt.Errorf("sandbox: device %s: %w", d.spec.ID, err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	r := &agentRun{stop: stop, exited: make(chan struct{})}
	go func() {
		r.err = a.Run(runCtx)
		close(r.exited)
	}()
	if d.promptAddr != "" {
		// Wait for the prompt API to listen, or for the agent to give up.
		waitCtx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-r.exited:
				cancel()
			case <-waitCtx.Done():
			}
		}()
		addr, err := a.PromptAddr(waitCtx)
		cancel()
		if err != nil {
			stop()
			<-r.exited
			if r.err != nil {
				err = r.err
			}
			return fmt.Errorf("sandbox: device %s: prompt api: %w", d.spec.ID, err)
		}
		d.promptAddr = addr
	}
	d.agent, d.run = a, r
	return nil
}

// ID is the device's id.
func (d *Device) ID() string { return d.spec.ID }

// Spec is the device's description, with defaults filled in.
func (d *Device) Spec() DeviceSpec { return d.spec }

// SimDir is the simulated device's directory (for `sluice-agent sim`).
func (d *Device) SimDir() string { return d.sim.Dir() }

// DataDir is the agent's data directory.
func (d *Device) DataDir() string { return d.dataDir }

// Set applies sim assignments ("wifi=on", "foreground=none"); all or none
// apply.
func (d *Device) Set(ctx context.Context, kv ...string) error {
	if err := d.sim.Set(ctx, kv...); err != nil {
		return fmt.Errorf("sandbox: device %s: %w", d.spec.ID, err)
	}
	return nil
}

// Installed reads the device's installed apps from the sim.
func (d *Device) Installed(ctx context.Context) (map[string]protocol.InstalledApp, error) {
	apps, err := d.sim.Installed(ctx)
	if err != nil {
		return nil, fmt.Errorf("sandbox: device %s: %w", d.spec.ID, err)
	}
	return apps, nil
}

// Status is the agent's status (of its last run, when stopped).
func (d *Device) Status() agent.Status {
	d.mu.Lock()
	a := d.agent
	d.mu.Unlock()
	return a.Status()
}

// PromptURL is the prompt API's base URL, http://127.0.0.1:PORT, or ""
// without PromptAPI. It stays the same across restarts.
func (d *Device) PromptURL() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.promptAddr == "" {
		return ""
	}
	return "http://" + d.promptAddr
}

// Stop stops the agent and waits for it (a download keeps its partial
// file, as on a device that is switched off). Stopping a stopped device
// does nothing.
func (d *Device) Stop() error {
	d.mu.Lock()
	r := d.run
	d.run = nil
	d.mu.Unlock()
	if r == nil {
		return nil
	}
	r.stop()
	<-r.exited
	if r.err != nil {
		return fmt.Errorf("sandbox: device %s: %w", d.spec.ID, r.err)
	}
	return nil
}

// Running reports whether the agent runs: started and not stopped, and
// its Run has not returned on its own.
func (d *Device) Running() bool {
	d.mu.Lock()
	r := d.run
	d.mu.Unlock()
	if r == nil {
		return false
	}
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// Restart stops the agent, as SIGTERM would (a download keeps its partial
// file), and starts a new one on the same data and sim directories.
func (d *Device) Restart(ctx context.Context) error {
	if err := d.Stop(); err != nil {
		return err
	}
	d.sys.mu.Lock()
	closed := d.sys.closed
	d.sys.mu.Unlock()
	if closed {
		return errors.New("sandbox: restart device: the system is closed")
	}
	return d.start(ctx)
}
