package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/apk"
	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/client"
)

func newReleaseCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release add|push",
		Short: "Admit a release: by download link, or by uploading the APK",
		Long: `release admits a new version of an app. The controller reads the package,
versionCode, versionName and minSdk from the APK itself, verifies its v1/v2/v3
signature, records the signing-certificate fingerprints, the SHA-256 and the
size. Releases are immutable: the same app and versionCode with another
SHA-256 is refused.

  add   the controller downloads the APK once from a link; devices download
        it from that link (and its mirrors)
  push  this command uploads the APK; the controller stores it and serves it
        to devices itself` + clientHelp,
		Example: `  sluice release add --url https://cdn.example.com/pos-5.1.0.apk --track beta
  sluice release push build/pos-5.1.0.apk --notes "Fixes receipt printing"`,
		Args: cobra.ArbitraryArgs,
		RunE: needSubcommand,
	}
	cf := addClientFlags(cmd, defaultReleaseTimeout)
	cmd.AddCommand(newReleaseAddCommand(cf), newReleasePushCommand(cf))
	return cmd
}

func newReleaseAddCommand(cf *clientFlags) *cobra.Command {
	var req client.AddRelease
	var output string
	cmd := &cobra.Command{
		Use:   "add --url URL [--mirror URL]... [--track T] [--notes TEXT] [--app-store-id ID] [-o table|json|yaml]",
		Short: "Admit a release from a download link",
		Long: `add asks the controller to download the APK at --url once and admit it. A
Dropbox share link (dl=0, which answers with a preview page) is rewritten to
its direct download form (dl=1), with a warning; a link that answers with an
HTML page or an error status is refused. Mirrors are recorded after the
link, and devices try them in turn.`,
		Example: `  sluice release add --url 'https://www.dropbox.com/s/abc/pos-5.1.0.apk?dl=0' \
      --mirror https://mirror.example.com/pos-5.1.0.apk --track production`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.CheckFormat(output, cli.FormatTable, cli.FormatJSON, cli.FormatYAML); err != nil {
				return err
			}
			if req.URL == "" {
				return usage("--url: give the APK's download link")
			}
			conn, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			adm, err := conn.AddRelease(conn.ctx, req)
			if err != nil {
				return conn.fail(err)
			}
			return writeAdmission(cmd, output, adm)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.URL, "url", "", "the APK's download link (required)")
	f.StringArrayVar(&req.Mirrors, "mirror", nil, "another link to the same APK (repeatable)")
	f.StringVar(&req.Track, "track", "", "release track (default production)")
	f.StringVar(&req.Notes, "notes", "", "release notes shown in update prompts")
	f.StringVar(&req.AppStoreID, "app-store-id", "", "numeric App Store id of the iOS version of the app")
	outputFlag(cmd, &output, cli.FormatTable, cli.FormatJSON, cli.FormatYAML)
	return cmd
}

func newReleasePushCommand(cf *clientFlags) *cobra.Command {
	var track, notes, output string
	cmd := &cobra.Command{
		Use:   "push FILE.apk [--track T] [--notes TEXT] [-o table|json|yaml]",
		Short: "Upload an APK and admit it; the controller serves it to devices",
		Long: `push checks FILE.apk here first (a readable, signed APK), then streams it
to the controller with a progress bar, which checks it again, keeps it in
its object store and serves it at /artifacts/SHA256 with Range requests, so
a fleet needs no other file server.`,
		Example: `  sluice release push build/outputs/apk/release/pos-5.1.0.apk --track beta`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.CheckFormat(output, cli.FormatTable, cli.FormatJSON, cli.FormatYAML); err != nil {
				return err
			}
			return runReleasePush(cmd, cf, args[0], track, notes, output)
		},
	}
	f := cmd.Flags()
	f.StringVar(&track, "track", "", "release track (default production)")
	f.StringVar(&notes, "notes", "", "release notes shown in update prompts")
	outputFlag(cmd, &output, cli.FormatTable, cli.FormatJSON, cli.FormatYAML)
	return cmd
}

func runReleasePush(cmd *cobra.Command, cf *clientFlags, path, track, notes, output string) error {
	f, err := os.Open(path)
	if err != nil {
		return cli.Errorf(cli.ExitInvalid, "%s: %v", path, errors.Unwrap(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return cli.Errorf(cli.ExitInvalid, "%s is not a regular file; want an APK", path)
	}
	// A signature that does not verify at the APK's own minSdk may still
	// verify from a later API level: the controller decides that one.
	if _, err := apk.Inspect(path, 0); errors.Is(err, apk.ErrMalformed) || errors.Is(err, apk.ErrUnsigned) {
		return cli.Errorf(cli.ExitInvalid, "%s is not an APK the controller would admit: %s", path, strings.TrimPrefix(err.Error(), "apk: "))
	}
	size := fi.Size()
	conn, err := cf.connect(cmd)
	if err != nil {
		return err
	}
	defer conn.Close()
	var body io.Reader = f
	var bar *cli.Bar
	if output == cli.FormatTable {
		out := cmd.OutOrStdout()
		bar = &cli.Bar{W: out, Label: filepath.Base(path), Terminal: isTerminal(out)}
		body = &progressReader{r: f, total: size, bar: bar, start: time.Now(), now: time.Now}
		bar.Update(0, size, 0, 0)
	}
	adm, err := conn.UploadRelease(conn.ctx, client.Upload{APK: body, Size: size, Track: track, Notes: notes})
	if err != nil {
		if bar != nil && bar.Terminal {
			fmt.Fprintln(cmd.OutOrStdout())
		}
		return conn.fail(err)
	}
	return writeAdmission(cmd, output, adm)
}

// progressReader reports the bytes read so far to a progress bar.
type progressReader struct {
	r     io.Reader
	done  int64
	total int64
	bar   *cli.Bar
	start time.Time
	now   func() time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.done += int64(n)
		var speed float64
		var left time.Duration
		if el := p.now().Sub(p.start).Seconds(); el > 0 {
			speed = float64(p.done) / el
			if speed > 0 && p.done < p.total {
				left = time.Duration(float64(p.total-p.done) / speed * float64(time.Second))
			}
		}
		p.bar.Update(p.done, p.total, speed, left)
	}
	return n, err
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// writeAdmission prints the warnings (to standard error), then the
// release.
func writeAdmission(cmd *cobra.Command, output string, adm client.Admission) error {
	for _, w := range adm.Warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
	}
	out := cmd.OutOrStdout()
	switch output {
	case cli.FormatJSON:
		return cli.WriteJSON(out, adm)
	case cli.FormatYAML:
		set, err := manifestSet([]client.Record{adm.Record})
		if err != nil {
			return err
		}
		return encodeManifests(out, set)
	}
	rel, err := adm.Release()
	if err != nil {
		return err
	}
	what := "admitted"
	if adm.Action == client.ApplyUnchanged {
		what = "was already admitted, unchanged"
	}
	ew := &errWriter{w: out}
	ew.printf("Release %s %s (%d) %s (revision %d)\n", rel.App, rel.VersionName, rel.VersionCode, what, adm.Revision)
	t, err := recordTable(client.Releases, []client.Record{adm.Record})
	if err != nil {
		return err
	}
	ew.table(t)
	for i, u := range rel.Artifact.URLs {
		label := "mirror"
		if i == 0 {
			label = "url"
		}
		ew.printf("%-8s%s\n", label+":", u)
	}
	if len(rel.Artifact.SignerSHA256) > 0 {
		ew.printf("%-8s%s\n", "signer:", rel.Artifact.SignerSHA256[0])
	}
	return ew.err
}
