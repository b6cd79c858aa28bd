package pruner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pruneguard/pruneguard/internal/cli"
	"github.com/pruneguard/pruneguard/pruner"
)

// conformanceDir holds oc's plans for known cluster states (copied from shared/conformance).
const conformanceDir = "testdata/conformance"

// expectation is a case's expected.json: oc's plan, or the error a case must fail with.
type expectation struct {
	Error            string                  `json:"error"`
	ImageStreamItems []pruner.ReportItem     `json:"imageStreamItems"`
	Images           []string                `json:"images"`
	LayerLinks       []pruner.RepositoryBlob `json:"layerLinks"`
	ManifestLinks    []pruner.RepositoryBlob `json:"manifestLinks"`
	Blobs            []string                `json:"blobs"`
}

// conformanceCases lists the case directories.
func conformanceCases(t testing.TB) []string {
	entries, err := os.ReadDir(conformanceDir)
	if err != nil {
		t.Fatal(err)
	}
	var cases []string
	for _, e := range entries {
		if e.IsDir() {
			cases = append(cases, e.Name())
		}
	}
	if len(cases) == 0 {
		t.Fatal("no conformance cases found")
	}
	return cases
}

// caseArgs returns the command line of a case:
// prune images --from-file CASE/cluster.json --now "$(cat NOW)" $(cat CASE/flags) -o json.
func caseArgs(t testing.TB, name string) []string {
	now, err := os.ReadFile(filepath.Join(conformanceDir, "NOW"))
	if err != nil {
		t.Fatal(err)
	}
	flags, err := os.ReadFile(filepath.Join(conformanceDir, name, "flags"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"prune", "images", "--from-file", filepath.Join(conformanceDir, name, "cluster.json"), "--now", strings.TrimSpace(string(now))}
	args = append(args, strings.Fields(string(flags))...)
	return append(args, "-o", "json")
}

// runCLI runs the pruneguard command tree in-process.
func runCLI(args []string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	cmd := cli.NewRootCommand(cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// TestConformance runs every case of oc's plans through the command line and compares the
// plan with oc's as sets.
func TestConformance(t *testing.T) {
	for _, name := range conformanceCases(t) {
		t.Run(name, func(t *testing.T) {
			var want expectation
			data, err := os.ReadFile(filepath.Join(conformanceDir, name, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatalf("expected.json: %v", err)
			}
			stdout, _, err := runCLI(caseArgs(t, name))
			var got pruner.Report
			if jerr := json.Unmarshal([]byte(stdout), &got); jerr != nil {
				t.Fatalf("stdout is not a JSON report (%v): %q (command error: %v)", jerr, stdout, err)
			}
			if want.Error != "" {
				if err == nil || !strings.Contains(err.Error(), want.Error) {
					t.Errorf("error = %v, want one listing %q", err, want.Error)
				}
				if got.Summary != (pruner.Summary{}) || len(got.ImageStreamItems)+len(got.Images) != 0 {
					t.Errorf("a failed prune planned deletions: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("prune failed: %v", err)
			}
			if !got.DryRun {
				t.Error("dryRun = false without --confirm")
			}
			sameSet(t, "imageStreamItems", got.ImageStreamItems, want.ImageStreamItems)
			sameSet(t, "images", got.Images, want.Images)
			sameSet(t, "layerLinks", got.LayerLinks, want.LayerLinks)
			sameSet(t, "manifestLinks", got.ManifestLinks, want.ManifestLinks)
			sameSet(t, "blobs", got.Blobs, want.Blobs)
		})
	}
}

// sameSet compares two lists as multisets of their JSON forms, naming what differs.
func sameSet[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	g, w := jsonSorted(t, got), jsonSorted(t, want)
	if reflect.DeepEqual(g, w) {
		return
	}
	t.Errorf("%s: got %d, want %d\n  extra:   %v\n  missing: %v", what, len(g), len(w), minus(g, w), minus(w, g))
}

func jsonSorted[T any](t *testing.T, xs []T) []string {
	out := []string{}
	for _, x := range xs {
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

func minus(a, b []string) []string {
	count := map[string]int{}
	for _, x := range b {
		count[x]++
	}
	var out []string
	for _, x := range a {
		if count[x] > 0 {
			count[x]--
			continue
		}
		out = append(out, x)
	}
	return out
}
