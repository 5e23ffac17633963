package main

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/protocol"
)

// settings are the agent's settings, from a YAML config file and flags.
// The YAML keys are the flag names in camelCase.
type settings struct {
	NATS           string            `json:"nats,omitempty"`
	DeviceID       string            `json:"deviceId,omitempty"`
	Data           string            `json:"data,omitempty"`
	ControllerKey  []string          `json:"controllerKey,omitempty"`
	Platform       string            `json:"platform,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Channel        string            `json:"channel,omitempty"`
	PromptAddr     *string           `json:"promptAddr,omitempty"`
	SenseInterval  string            `json:"senseInterval,omitempty"`
	ReportInterval string            `json:"reportInterval,omitempty"`
	LogFormat      string            `json:"logFormat,omitempty"`
	LogLevel       string            `json:"logLevel,omitempty"`
}

// DefaultPromptAddr is where the prompt API listens unless told otherwise.
const DefaultPromptAddr = "127.0.0.1:7070"

// runFlags are the flags of run and install.
type runFlags struct {
	config string
	s      settings
	labels string
	keys   []string
	prompt string
}

func (f *runFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "YAML file with the settings below (flags override it)")
	fl.StringVar(&f.s.NATS, "nats", "", "NATS URL of the controller, e.g. nats://controller:4222")
	fl.StringVar(&f.s.DeviceID, "device-id", "", "this device's id (letters, digits, '-', '_', ':')")
	fl.StringVar(&f.s.Data, "data", "", "data directory (directive, spool, downloads; the sim device lives in DATA/sim)")
	fl.StringSliceVar(&f.keys, "controller-key", nil, "PEM file of a controller public key (repeatable)")
	fl.StringVar(&f.s.Platform, "platform", "", "android or sim")
	fl.StringVar(&f.labels, "labels", "", "device labels, k=v,k=v")
	fl.StringVar(&f.s.Channel, "channel", "", "release channel reported to the controller")
	fl.StringVar(&f.prompt, "prompt-addr", DefaultPromptAddr, `local prompt API: 127.0.0.1:PORT, unix:/path, or "" for none`)
	fl.StringVar(&f.s.SenseInterval, "sense-interval", "", "how often to sense the device state (default 30s)")
	fl.StringVar(&f.s.ReportInterval, "report-interval", "", "how often to report without changes (default 15m)")
	fl.StringVar(&f.s.LogFormat, "log-format", "", "text or json (default text)")
	fl.StringVar(&f.s.LogLevel, "log-level", "", "debug, info, warn or error (default info)")
}

// resolved are checked settings, ready for agent.Config.
type resolved struct {
	settings
	keys           []ed25519.PublicKey
	promptAddr     string
	senseInterval  time.Duration
	reportInterval time.Duration
}

// loadConfigFile reads a YAML config file, refusing unknown keys.
func loadConfigFile(path string) (settings, error) {
	var s settings
	b, err := os.ReadFile(path)
	if err != nil {
		return s, cli.Errorf(cli.ExitInvalid, "config %s: %w", path, err)
	}
	if err := yaml.UnmarshalStrict(b, &s); err != nil {
		return s, cli.Errorf(cli.ExitInvalid, "config %s: %v; allowed keys: nats, deviceId, data, controllerKey, platform, labels, channel, promptAddr, senseInterval, reportInterval, logFormat, logLevel", path, err)
	}
	return s, nil
}

// parseLabels parses "k=v,k=v".
func parseLabels(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, cli.Errorf(cli.ExitUsage, "--labels: %q is not key=value; want k=v,k=v", part)
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m, nil
}

// resolve merges the config file and the flags that were set, and checks
// the result.
func (f *runFlags) resolve(cmd *cobra.Command) (*resolved, error) {
	var s settings
	if f.config != "" {
		var err error
		if s, err = loadConfigFile(f.config); err != nil {
			return nil, err
		}
		// Relative paths in a config file are relative to the file.
		base := filepath.Dir(f.config)
		for i, k := range s.ControllerKey {
			if k != "" && !filepath.IsAbs(k) {
				s.ControllerKey[i] = filepath.Join(base, k)
			}
		}
		if s.Data != "" && !filepath.IsAbs(s.Data) {
			s.Data = filepath.Join(base, s.Data)
		}
	}
	changed := cmd.Flags().Changed
	for name, set := range map[string]func(){
		"nats":            func() { s.NATS = f.s.NATS },
		"device-id":       func() { s.DeviceID = f.s.DeviceID },
		"data":            func() { s.Data = f.s.Data },
		"controller-key":  func() { s.ControllerKey = f.keys },
		"platform":        func() { s.Platform = f.s.Platform },
		"channel":         func() { s.Channel = f.s.Channel },
		"prompt-addr":     func() { p := f.prompt; s.PromptAddr = &p },
		"sense-interval":  func() { s.SenseInterval = f.s.SenseInterval },
		"report-interval": func() { s.ReportInterval = f.s.ReportInterval },
		"log-format":      func() { s.LogFormat = f.s.LogFormat },
		"log-level":       func() { s.LogLevel = f.s.LogLevel },
	} {
		if changed(name) {
			set()
		}
	}
	if changed("labels") {
		m, err := parseLabels(f.labels)
		if err != nil {
			return nil, err
		}
		s.Labels = m
	}
	return check(s)
}

func check(s settings) (*resolved, error) {
	r := &resolved{settings: s, promptAddr: DefaultPromptAddr}
	usage := func(format string, args ...any) error { return cli.Errorf(cli.ExitUsage, format, args...) }
	switch {
	case s.NATS == "":
		return nil, usage("nats: missing; set --nats nats://HOST:4222 or nats: in the config file")
	case s.DeviceID == "":
		return nil, usage("device-id: missing; set --device-id or deviceId: in the config file")
	case s.Data == "":
		return nil, usage("data: missing; set --data DIR or data: in the config file")
	case len(s.ControllerKey) == 0:
		return nil, usage("controller-key: missing; set --controller-key FILE (the controller's public key PEM)")
	}
	if err := protocol.ValidateDeviceID(s.DeviceID); err != nil {
		return nil, cli.WithCode(cli.ExitUsage, fmt.Errorf("device-id: %w", err))
	}
	if s.Platform != "android" && s.Platform != "sim" {
		return nil, usage("platform: %q is not one of android, sim", s.Platform)
	}
	switch s.LogFormat {
	case "", "text", "json":
	default:
		return nil, usage("log-format: %q is not one of text, json", s.LogFormat)
	}
	switch s.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return nil, usage("log-level: %q is not one of debug, info, warn, error", s.LogLevel)
	}
	for _, d := range []struct {
		name string
		v    string
		dst  *time.Duration
	}{{"sense-interval", s.SenseInterval, &r.senseInterval}, {"report-interval", s.ReportInterval, &r.reportInterval}} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil || v <= 0 {
			return nil, usage("%s: %q is not a positive duration such as 30s or 15m", d.name, d.v)
		}
		*d.dst = v
	}
	if s.PromptAddr != nil {
		r.promptAddr = *s.PromptAddr
	}
	for _, path := range s.ControllerKey {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, cli.Errorf(cli.ExitInvalid, "controller-key: %w", err)
		}
		k, err := protocol.ParsePublicKey(b)
		if err != nil {
			return nil, cli.Errorf(cli.ExitInvalid, "controller-key %s: %w", path, err)
		}
		r.keys = append(r.keys, k)
	}
	return r, nil
}

// parseRunArgs parses run's flags and config file without starting
// anything.
func parseRunArgs(args []string) (*resolved, error) {
	f := &runFlags{}
	cmd := &cobra.Command{Use: "run"}
	f.register(cmd)
	if err := cmd.ParseFlags(args); err != nil {
		return nil, cli.WithCode(cli.ExitUsage, err)
	}
	return f.resolve(cmd)
}
