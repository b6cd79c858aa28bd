package chart

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The embedded chart must be exactly the chart on disk, minus what .helmignore leaves out (the
// Go files and the tests): a file added to the chart but not to the go:embed list would
// otherwise be missing from every rendering the tests do.
func TestEmbeddedChartIsTheChartOnDisk(t *testing.T) {
	var onDisk []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == "charttest" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			onDisk = append(onDisk, filepath.ToSlash(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var embedded []string
	if err := fs.WalkDir(Files(), ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			embedded = append(embedded, path)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(onDisk)
	slices.Sort(embedded)
	if !slices.Equal(onDisk, embedded) {
		t.Fatalf("embedded files differ from the chart on disk:\n  disk     %v\n  embedded %v", onDisk, embedded)
	}
	for _, path := range embedded {
		want, _ := os.ReadFile(path)
		got, _ := fs.ReadFile(Files(), path)
		if !bytes.Equal(got, want) {
			t.Errorf("embedded %s differs from the file on disk", path)
		}
	}
}

func TestWriteCopiesTheChart(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"Chart.yaml", "templates/_helpers.tpl", ".helmignore", "crds/pruneguard.io_fences.yaml", webhookRulesFile} {
		want, _ := fs.ReadFile(Files(), path)
		got, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil || len(want) == 0 || !bytes.Equal(got, want) {
			t.Errorf("%s was not copied faithfully (err %v)", path, err)
		}
	}
}

func TestWebhookSpecParsesTheRulesFile(t *testing.T) {
	spec, err := Webhook()
	if err != nil {
		t.Fatal(err)
	}
	if spec.Path != "/validate-image-references" {
		t.Errorf("path = %q", spec.Path)
	}
	resources := 0
	for _, r := range spec.Rules {
		resources += len(r.Resources)
		if r.Scope == nil {
			t.Errorf("rule %v has no scope", r.Resources)
		}
	}
	if resources != 17 {
		t.Errorf("the rules name %d resources, want 17", resources)
	}
}
