package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/internal/client"
)

func newDeleteCommand() *cobra.Command {
	var revision uint64
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "delete KIND NAME [--revision N]",
		Short: "Delete a release, policy, group, assignment, rule or device",
		Long: `delete removes one stored object. KIND is releases, policies, groups,
assignments, rules or devices (or their singular, or the manifest kind).

With --revision the object is deleted only if it is still at that revision
(as ` + "`sluice get`" + ` shows it); a newer revision is a conflict, so that a change
made in the meantime is not lost unseen. A policy or group that an
assignment still names cannot be deleted. Deleting needs the admin role;
deleting a rule, superadmin.` + clientHelp,
		Example: `  sluice delete assignment berlin-pos
  sluice delete policy pos-beta --revision 7`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := client.ParseKind(args[0])
			if err != nil {
				return usage("%v", err)
			}
			conn, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			d, err := conn.Delete(conn.ctx, kind, args[1], revision)
			if err != nil {
				return conn.fail(err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s/%s deleted (revision %d)\n", d.Kind, d.Name, d.Revision)
			return err
		},
	}
	cmd.Flags().Uint64Var(&revision, "revision", 0, "delete only if the object is at this revision")
	cf = addClientFlags(cmd, defaultTimeout)
	return cmd
}
