package cli

import "github.com/spf13/cobra"

func newImagesCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "images",
		Short: "List images by whether anything references them",
		Long:  `images lists the images of the index, filtered by --unreferenced or --referenced.`,
		RunE:  func(*cobra.Command, []string) error { return errPlanned("images") },
	}
}
