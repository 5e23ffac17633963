package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/agent/platform"
	"github.com/sluice-mdm/sluice/agent/platform/sim"
	"github.com/sluice-mdm/sluice/internal/cli"
)

func newSimCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Change or show the simulated device of a data directory",
		Long: `The sim platform keeps a simulated Android device in DATA/sim. These commands
change its sensed state while the agent runs, and show it.`,
		Example: "  sluice-agent sim install --data ./agent pos-1.0.0.apk\n  sluice-agent sim set --data ./agent wifi=on charging=on idle=on foreground=none\n  sluice-agent sim show --data ./agent",
	}
	var data string
	set := &cobra.Command{
		Use:   "set --data DIR key=value...",
		Short: "Set wifi, charging, idle (on|off), foreground (package|none), sdk, storage or tz",
		Example: `  sluice-agent sim set --data ./agent wifi=on charging=on idle=on
  sluice-agent sim set --data ./agent foreground=com.example.pos sdk=30 tz=Europe/Berlin storage=2GiB`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := openSim(data)
			if err != nil {
				return err
			}
			if err := d.Set(cmd.Context(), args...); err != nil {
				return cli.WithCode(cli.ExitInvalid, err)
			}
			return showSim(cmd, d)
		},
	}
	show := &cobra.Command{
		Use:     "show --data DIR",
		Short:   "Show the simulated device's state and installed apps",
		Example: "  sluice-agent sim show --data ./agent",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := openSim(data)
			if err != nil {
				return err
			}
			return showSim(cmd, d)
		},
	}
	var allowDowngrade bool
	install := &cobra.Command{
		Use:   "install --data DIR FILE.apk",
		Short: "Install an APK on the simulated device, with Android's PackageManager rules",
		Long: `install puts an app on the simulated device as "adb install -r" would: the
signature must verify for the device's SDK, an update must come from the same
signing certificate with a versionCode at least as high (lower only with
--allow-downgrade), and minSdk must not exceed the device's. Use it to set up
the apps a device starts with; the agent installs updates itself.`,
		Example: "  sluice-agent sim install --data ./agent internal/testapk/files/pos-1.0.0.apk",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := openSim(data)
			if err != nil {
				return err
			}
			if err := d.Install(cmd.Context(), args[0], platform.InstallOptions{AllowDowngrade: allowDowngrade}); err != nil {
				return cli.WithCode(cli.ExitInvalid, fmt.Errorf("install %s: %w", args[0], err))
			}
			return showSim(cmd, d)
		},
	}
	install.Flags().BoolVar(&allowDowngrade, "allow-downgrade", false, "allow a lower versionCode than the installed one (pm install -d)")
	for _, c := range []*cobra.Command{set, show, install} {
		c.Flags().StringVar(&data, "data", "", "the agent's data directory (the device is in DATA/sim)")
	}
	cmd.AddCommand(set, show, install)
	return cmd
}

func openSim(data string) (*sim.Device, error) {
	if data == "" {
		return nil, cli.Errorf(cli.ExitUsage, "data: missing; set --data DIR, the agent's data directory")
	}
	// The commands print the device themselves; the sim's own logs would
	// only repeat it.
	d, err := sim.Open(simDir(data), sim.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, cli.WithCode(cli.ExitInvalid, err)
	}
	return d, nil
}

func showSim(cmd *cobra.Command, d *sim.Device) error {
	ctx := cmd.Context()
	info, err := d.Info(ctx)
	if err != nil {
		return err
	}
	st, err := d.State(ctx)
	if err != nil {
		return err
	}
	apps, err := d.Installed(ctx)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "sdk=%d tz=%s wifi=%s charging=%s idle=%s foreground=%s storage=%s\n",
		info.SDK, info.TimeZone, onOff(st.Unmetered), onOff(st.Charging), onOff(st.Idle), orDash(st.ForegroundApp), cli.Bytes(st.FreeStorage))
	tb := cli.NewTable("package", "version", "signer")
	pkgs := make([]string, 0, len(apps))
	for p := range apps {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	for _, p := range pkgs {
		a := apps[p]
		signer := strings.Join(a.SignerSHA256, ",")
		if len(signer) > 16 {
			signer = signer[:16] + "…"
		}
		tb.Row(p, version2(a.VersionName, a.VersionCode), signer)
	}
	return tb.Write(w)
}
