package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Files the report writes into its results directory.
const (
	MarkdownFile = "latest.md"
	JSONFile     = "latest.json"
)

// WriteFiles writes the plots, the markdown (MarkdownFile, which links the plots) and the raw
// numbers (JSONFile) into dir, creating it if needed. It sets r.Plots.
func WriteFiles(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("failed to create the results directory: %w", err)
	}
	plots, err := WritePlots(dir, r)
	if err != nil {
		return err
	}
	r.Plots = plots
	md, err := os.Create(filepath.Join(dir, MarkdownFile))
	if err != nil {
		return fmt.Errorf("failed to write the report: %w", err)
	}
	if err := WriteMarkdown(md, r); err != nil {
		md.Close()
		return fmt.Errorf("failed to write %s: %w", md.Name(), err)
	}
	if err := md.Close(); err != nil {
		return fmt.Errorf("failed to write %s: %w", md.Name(), err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("failed to encode the report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, JSONFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("failed to write the report: %w", err)
	}
	return nil
}
