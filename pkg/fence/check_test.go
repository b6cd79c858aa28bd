package fence_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pruneguard/pruneguard/pkg/extract"
	"github.com/pruneguard/pruneguard/pkg/fence"
	"github.com/pruneguard/pruneguard/pkg/model"
)

const (
	dA    = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	dB    = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	dOld  = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	blobL = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
)

type staticSource struct{ s *fence.Set }

func (s staticSource) Fences() *fence.Set { return s.s }

func fences() []fence.Fence {
	pruned := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	return []fence.Fence{
		{ObjectMeta: metav1.ObjectMeta{Name: "prune-live"}, Spec: fence.Spec{
			Images: []string{dA}, Blobs: []string{blobL}, Reason: "beyond --keep-tag-revisions=3",
			Tags: []fence.Tag{{Namespace: "team", ImageStream: "web", Tag: "v1", Image: dA}},
		}, Status: fence.Status{Phase: fence.PhaseEnforced}},
		{ObjectMeta: metav1.ObjectMeta{Name: "prune-old"}, Spec: fence.Spec{
			Images: []string{dOld}, Tags: []fence.Tag{{Namespace: "team", ImageStream: "web", Tag: "old", Image: dOld}},
		}, Status: fence.Status{Phase: fence.PhaseTombstoned, PrunedAt: &pruned}},
		{ObjectMeta: metav1.ObjectMeta{Name: "prune-lifting"}, Spec: fence.Spec{Images: []string{dB}},
			Status: fence.Status{Phase: fence.PhaseLifting}},
	}
}

func pod(refs ...model.Ref) extract.Result {
	return extract.Result{Kind: model.KindPod, Referrer: &model.Object{Key: model.ObjectKey{Kind: model.KindPod, Namespace: "team", Name: "p"}, Refs: refs}}
}

func digestRef(d string) model.Ref { return model.Ref{Repo: "team/web", Digest: d} }
func tagRef(tag string) model.Ref  { return model.Ref{Repo: "team/web", Tag: tag} }

func TestChecker(t *testing.T) {
	old := pod(digestRef(dA))
	for _, tc := range []struct {
		name string
		req  fence.Request
		want []string // substrings of the message; nil means allowed
	}{
		{"a pod referencing a fenced image by digest is refused, naming the image, the fence, its reason and when to retry",
			fence.Request{Operation: "CREATE", Kind: "Pod", New: pod(digestRef(dA))},
			[]string{"image " + dA + " is being pruned", "fence prune-live", "keep-tag-revisions", "retry in 30s"}},
		{"a pod referencing a tag whose current item is fenced is refused, naming tag and image",
			fence.Request{Operation: "CREATE", Kind: "Pod", New: pod(tagRef("v1"))},
			[]string{"image stream tag team/web:v1 (of image " + dA + ")", "being pruned"}},
		{"a pod referencing other images and tags is allowed",
			fence.Request{Operation: "CREATE", Kind: "Pod", New: pod(digestRef(dB), tagRef("v2"))}, nil},
		{"a fence being lifted refuses nothing",
			fence.Request{Operation: "CREATE", Kind: "Pod", New: pod(digestRef(dB))}, nil},
		{"a late reference to a pruned image hears when it was pruned",
			fence.Request{Operation: "CREATE", Kind: "Pod", New: pod(digestRef(dOld))},
			[]string{"image " + dOld + " was pruned at 2026-01-02T03:04:05Z", "fence prune-old"}},
		{"a tombstone does not refuse a reference by tag: the tag names what is current now",
			fence.Request{Operation: "CREATE", Kind: "Pod", New: pod(tagRef("old"))}, nil},
		{"an update that keeps a fenced reference it already had is allowed",
			fence.Request{Operation: "UPDATE", Kind: "Pod", New: pod(digestRef(dA)), Old: &old}, nil},
		{"an update that adds a fenced reference is refused",
			fence.Request{Operation: "UPDATE", Kind: "Pod", New: pod(digestRef(dB), digestRef(dA)), Old: &extract.Result{Referrer: &model.Object{Refs: []model.Ref{digestRef(dB)}}}},
			[]string{"image " + dA}},
		{"an image stream whose status gains a fenced image is refused",
			fence.Request{Operation: "UPDATE", Kind: "ImageStream", New: extract.Result{Stream: &model.Stream{Tags: []model.Tag{{Name: "v9", Items: []model.TagItem{{Image: dA}}}}}},
				Old: &extract.Result{Stream: &model.Stream{}}},
			[]string{"image " + dA}},
		{"an image stream status update that only removes items is allowed",
			fence.Request{Operation: "UPDATE", Kind: "ImageStream", New: extract.Result{Stream: &model.Stream{Tags: []model.Tag{{Name: "v1", Items: []model.TagItem{{Image: dA}}}}}},
				Old: &extract.Result{Stream: &model.Stream{Tags: []model.Tag{{Name: "v1", Items: []model.TagItem{{Image: dA}, {Image: dB}}}}}}}, nil},
		{"an Image create that uses a blob being freed is refused",
			fence.Request{Operation: "CREATE", Kind: "Image", New: extract.Result{Image: &model.Image{Digest: dB, Layers: []model.Blob{{Digest: blobL}}}}},
			[]string{"blob " + blobL, "being pruned"}},
		{"pushing a pruned image again is allowed",
			fence.Request{Operation: "CREATE", Kind: "Image", New: extract.Result{Image: &model.Image{Digest: dOld}}}, nil},
		{"an ImageStreamMapping of a fenced image is refused",
			fence.Request{Operation: "CREATE", Kind: "ImageStreamMapping", Namespace: "team",
				Raw: []byte(`{"kind":"ImageStreamMapping","apiVersion":"image.openshift.io/v1","tag":"v3","image":{"metadata":{"name":"` + dA + `"}}}`)},
			[]string{"image " + dA}},
		{"an ImageStreamTag following a fenced tag is refused",
			fence.Request{Operation: "CREATE", Kind: "ImageStreamTag", Namespace: "team",
				Raw: []byte(`{"kind":"ImageStreamTag","apiVersion":"image.openshift.io/v1","tag":{"name":"v4","from":{"kind":"ImageStreamTag","name":"web:v1"}}}`)},
			[]string{"image stream tag team/web:v1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var denied []fence.Denial
			c := &fence.Checker{Source: staticSource{fence.NewSet(fences())},
				OnDeny: func(_ context.Context, _ fence.Request, d fence.Denial) { denied = append(denied, d) }}
			msg := c.Check(context.Background(), tc.req)
			if tc.want == nil {
				if msg != "" {
					t.Fatalf("refused: %s", msg)
				}
				return
			}
			if msg == "" {
				t.Fatal("allowed")
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
			if len(denied) != 1 {
				t.Errorf("OnDeny called %d times, want 1", len(denied))
			}
		})
	}
}

func TestEmptySetAllowsEverything(t *testing.T) {
	c := &fence.Checker{Source: staticSource{fence.NewSet(nil)}}
	if msg := c.Check(context.Background(), fence.Request{Operation: "CREATE", New: pod(digestRef(dA))}); msg != "" {
		t.Fatal(msg)
	}
}
