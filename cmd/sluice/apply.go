package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/client"
	"github.com/sluice-mdm/sluice/manifest"
)

// stdinName names manifests read from standard input in errors.
const stdinName = "stdin"

type applyOptions struct {
	files  []string
	dryRun bool
	output string
}

func newApplyCommand() *cobra.Command {
	var o applyOptions
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|- ... [--dry-run] [-o table|json|yaml]",
		Short: "Create or update releases, policies, groups, assignments and rules from manifests",
		Long: `apply sends manifest files to the controller, which validates them against
what it stores, writes every object with compare-and-set on its revision, and
re-evaluates the devices the change affects.

Files are first read and checked here, so that a typo is reported with its
file and line before anything is sent; then they are sent with their names,
so that the controller's errors name them too. A directory contributes its
*.yaml, *.yml, *.json and *.rego files (not its sub-directories); "-" reads
standard input, such as the output of ` + "`sluice get ... -o yaml`" + `.

apply prints what happened to each object, then how many devices' decisions
change and a sample of them. With --dry-run nothing is written: the same
answer says what would happen. A manifest annotated with
sluice.dev/revision is written only if the stored object is still at that
revision (` + "`sluice get -o yaml`" + ` adds it), so edits of a stale copy are
refused with a conflict.` + clientHelp,
		Example: `  # Preview, then apply, a directory of manifests
  sluice apply -f examples/releases/ -f examples/fleet/ --dry-run
  sluice apply -f examples/releases/ -f examples/fleet/

  # Edit a policy in place
  sluice get policies pos-stable -o yaml > p.yaml && $EDITOR p.yaml && sluice apply -f p.yaml

  # Round trip through standard input
  sluice get policies pos-stable -o yaml | sluice apply -f -`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return runApply(cmd, o, cf) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "manifest file, directory, or - for standard input (repeatable)")
	f.BoolVar(&o.dryRun, "dry-run", false, "validate and show the impact without changing anything")
	outputFlag(cmd, &o.output, cli.FormatTable, cli.FormatJSON, cli.FormatYAML)
	cf = addClientFlags(cmd, defaultTimeout)
	return cmd
}

func runApply(cmd *cobra.Command, o applyOptions, cf *clientFlags) error {
	if err := cli.CheckFormat(o.output, cli.FormatTable, cli.FormatJSON, cli.FormatYAML); err != nil {
		return err
	}
	if len(o.files) == 0 {
		return usage("-f: give at least one manifest file, directory, or - for standard input")
	}
	files, err := readManifestFiles(o.files, cmd.InOrStdin())
	if err != nil {
		return err
	}
	if err := checkManifestFiles(files); err != nil {
		return err
	}
	conn, err := cf.connect(cmd)
	if err != nil {
		return err
	}
	defer conn.Close()
	res, err := conn.Apply(conn.ctx, files, o.dryRun)
	if err != nil {
		return conn.fail(err)
	}
	out := cmd.OutOrStdout()
	switch o.output {
	case cli.FormatJSON:
		return cli.WriteJSON(out, res)
	case cli.FormatYAML:
		return cli.WriteYAML(out, res)
	}
	return writeApplyResult(out, res)
}

// readManifestFiles reads every file the -f values name: files as they
// are, directories' manifest and Rego files in name order, "-" once from
// stdin.
func readManifestFiles(paths []string, stdin io.Reader) ([]client.File, error) {
	var files []client.File
	var errs []error
	readStdin := false
	for _, p := range paths {
		if p == "-" {
			if readStdin {
				errs = append(errs, errors.New("-f: - is given twice; standard input can be read once"))
				continue
			}
			readStdin = true
			data, err := io.ReadAll(stdin)
			if err != nil {
				errs = append(errs, fmt.Errorf("-f -: read standard input: %w", err))
				continue
			}
			files = append(files, client.File{Name: stdinName, Data: data})
			continue
		}
		names, err := manifestPaths(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil {
				errs = append(errs, fmt.Errorf("-f: %w", err))
				continue
			}
			files = append(files, client.File{Name: name, Data: data})
		}
	}
	if len(errs) > 0 {
		return nil, cli.WithCode(cli.ExitInvalid, errors.Join(errs...))
	}
	if len(files) == 0 {
		return nil, cli.Errorf(cli.ExitInvalid, "-f: %s holds no *.yaml, *.yml, *.json or *.rego files", strings.Join(paths, ", "))
	}
	return files, nil
}

// manifestPaths lists the files one -f value names, as manifest.LoadFiles
// reads them.
func manifestPaths(p string) ([]string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("-f: %w", err)
	}
	if !fi.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("-f: %w", err)
	}
	var out []string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.Type().IsRegular() && slices.Contains([]string{".yaml", ".yml", ".json", ".rego"}, ext) {
			out = append(out, filepath.Join(p, e.Name()))
		}
	}
	return out, nil
}

// checkManifestFiles parses each file as the controller will, so that
// mistakes are reported before anything is sent, and refuses what apply
// cannot take: Device manifests and an object defined twice.
func checkManifestFiles(files []client.File) error {
	var errs []error
	seen := map[string]string{}
	for _, f := range files {
		set, err := manifest.Parse(f.Name, f.Data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, d := range set.Devices {
			errs = append(errs, fmt.Errorf("%s: Device %q cannot be applied: devices enter the inventory from their own reports (use it with `sluice eval --device`)", d.Source, d.Meta.Name))
		}
		for _, m := range set.Manifests() {
			key := m.Kind + "/" + m.Metadata.Name
			if prev, dup := seen[key]; dup && prev != f.Name {
				errs = append(errs, fmt.Errorf("%s: %s %q: metadata.name: %q is already defined in %s; want one %s per name", f.Name, m.Kind, m.Metadata.Name, m.Metadata.Name, prev, m.Kind))
				continue
			}
			seen[key] = f.Name
		}
	}
	if len(errs) > 0 {
		return cli.WithCode(cli.ExitInvalid, errors.Join(errs...))
	}
	return nil
}

// writeApplyResult prints one line per object, then the impact.
func writeApplyResult(w io.Writer, res client.ApplyResult) error {
	ew := &errWriter{w: w}
	for _, o := range res.Objects {
		switch {
		case o.Action == client.ApplyUnchanged:
			ew.printf("%s/%s unchanged (revision %d)\n", o.Kind, o.Name, o.Revision)
		case res.DryRun && o.Revision > 0:
			ew.printf("%s/%s would be %s (now at revision %d)\n", o.Kind, o.Name, o.Action, o.Revision)
		case res.DryRun:
			ew.printf("%s/%s would be %s\n", o.Kind, o.Name, o.Action)
		default:
			ew.printf("%s/%s %s (revision %d)\n", o.Kind, o.Name, o.Action, o.Revision)
		}
	}
	if imp := res.Impact; imp != nil {
		verb := "change"
		if res.DryRun {
			verb = "would change"
		}
		ew.printf("\n")
		if imp.Changed == 0 {
			ew.printf("No decision %s on the %d %s evaluated.\n", verb, imp.Devices, plural(imp.Devices, "device", "devices"))
		} else {
			ew.printf("%d %s %s on the %d %s evaluated:\n", imp.Changed, plural(imp.Changed, "decision", "decisions"), verb,
				imp.Devices, plural(imp.Devices, "device", "devices"))
			t := cli.NewTable("device", "app", "from", "to", "reason")
			for _, c := range imp.Sample {
				t.Row(c.Device, c.App, c.From, c.To, c.Reason)
			}
			ew.table(t)
			if more := imp.Changed - len(imp.Sample); more > 0 {
				ew.printf("... and %d more\n", more)
			}
		}
	}
	if res.DryRun {
		ew.printf("\nDry run: nothing was changed.\n")
	}
	return ew.err
}

// plural picks the word for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// errWriter remembers the first write error, so that printing code stays
// readable and the error still reaches the exit code.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

func (e *errWriter) table(t *cli.Table) {
	if e.err == nil {
		e.err = t.Write(e.w)
	}
}
