package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pruneguard/pruneguard/pkg/version"
)

func newVersionCommand(s Streams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of pruneguard",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := validateOutput(output, outputText, outputJSON, outputYAML); err != nil {
				return err
			}
			info := version.Get()
			if output == outputText {
				_, err := fmt.Fprintln(s.Out, info.String())
				return err
			}
			return printStructured(s.Out, output, info)
		},
	}
	addOutputFlag(cmd, &output, outputText, outputText, outputJSON, outputYAML)
	return cmd
}
