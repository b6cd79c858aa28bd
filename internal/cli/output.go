package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Output formats accepted by -o.
const (
	outputText  = "text"
	outputTable = "table"
	outputJSON  = "json"
	outputYAML  = "yaml"
)

// addOutputFlag registers -o/--output with the given default and allowed values.
func addOutputFlag(cmd *cobra.Command, target *string, def string, allowed ...string) {
	cmd.Flags().StringVarP(target, "output", "o", def, fmt.Sprintf("Output format: one of %v.", allowed))
}

// validateOutput checks that value is one of allowed, naming the flag in the error.
func validateOutput(value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return fmt.Errorf("invalid value %q for --output: must be one of %v", value, allowed)
}

// printStructured writes v as indented JSON or as YAML.
func printStructured(w io.Writer, format string, v any) error {
	switch format {
	case outputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case outputYAML:
		data, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("failed to encode output as YAML: %w", err)
		}
		_, err = w.Write(data)
		return err
	default:
		return fmt.Errorf("output format %q is not structured", format)
	}
}
