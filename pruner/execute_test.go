package pruner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/registry"
	"github.com/pruneguard/pruneguard/pruner/internal/memreader"
)

// recorder is a hand-written fake of the five deleters: it records every call as a line and
// fails the calls named in fail.
type recorder struct {
	mu      sync.Mutex
	calls   []string
	fail    map[string]bool
	noAdmin bool
	held    map[string]bool
}

func (r *recorder) call(line string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, line)
	if r.fail[line] {
		return fmt.Errorf("injected failure of %s", line)
	}
	return nil
}

func (r *recorder) UpdateImageStream(_ context.Context, sp StreamPlan) (StreamUpdate, error) {
	if err := r.call("stream " + sp.Repo()); err != nil {
		return StreamUpdate{}, err
	}
	held := heldByTags(sp)
	for d := range r.held {
		held[d] = true
	}
	return StreamUpdate{Removed: sp.Deleted, Held: held, Attempts: 1}, nil
}
func (r *recorder) DeleteImage(_ context.Context, d string) error { return r.call("image " + d) }
func (r *recorder) DeleteLayerLink(_ context.Context, repo, d string) error {
	return r.call("layer " + repo + " " + d)
}
func (r *recorder) DeleteManifestLink(_ context.Context, repo, d string) error {
	return r.call("manifest " + repo + " " + d)
}
func (r *recorder) DeleteBlob(_ context.Context, d string) error {
	if r.noAdmin {
		_ = r.call("blob-skipped " + d)
		return registry.ErrNoAdminAPI
	}
	return r.call("blob " + d)
}

func (r *recorder) deleters() Deleters {
	return Deleters{Streams: r, Images: r, LayerLinks: r, ManifestLinks: r, Blobs: r}
}

// testPlan: stream ns/a drops image A (layer L1 link, manifest A link); stream ns/b drops
// image B; stage 2 deletes A (blobs L1, A) and B (blobs L2, B).
func testPlan() *Plan {
	return &Plan{
		Streams: []StreamPlan{
			{Namespace: "ns", Name: "a", Deleted: []ItemDecision{{Namespace: "ns", Stream: "a", Tag: "v1", Revision: 3, Image: "A"}},
				LayerLinks: []string{"L1"}, ManifestLinks: []string{"A"}},
			{Namespace: "ns", Name: "b", Deleted: []ItemDecision{{Namespace: "ns", Stream: "b", Tag: "v1", Revision: 3, Image: "B"}},
				LayerLinks: []string{"L2"}, ManifestLinks: []string{"B"}},
		},
		Images: []ImagePlan{{Digest: "A", Blobs: []string{"L1", "A"}}, {Digest: "B", Blobs: []string{"L2", "B"}}},
	}
}

func TestExecutor(t *testing.T) {
	tests := []struct {
		name      string
		rec       *recorder
		wantCalls []string
		wantNot   []string
		wantSum   Summary
		wantErrs  int
		noReader  bool
		plan      func() *Plan
	}{
		{name: "everything is deleted in the plan's order: layer links, stream, manifest links, blobs, image",
			rec: &recorder{},
			wantCalls: []string{"layer ns/a L1", "stream ns/a", "manifest ns/a A", "layer ns/b L2", "stream ns/b", "manifest ns/b B",
				"blob L1", "blob A", "image A", "blob L2", "blob B", "image B"},
			wantSum: Summary{DeletedImages: 2, DeletedImageStreamTagItems: 2, UpdatedImageStreams: 2, DeletedLayerLinks: 2, DeletedManifestLinks: 2, DeletedBlobs: 4}},
		{name: "a stream whose layer link fails is not updated, and its image and blobs are kept",
			rec:       &recorder{fail: map[string]bool{"layer ns/a L1": true}},
			wantCalls: []string{"layer ns/a L1", "layer ns/b L2", "stream ns/b", "manifest ns/b B", "blob L2", "blob B", "image B"},
			wantNot:   []string{"stream ns/a", "manifest ns/a A", "blob L1", "blob A", "image A"},
			wantSum:   Summary{DeletedImages: 1, DeletedImageStreamTagItems: 1, UpdatedImageStreams: 1, DeletedLayerLinks: 1, DeletedManifestLinks: 1, DeletedBlobs: 2},
			wantErrs:  3},
		{name: "without a reader of the kept images' blobs no blob is deleted once a stream failed",
			rec:      &recorder{fail: map[string]bool{"stream ns/a": true}},
			noReader: true,
			wantNot:  []string{"blob L2", "blob B", "image A"},
			wantSum:  Summary{DeletedImages: 1, DeletedImageStreamTagItems: 1, UpdatedImageStreams: 1, DeletedLayerLinks: 2, DeletedManifestLinks: 1},
			wantErrs: 3},
		{name: "a blob of an image kept because its stream failed is not deleted with another image",
			rec:      &recorder{fail: map[string]bool{"stream ns/a": true}},
			plan:     sharedLayerPlan,
			wantNot:  []string{"blob L1", "image A"},
			wantSum:  Summary{DeletedImages: 1, DeletedImageStreamTagItems: 1, UpdatedImageStreams: 1, DeletedLayerLinks: 2, DeletedManifestLinks: 1, DeletedBlobs: 1},
			wantErrs: 2},
		{name: "a stream whose update fails keeps its image, its blobs and its manifest link",
			rec:      &recorder{fail: map[string]bool{"stream ns/a": true}},
			wantNot:  []string{"manifest ns/a A", "blob L1", "blob A", "image A"},
			wantSum:  Summary{DeletedImages: 1, DeletedImageStreamTagItems: 1, UpdatedImageStreams: 1, DeletedLayerLinks: 2, DeletedManifestLinks: 1, DeletedBlobs: 2},
			wantErrs: 2},
		{name: "an image whose blob fails keeps its Image object",
			rec:       &recorder{fail: map[string]bool{"blob L2": true}},
			wantCalls: []string{"blob L2", "blob B"},
			wantNot:   []string{"image B"},
			wantSum:   Summary{DeletedImages: 1, DeletedImageStreamTagItems: 2, UpdatedImageStreams: 2, DeletedLayerLinks: 2, DeletedManifestLinks: 2, DeletedBlobs: 3},
			wantErrs:  2},
		{name: "a distribution registry leaves blobs to its garbage collector: not counted, images deleted",
			rec:       &recorder{noAdmin: true},
			wantCalls: []string{"blob-skipped L1", "image A", "image B"},
			wantSum:   Summary{DeletedImages: 2, DeletedImageStreamTagItems: 2, UpdatedImageStreams: 2, DeletedLayerLinks: 2, DeletedManifestLinks: 2}},
		{name: "a manifest tagged again since the plan keeps its link",
			rec:     &recorder{held: map[string]bool{"A": true}},
			wantNot: []string{"manifest ns/a A"},
			wantSum: Summary{DeletedImages: 2, DeletedImageStreamTagItems: 2, UpdatedImageStreams: 2, DeletedLayerLinks: 2, DeletedManifestLinks: 1, DeletedBlobs: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := &Executor{Deleters: tt.rec.deleters(), Workers: 1, Reader: testReader()}
			if tt.noReader {
				ex.Reader = nil
			}
			plan := testPlan()
			if tt.plan != nil {
				plan = tt.plan()
			}
			done, err := ex.Execute(context.Background(), plan)
			var agg *ExecuteError
			if tt.wantErrs == 0 && err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if tt.wantErrs > 0 && (!errors.As(err, &agg) || len(agg.Errors) != tt.wantErrs) {
				t.Fatalf("Execute error = %v, want %d aggregated failures", err, tt.wantErrs)
			}
			if tt.wantCalls != nil && !isSubsequence(tt.wantCalls, tt.rec.calls) {
				t.Errorf("calls = %v, want in order %v", tt.rec.calls, tt.wantCalls)
			}
			for _, c := range tt.wantNot {
				if slices.Contains(tt.rec.calls, c) {
					t.Errorf("called %q, which must not happen (calls %v)", c, tt.rec.calls)
				}
			}
			if got := done.Summary(); got != tt.wantSum {
				t.Errorf("summary = %+v, want %+v", got, tt.wantSum)
			}
		})
	}
}

// testReader knows the images of testPlan: A has layer L1, B has layer L2.
func testReader() model.Reader {
	r := memreader.New()
	r.AddImage(model.Image{Digest: "A", Layers: []model.Blob{{Digest: "L1"}}})
	r.AddImage(model.Image{Digest: "B", Layers: []model.Blob{{Digest: "L2"}}})
	return r
}

// sharedLayerPlan is testPlan where B also uses A's layer L1, whose blob the plan deletes
// with B (the last image releasing it).
func sharedLayerPlan() *Plan {
	p := testPlan()
	p.Images[0].Blobs = []string{"A"}
	p.Images[1].Blobs = []string{"L1", "B"}
	return p
}

func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestExecutorWorkersDoEverythingOnce(t *testing.T) {
	plan := &Plan{}
	for i := range 40 {
		d := fmt.Sprintf("D%d", i)
		plan.Streams = append(plan.Streams, StreamPlan{Namespace: "ns", Name: d, Deleted: []ItemDecision{{Image: d}}, LayerLinks: []string{"L" + d}})
		plan.Images = append(plan.Images, ImagePlan{Digest: d, Blobs: []string{d}})
	}
	rec := &recorder{}
	done, err := (&Executor{Deleters: rec.deleters(), Workers: 7}).Execute(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.calls) != 40*4 {
		t.Errorf("%d calls, want %d", len(rec.calls), 40*4)
	}
	seen := make(map[string]bool)
	for _, c := range rec.calls {
		if seen[c] {
			t.Errorf("%q called twice", c)
		}
		seen[c] = true
	}
	if s := done.Summary(); s.DeletedImages != 40 || s.UpdatedImageStreams != 40 || s.DeletedBlobs != 40 {
		t.Errorf("summary = %+v", s)
	}
}

func TestDescribingDryRunPrintsTheTextPlan(t *testing.T) {
	plan := testPlan()
	var want bytes.Buffer
	if err := WriteText(&want, plan); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	done, err := (&Executor{Deleters: NewDescribingDeleters(&out, &errOut, nil), Workers: 1}).Execute(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&out, "Summary: %s\n", done.Summary())
	if out.String() != want.String() {
		t.Errorf("dry run printed\n%s\nwant WriteText's\n%s", out.String(), want.String())
	}
	if errOut.Len() != 0 {
		t.Errorf("dry run wrote to stderr: %s", errOut.String())
	}
}

func TestDescribingReportsFailuresLikeOC(t *testing.T) {
	rec := &recorder{fail: map[string]bool{"blob L2": true}}
	real := rec.deleters()
	var out, errOut bytes.Buffer
	_, err := (&Executor{Deleters: NewDescribingDeleters(&out, &errOut, &real), Workers: 2}).Execute(context.Background(), testPlan())
	if err == nil {
		t.Fatal("want an error")
	}
	if !strings.Contains(errOut.String(), "error deleting blob L2 from the registry: injected failure") {
		t.Errorf("stderr = %q, want oc's blob error line", errOut.String())
	}
	if !strings.Contains(err.Error(), "2 deletion(s) failed") {
		t.Errorf("error = %q, want the count of failures", err)
	}
}
