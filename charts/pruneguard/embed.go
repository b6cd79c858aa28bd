package chart

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"
)

// files is the chart as helm packages it (see .helmignore): the Go files and the tests beside it
// are left out. The all: prefix keeps templates/_helpers.tpl and .helmignore, whose names would
// otherwise be skipped.
//
//go:embed Chart.yaml values.yaml values.schema.json README.md all:.helmignore all:templates crds files
var files embed.FS

// webhookRulesFile is the path, inside the chart, of the webhook rules file.
const webhookRulesFile = "files/webhook-rules.yaml"

// Files returns the chart's files, rooted at the chart directory.
func Files() fs.FS { return files }

// WebhookSpec is files/webhook-rules.yaml: where the validating handler listens and which
// requests the API server sends it.
type WebhookSpec struct {
	// Path is the HTTP path of the handler on the webhook port, e.g. /validate-image-references.
	Path string `json:"path"`
	// Rules are the operations and resources the webhook configuration matches.
	Rules []admissionregistrationv1.RuleWithOperations `json:"rules"`
}

// Webhook parses the embedded webhook rules file. It fails on unknown fields, so a typo in the
// file breaks every consumer at once rather than silently dropping a rule.
func Webhook() (WebhookSpec, error) {
	data, err := files.ReadFile(webhookRulesFile)
	if err != nil {
		return WebhookSpec{}, fmt.Errorf("failed to read %s from the embedded chart: %w", webhookRulesFile, err)
	}
	var spec WebhookSpec
	if err := yaml.UnmarshalStrict(bytes.TrimSpace(data), &spec); err != nil {
		return WebhookSpec{}, fmt.Errorf("failed to parse %s: %w", webhookRulesFile, err)
	}
	if spec.Path == "" || spec.Path[0] != '/' || len(spec.Rules) == 0 {
		return WebhookSpec{}, fmt.Errorf("%s: want an absolute path and at least one rule, got path %q and %d rules",
			webhookRulesFile, spec.Path, len(spec.Rules))
	}
	return spec, nil
}

// Write copies the chart into dir, which must exist, so that helm can read it from disk.
func Write(dir string) error {
	return fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := files.ReadFile(path)
		if err != nil {
			return fmt.Errorf("failed to read %s from the embedded chart: %w", path, err)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return fmt.Errorf("failed to write chart file %s: %w", target, err)
		}
		return nil
	})
}
