package cli

import "github.com/spf13/cobra"

func newPruneCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Prune images, as oc adm prune does",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "images",
		Short: "Remove unreferenced images, with the decisions of oc adm prune images",
		RunE:  func(*cobra.Command, []string) error { return errPlanned("prune images") },
	})
	return cmd
}
