package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-mdm/sluice/internal/cli"
	"github.com/sluice-mdm/sluice/internal/client"
)

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token create|list|delete",
		Short: "Manage API tokens and their roles",
		Long: `token creates, lists and deletes the API tokens the controller accepts. Each
token has one role:

  auditor     reads the decision and audit logs, replays decisions
  operator    reads everything but tokens and logs; applies non-forced
              policies, groups and assignments; adds and pushes releases
  admin       also forced updates, forceAfter, excluded versions and pins;
              deletes objects; reads the logs
  superadmin  also rules (Rego) and tokens

Managing tokens needs the superadmin role: the controller prints a first
superadmin token when it starts on empty data.` + clientHelp,
		Example: `  sluice token create --name ci-deploy --role operator > ci.token
  sluice token list
  sluice token delete ci-deploy`,
		Args: cobra.ArbitraryArgs,
		RunE: needSubcommand,
	}
	cf := addClientFlags(cmd, defaultTimeout)
	cmd.AddCommand(newTokenCreateCommand(cf), newTokenListCommand(cf), newTokenDeleteCommand(cf))
	return cmd
}

func newTokenCreateCommand(cf *clientFlags) *cobra.Command {
	var name, role, output string
	cmd := &cobra.Command{
		Use:   "create --name NAME --role operator|admin|superadmin|auditor [-o table|json]",
		Short: "Create a token and print its secret, once",
		Long: `create makes a new token with a role and prints its secret. The controller
keeps only a hash of it: the secret cannot be shown again. The secret goes
to standard output alone on its last line, and the note to standard error,
so that ` + "`sluice token create ... > file`" + ` writes a file usable with
--token-file.`,
		Example: `  sluice token create --name alice --role admin
  sluice token create --name ci --role operator -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.CheckFormat(output, cli.FormatTable, cli.FormatJSON); err != nil {
				return err
			}
			if name == "" {
				return usage("--name: give the token's name, such as ci-deploy")
			}
			if !slices.Contains(client.Roles(), role) {
				return usage("--role: %q is not one of %s", role, strings.Join(client.Roles(), ", "))
			}
			conn, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			tok, err := conn.CreateToken(conn.ctx, name, role)
			if err != nil {
				return conn.fail(err)
			}
			if output == cli.FormatJSON {
				return cli.WriteJSON(cmd.OutOrStdout(), tok)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Token %q created with the %s role. Its secret is shown this once; keep it safe:\n", tok.Name, tok.Role)
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok.Token)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "token name, shown in the audit log (required)")
	f.StringVar(&role, "role", "", "role: "+strings.Join(client.Roles(), ", ")+" (required)")
	outputFlag(cmd, &output, cli.FormatTable, cli.FormatJSON)
	return cmd
}

func newTokenListCommand(cf *clientFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "list [-o table|json|yaml]",
		Short:   "List tokens (never their secrets)",
		Long:    `list prints every token's name, role, and when and by whom it was created.`,
		Example: `  sluice token list -o json`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.CheckFormat(output, cli.FormatTable, cli.FormatJSON, cli.FormatYAML); err != nil {
				return err
			}
			conn, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			return getTokens(conn, cmd.OutOrStdout(), output, "")
		},
	}
	outputFlag(cmd, &output, cli.FormatTable, cli.FormatJSON, cli.FormatYAML)
	return cmd
}

func newTokenDeleteCommand(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a token: requests with its secret are refused from then on",
		Long: `delete removes a token. Requests that present its secret get 401 at once.
Deleting the token you are using locks you out unless you hold another
superadmin token.`,
		Example: `  sluice token delete ci-deploy`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			if err := conn.DeleteToken(conn.ctx, args[0]); err != nil {
				return conn.fail(err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Token %q deleted.\n", args[0])
			return err
		},
	}
}
