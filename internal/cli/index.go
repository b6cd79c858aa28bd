package cli

import "github.com/spf13/cobra"

func newIndexCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "index",
		Short: "Inspect and verify the reference index",
		Long: `index verify compares the index with a fresh list from the API server; index stats prints its size.`,
		RunE: func(*cobra.Command, []string) error { return errPlanned("index") },
	}
}
