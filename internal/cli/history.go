package cli

import "github.com/spf13/cobra"

func newHistoryCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "history IMAGE",
		Short: "Show what pruneguard did to an image and when",
		Long:  `history prints the audit trail of IMAGE: when it was fenced, denied to whom, kept by which rule, or deleted.`,
		RunE:  func(*cobra.Command, []string) error { return errPlanned("history IMAGE") },
	}
}
