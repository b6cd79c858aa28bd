package pruner_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pruneguard/pruneguard/pruner"
)

// TestPruneCommand checks the command line of "prune images" around the planner: validation
// before any work, the live-cluster path's configuration errors, and oc's text output.
func TestPruneCommand(t *testing.T) {
	dump := filepath.Join(conformanceDir, "keep1", "cluster.json")
	tests := []struct {
		name       string
		args       []string
		wantErr    string
		wantOut    []string
		wantStderr []string
	}{
		{name: "--prune-over-size-limit with an explicit keep flag is rejected with oc's message",
			args: []string{"--from-file", dump, "--prune-over-size-limit", "--keep-tag-revisions=3"}, wantErr: pruner.ErrOverSizeWithKeepFlags.Error()},
		{name: "--certificate-authority with --force-insecure is rejected",
			args: []string{"--from-file", dump, "--certificate-authority=ca.crt", "--force-insecure"}, wantErr: pruner.ErrCAWithForceInsecure.Error()},
		{name: "a malformed --now is rejected before loading anything",
			args: []string{"--from-file", dump, "--now", "yesterday"}, wantErr: "invalid --now"},
		{name: "an unknown output format is rejected",
			args: []string{"--from-file", dump, "-o", "xml"}, wantErr: "invalid value \"xml\" for --output"},
		{name: "without --from-file a missing kubeconfig is named",
			args: []string{"--kubeconfig", "does-not-exist.kubeconfig"}, wantErr: "failed to load --kubeconfig does-not-exist.kubeconfig"},
		{name: "an unknown --registry-dialect is rejected before any work",
			args: []string{"--registry-dialect", "quay"}, wantErr: "invalid --registry-dialect"},
		{name: "--confirm cannot delete from a dump",
			args: []string{"--from-file", dump, "--confirm"}, wantErr: "--confirm cannot be used with --from-file"},
		{name: "a missing dump file names the flag",
			args: []string{"--from-file", "does-not-exist.yaml"}, wantErr: "failed to open --from-file"},
		{name: "a text dry run prints oc's note, lines and summary",
			args:       []string{"--from-file", dump, "--now", "2026-11-27T23:05:18Z", "--keep-tag-revisions=1", "--keep-younger-than=30m"},
			wantOut:    []string{"Deleting 2 items from image stream ns-0/app-1\n", "Deleting layer link sha256:", "Summary: deleted 27 image object(s), deleted 45 image stream tag item(s)"},
			wantStderr: []string{pruner.DryRunNote}},
		{name: "--prune-registry=false prints oc's API-only note and no registry lines",
			args:    []string{"--from-file", dump, "--now", "2026-11-27T23:05:18Z", "--prune-registry=false"},
			wantOut: []string{pruner.APIOnlyNote + "\n", "Summary: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(append([]string{"prune", "images"}, tt.args...))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v", err)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout does not contain %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(strings.Join(tt.args, " "), "--prune-registry=false") && strings.Contains(stdout, "Deleting blob") {
				t.Errorf("--prune-registry=false printed a blob deletion:\n%s", stdout)
			}
		})
	}
	t.Run("--help teaches with examples", func(t *testing.T) {
		stdout, _, err := runCLI([]string{"prune", "images", "--help"})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"Examples:", "--from-file dump.yaml", "--keep-tag-revisions", "--prune-over-size-limit", "--ignore-invalid-refs", "--num-workers"} {
			if !strings.Contains(stdout, w) {
				t.Errorf("help does not contain %q", w)
			}
		}
	})
}

// TestExplainCommand checks explain on a conformance state: an image kept by a referrer, and
// one that the same flags prune, in text and JSON.
func TestExplainCommand(t *testing.T) {
	base := []string{"explain", "--from-file", filepath.Join(conformanceDir, "keep1", "cluster.json"), "--now", "2026-11-27T23:05:18Z", "--keep-tag-revisions=1", "--keep-younger-than=30m"}
	t.Run("an image the prune deletes is explained as pruned, with the rule of its item", func(t *testing.T) {
		stdout, _, err := runCLI(append(base, "sha256:80c5ff83117e7ddaaca8afce1491c358b1ddbfaf0590dcae56ff0420ddee19c2", "-o", "json"))
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Exists bool `json:"exists"`
			Items  []struct {
				Rule     string `json:"rule"`
				Decision string `json:"decision"`
				Message  string `json:"message"`
			} `json:"items"`
		}
		if err := json.Unmarshal([]byte(stdout), &e); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
		found := false
		for _, it := range e.Items {
			if strings.Contains(it.Message, "ns-0/app-1:latest") && it.Decision == "prune" {
				found = true
			}
		}
		if !found {
			t.Errorf("no pruned decision about ns-0/app-1:latest in %s", stdout)
		}
	})
	t.Run("a tag pull spec resolves to the tag's current image and every line has a verdict", func(t *testing.T) {
		stdout, _, err := runCLI(append(base, "ns-0/app-1:latest"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) < 3 || !strings.HasPrefix(lines[0], "Image sha256:") {
			t.Fatalf("unexpected explanation:\n%s", stdout)
		}
		for _, l := range lines[1:] {
			if !strings.Contains(l, "kept: ") && !strings.Contains(l, "pruned: ") {
				t.Errorf("line without a verdict: %q", l)
			}
		}
	})
}
