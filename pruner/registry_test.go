package pruner_test

import (
	"reflect"
	"sort"
	"testing"

	"github.com/pruneguard/pruneguard/pruner"
)

// TestRegistryCounts checks the per-repository counts of stage 1 (layer and manifest links)
// and the global counts of stage 2 (blobs).
func TestRegistryCounts(t *testing.T) {
	schema1 := img("s1", ago(old), "L9")
	schema1.ManifestMediaType = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	tests := []struct {
		name              string
		world             func() *world
		wantLayerLinks    []string
		wantManifestLinks []string
		wantBlobs         []string
	}{
		{
			name: "a layer shared with a kept item of the same stream keeps its link; the pruned image's own layers and config lose theirs",
			world: func() *world {
				return newWorld().keep(1).images(img("a", ago(old), "L1", "L2"), img("b", ago(old), "L1", "L3")).
					streams(stream("ns", "is", ago(old), tag("t", items("a", "b"))))
			},
			wantLayerLinks:    []string{"ns/is L3", "ns/is b-config"},
			wantManifestLinks: []string{"ns/is b"},
			wantBlobs:         []string{"L3", "b", "b-config"},
		},
		{
			name: "an image held by another tag of the stream keeps its manifest link and layer links",
			world: func() *world {
				return newWorld().keep(1).images(img("a", ago(old), "L1"), img("b", ago(old), "L2")).
					streams(stream("ns", "is", ago(old), tag("t", items("a", "b")), tag("u", items("b"))))
			},
		},
		{
			name: "a blob shared with an image of another stream loses its link here but is not deleted",
			world: func() *world {
				return newWorld().keep(1).images(img("a", ago(old), "L1"), img("b", ago(old), "L2"), img("c", ago(old), "L2")).
					streams(stream("ns", "is", ago(old), tag("t", items("a", "b"))), stream("ns", "other", ago(old), tag("t", items("c"))))
			},
			wantLayerLinks:    []string{"ns/is L2", "ns/is b-config"},
			wantManifestLinks: []string{"ns/is b"},
			wantBlobs:         []string{"b", "b-config"},
		},
		{
			name: "a schema 1 image has no config blob to count",
			world: func() *world {
				return newWorld().keep(0).images(schema1).streams(stream("ns", "is", ago(old), tag("t", items("s1"))))
			},
			wantLayerLinks:    []string{"ns/is L9"},
			wantManifestLinks: []string{"ns/is s1"},
			wantBlobs:         []string{"L9", "s1"},
		},
		{
			name: "with --prune-registry=false nothing in the registry is deleted",
			world: func() *world {
				w := newWorld().keep(0).images(img("a", ago(old), "L1")).streams(stream("ns", "is", ago(old), tag("t", items("a"))))
				w.opts.PruneRegistry = false
				return w
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.world().plan(t)
			report := pruner.NewReport(p, true)
			check(t, "layer links", repoBlobs(report.LayerLinks), tt.wantLayerLinks)
			check(t, "manifest links", repoBlobs(report.ManifestLinks), tt.wantManifestLinks)
			check(t, "blobs", short(report.Blobs), tt.wantBlobs)
		})
	}
}

func TestDeletionOrderWithinAnImage(t *testing.T) {
	t.Run("an image's layers and config blob are deleted before its manifest blob", func(t *testing.T) {
		p := newWorld().images(img("a", ago(old), "L1", "L2")).plan(t)
		want := []string{dg("L1"), dg("L2"), dg("a-config"), dg("a")}
		if len(p.Images) != 1 || !reflect.DeepEqual(p.Images[0].Blobs, want) {
			t.Errorf("image plans = %+v, want one with blobs %v", p.Images, want)
		}
	})
	t.Run("a layer listed twice in one image is deleted once", func(t *testing.T) {
		p := newWorld().images(img("a", ago(old), "L1", "L1")).plan(t)
		want := []string{dg("L1"), dg("a-config"), dg("a")}
		if len(p.Images) != 1 || !reflect.DeepEqual(p.Images[0].Blobs, want) {
			t.Errorf("image plans = %+v, want one with blobs %v", p.Images, want)
		}
	})
}

func repoBlobs(rbs []pruner.RepositoryBlob) []string {
	out := []string{}
	for _, rb := range rbs {
		out = append(out, rb.Repository+" "+rb.Digest[len("sha256:"):])
	}
	return out
}

func short(ds []string) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d[len("sha256:"):])
	}
	return out
}

func check(t *testing.T, what string, got, want []string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	got = append([]string(nil), got...)
	sort.Strings(got)
	sort.Strings(want)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
