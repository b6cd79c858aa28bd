package pruner_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pruner"
)

// openCase loads a conformance case's dump into a temporary Badger index and returns it with
// the options and time of the case.
func openCase(t testing.TB, name string) (*index.Index, pruner.Options, time.Time) {
	t.Helper()
	f, err := os.Open(filepath.Join(conformanceDir, name, "cluster.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, closeFn, err := pruner.OpenDump(context.Background(), f, pruner.DumpOptions{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := closeFn(); err != nil {
			t.Error(err)
		}
	})
	ix, ok := r.(*index.Index)
	if !ok {
		t.Fatalf("OpenDump returned %T, want *index.Index", r)
	}
	raw, err := os.ReadFile(filepath.Join(conformanceDir, "NOW"))
	if err != nil {
		t.Fatal(err)
	}
	now, err := time.Parse(time.RFC3339, strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return ix, caseOptions(t, name), now
}

// caseOptions parses a case's flags through the real command's flag set.
func caseOptions(t testing.TB, name string) pruner.Options {
	flags, err := os.ReadFile(filepath.Join(conformanceDir, name, "flags"))
	if err != nil {
		t.Fatal(err)
	}
	o := pruner.NewOptions()
	for _, f := range strings.Fields(string(flags)) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "--keep-tag-revisions":
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			o.KeepTagRevisions = &n
		case "--keep-younger-than":
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatal(err)
			}
			o.KeepYoungerThan = &d
		case "--prune-over-size-limit":
			o.PruneOverSizeLimit = true
		case "--all":
			o.AllImages = v != "false"
		case "--namespace":
			o.Namespace = v
		case "--prune-registry":
			o.PruneRegistry = v != "false"
		case "--ignore-invalid-refs":
			o.IgnoreInvalidRefs = true
		default:
			t.Fatalf("case %s: flag %s not handled by the test", name, f)
		}
	}
	return o
}

// TestContinuousEqualsFullPlan checks that planning one candidate at a time from the index
// (each stream with PlanStream, applying its result; then each image with PlanImage, deleting
// it) deletes exactly what the full plan deletes, on every conformance state.
func TestContinuousEqualsFullPlan(t *testing.T) {
	ctx := context.Background()
	for _, name := range conformanceCases(t) {
		t.Run(name, func(t *testing.T) {
			ix, opts, now := openCase(t, name)
			opts.IgnoreInvalidRefs = true
			policy := opts.Policy(now)
			full, err := pruner.NewPlanner(ix, policy).Plan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := pruner.NewReport(full, true)

			pl := pruner.NewPlanner(ix, policy)
			var streams []model.Stream
			if err := ix.Streams(ctx, opts.Namespace, func(s model.Stream) error { streams = append(streams, s); return nil }); err != nil {
				t.Fatal(err)
			}
			got := &pruner.Plan{}
			for _, s := range streams {
				sp, err := pl.PlanStream(ctx, s)
				if err != nil {
					t.Fatal(err)
				}
				if len(sp.Deleted) == 0 {
					continue
				}
				got.Streams = append(got.Streams, sp)
				s.Tags = sp.Tags
				if err := ix.Apply(ctx, index.PutStream(s)); err != nil {
					t.Fatal(err)
				}
			}
			if opts.Namespace == "" {
				var digests []string
				if err := ix.Images(ctx, func(img model.Image) error { digests = append(digests, img.Digest); return nil }); err != nil {
					t.Fatal(err)
				}
				sort.Strings(digests)
				for _, d := range digests {
					ip, del, err := pl.PlanImage(ctx, d)
					if err != nil {
						t.Fatal(err)
					}
					if !del {
						continue
					}
					got.Images = append(got.Images, ip)
					if err := ix.Apply(ctx, index.DeleteImage(d)); err != nil {
						t.Fatal(err)
					}
				}
			}
			report := pruner.NewReport(got, true)
			sameSet(t, "imageStreamItems", report.ImageStreamItems, want.ImageStreamItems)
			sameSet(t, "images", report.Images, want.Images)
			sameSet(t, "layerLinks", report.LayerLinks, want.LayerLinks)
			sameSet(t, "manifestLinks", report.ManifestLinks, want.ManifestLinks)
			sameSet(t, "blobs", report.Blobs, want.Blobs)
		})
	}
}

// BenchmarkFullPlan measures a full plan from the index of the largest conformance case.
func BenchmarkFullPlan(b *testing.B) {
	name, size := "", int64(0)
	for _, c := range conformanceCases(b) {
		fi, err := os.Stat(filepath.Join(conformanceDir, c, "cluster.json"))
		if err != nil {
			b.Fatal(err)
		}
		if fi.Size() > size {
			name, size = c, fi.Size()
		}
	}
	ix, opts, now := openCase(b, name)
	policy := opts.Policy(now)
	ctx := context.Background()
	var plan *pruner.Plan
	b.ResetTimer()
	for b.Loop() {
		var err error
		if plan, err = pruner.NewPlanner(ix, policy).Plan(ctx); err != nil {
			b.Fatal(err)
		}
	}
	s := plan.Summary()
	b.ReportMetric(float64(s.DeletedImageStreamTagItems), "items-deleted")
	b.ReportMetric(float64(s.DeletedImages), "images-deleted")
	b.Logf("case %s (%d bytes of dump)", name, size)
}
