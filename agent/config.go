package agent

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluice-mdm/sluice/agent/download"
	"github.com/sluice-mdm/sluice/agent/platform"
	"github.com/sluice-mdm/sluice/protocol"
)

// Config configures an [Agent]. Zero values select the documented defaults.
type Config struct {
	// NATSURL is the NATS server (or comma-separated servers). Required.
	NATSURL string
	// DeviceID names the device in subjects and directives. Required.
	DeviceID string
	// DataDir holds the directive, the spool, downloads and prompt
	// records. Required; created if missing.
	DataDir string
	// ControllerKeys are the pinned public keys directives must be signed
	// with. At least one is required.
	ControllerKeys []ed25519.PublicKey
	// Platform is the device. Required.
	Platform platform.Platform
	// Labels, Channel and AgentVersion are reported to the controller.
	Labels       map[string]string
	Channel      string
	AgentVersion string
	// SenseInterval is how often the device state is sensed; 30 s if 0.
	SenseInterval time.Duration
	// ReportInterval is how often a report is sent without changes; 15 min
	// if 0.
	ReportInterval time.Duration
	// PromptAddr is where the local prompt API listens: "127.0.0.1:7070",
	// "unix:/path/to/socket", or "" for no prompt API.
	PromptAddr string
	// Download configures the downloader; Dir defaults to DataDir/downloads
	// and Logger and Now to the agent's.
	Download download.Config
	// RetryBudget is the failed attempts one decision gets; 5 if 0.
	RetryBudget int
	// SpoolMaxCount and SpoolMaxBytes bound the outbox; see agent/spool.
	SpoolMaxCount int
	SpoolMaxBytes int64
	// AckTimeout bounds the wait for a JetStream acknowledgement and for a
	// sync reply; 5 s if 0.
	AckTimeout time.Duration
	// ProgressEventEvery is the least time between two DownloadProgress
	// events of one download; 5 s if 0.
	ProgressEventEvery time.Duration
	// MaxReconnectDelay caps the reconnect backoff (which starts at 500 ms
	// and doubles, with jitter); 30 s if 0.
	MaxReconnectDelay time.Duration
	// ShutdownTimeout bounds how long Run waits for in-flight work after
	// its context ends; 5 s if 0.
	ShutdownTimeout time.Duration
	// Logger receives the agent's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Defaults of [Config].
const (
	DefaultSenseInterval      = 30 * time.Second
	DefaultReportInterval     = 15 * time.Minute
	DefaultAckTimeout         = 5 * time.Second
	DefaultProgressEventEvery = 5 * time.Second
	DefaultMaxReconnectDelay  = 30 * time.Second
	DefaultShutdownTimeout    = 5 * time.Second
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("agent: invalid config")

// ConfigError names the configuration field at fault.
type ConfigError struct {
	Field, Value, Want string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("agent: config: %s: %q is not allowed; want %s", e.Field, e.Value, e.Want)
}

func (e *ConfigError) Unwrap() error { return ErrConfig }

func (c *Config) check() error {
	switch {
	case c.NATSURL == "":
		return &ConfigError{Field: "NATSURL", Want: "a NATS URL such as nats://controller:4222"}
	case c.DataDir == "":
		return &ConfigError{Field: "DataDir", Want: "a directory"}
	case len(c.ControllerKeys) == 0:
		return &ConfigError{Field: "ControllerKeys", Want: "at least one Ed25519 public key"}
	case c.Platform == nil:
		return &ConfigError{Field: "Platform", Value: "<nil>", Want: "a platform (android or sim)"}
	}
	if err := protocol.ValidateDeviceID(c.DeviceID); err != nil {
		return &ConfigError{Field: "DeviceID", Value: c.DeviceID, Want: "1 to 128 letters, digits, '-', '_' or ':'"}
	}
	for i, k := range c.ControllerKeys {
		if len(k) != ed25519.PublicKeySize {
			return &ConfigError{Field: fmt.Sprintf("ControllerKeys[%d]", i), Value: fmt.Sprintf("%d bytes", len(k)), Want: "a 32-byte Ed25519 public key"}
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"SenseInterval", c.SenseInterval}, {"ReportInterval", c.ReportInterval}, {"AckTimeout", c.AckTimeout},
		{"ProgressEventEvery", c.ProgressEventEvery}, {"MaxReconnectDelay", c.MaxReconnectDelay}, {"ShutdownTimeout", c.ShutdownTimeout},
	} {
		if d.v < 0 {
			return &ConfigError{Field: d.name, Value: d.v.String(), Want: "zero (the default) or a positive duration"}
		}
	}
	if c.RetryBudget < 0 {
		return &ConfigError{Field: "RetryBudget", Value: fmt.Sprint(c.RetryBudget), Want: "zero (the default) or a positive count"}
	}
	return nil
}

func (c *Config) defaults() {
	def := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.SenseInterval, DefaultSenseInterval)
	def(&c.ReportInterval, DefaultReportInterval)
	def(&c.AckTimeout, DefaultAckTimeout)
	def(&c.ProgressEventEvery, DefaultProgressEventEvery)
	def(&c.MaxReconnectDelay, DefaultMaxReconnectDelay)
	def(&c.ShutdownTimeout, DefaultShutdownTimeout)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}
