package cli

import "github.com/spf13/cobra"

func newServeCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the webhook, the tracker and the continuous pruner",
		Long: `serve runs pruneguard in the cluster: the admission webhook that records image references as
objects are created and refuses references to images being pruned, the informers that keep the
reference index equal to the cluster, and, on the leader, the continuous pruner.`,
		RunE: func(*cobra.Command, []string) error { return errPlanned("serve") },
	}
}
