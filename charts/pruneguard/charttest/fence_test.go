package charttest

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func fence(name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "pruneguard.io/v1alpha1", "kind": "Fence",
		"metadata": map[string]any{"name": name},
		"spec":     spec,
	}}
}

var digestA = "sha256:" + sixtyFourHex

// The Fence CRD of crds/ is what the fence carrier stores; its schema must accept what the
// protocol writes and refuse what would make a fence ambiguous.
func TestFenceCRDAcceptsFencesAndRefusesAmbiguousOnes(t *testing.T) {
	s := startAPIServer(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		spec    map[string]any
		refusal string // "" when the fence is valid
	}{
		{"a fence of one image, its current tag and its blobs is accepted", map[string]any{
			"images": []any{digestA},
			"tags":   []any{map[string]any{"namespace": "team-a", "imageStream": "web", "tag": "v1", "image": digestA}},
			"blobs":  []any{"sha256:" + strings.Repeat("a", 64)},
			"reason": "revision 4 of team-a/web:v1 is beyond --keep-tag-revisions=3",
		}, ""},
		{"a fence of blobs only is accepted", map[string]any{"blobs": []any{digestA}}, ""},
		{"an empty fence is refused", map[string]any{}, "at least one image, tag or blob"},
		{"an image that is not a digest is refused", map[string]any{"images": []any{"team-a/web:v1"}}, "spec.images"},
		{"a tag without its image is refused", map[string]any{
			"tags": []any{map[string]any{"namespace": "team-a", "imageStream": "web", "tag": "v1"}}}, "image"},
		{"an unknown field is refused", map[string]any{"images": []any{digestA}, "imageStream": "web"}, "imageStream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.dryRun(ctx, fence("f", tc.spec))
			switch {
			case tc.refusal == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.refusal != "" && err == nil:
				t.Fatal("accepted")
			case tc.refusal != "" && !strings.Contains(err.Error(), tc.refusal):
				t.Fatalf("refused without mentioning %q: %v", tc.refusal, err)
			}
		})
	}

	t.Run("spec is immutable and each replica records its observation in status", func(t *testing.T) {
		f := fence("immutable", map[string]any{"images": []any{digestA}, "reason": "test"})
		if err := s.client.Create(ctx, f); err != nil {
			t.Fatal(err)
		}
		changed := f.DeepCopy()
		_ = unstructured.SetNestedField(changed.Object, "changed", "spec", "reason")
		if err := s.client.Update(ctx, changed); err == nil || !strings.Contains(err.Error(), "immutable") {
			t.Fatalf("a spec change was not refused: %v", err)
		}
		status := map[string]any{"phase": "Pending", "observedBy": []any{
			map[string]any{"replica": "pg-pruneguard-0", "observedAt": "2026-01-02T03:04:05Z"},
			map[string]any{"replica": "pg-pruneguard-1", "observedAt": "2026-01-02T03:04:06Z"},
		}}
		_ = unstructured.SetNestedField(f.Object, status, "status")
		if err := s.client.Status().Update(ctx, f); err != nil {
			t.Fatalf("status update refused: %v", err)
		}
		_ = unstructured.SetNestedField(f.Object, "Gone", "status", "phase")
		if err := s.client.Status().Update(ctx, f); err == nil {
			t.Fatal("an unknown phase was accepted")
		}
		if err := s.client.Delete(ctx, f); err != nil {
			t.Fatal(err)
		}
	})
}
