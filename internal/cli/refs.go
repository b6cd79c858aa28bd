package cli

import "github.com/spf13/cobra"

func newRefsCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "refs IMAGE",
		Short: "List the objects that reference an image",
		Long: `refs lists every object that references IMAGE (a digest, a pull spec or NAMESPACE/STREAM:TAG),
with the field that holds the reference and whether it is pending or confirmed.`,
		RunE: func(*cobra.Command, []string) error { return errPlanned("refs IMAGE") },
	}
}
