package cli

import "github.com/spf13/cobra"

func newExplainCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "explain IMAGE",
		Short: "Explain why an image is kept or would be pruned",
		Long: `explain prints, for each image stream item that holds IMAGE and for the image itself, the rule
that keeps it or the reason it would be pruned, naming the objects that reference it.`,
		RunE: func(*cobra.Command, []string) error { return errPlanned("explain IMAGE") },
	}
}
