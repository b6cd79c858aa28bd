package pruner_test

import (
	"reflect"
	"sort"
	"testing"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pruner"
)

// TestStage2Rules checks each stage 2 rule: which Image objects a prune deletes and the rule
// that keeps the others.
func TestStage2Rules(t *testing.T) {
	list := func(name string, children ...string) model.Image {
		i := img(name, ago(old))
		i.ManifestMediaType, i.Config = "application/vnd.docker.distribution.manifest.list.v2+json", ""
		for _, c := range children {
			i.Children = append(i.Children, dg(c))
		}
		return i
	}
	tests := []struct {
		name        string
		world       func() *world
		wantDeleted []string
		keptBy      map[string]pruner.Rule
	}{
		{
			name: "held-by-stream: an image an item still holds is kept, one whose item was pruned is deleted",
			world: func() *world {
				return newWorld().keep(1).images(img("a", ago(old)), img("b", ago(old))).
					streams(stream("ns", "is", ago(old), tag("t", items("a", "b"))))
			},
			wantDeleted: []string{"b"},
			keptBy:      map[string]pruner.Rule{"a": pruner.RuleHeldByStream},
		},
		{
			name: "image-unused: an image in no stream and referenced by nothing is deleted",
			world: func() *world {
				return newWorld().images(img("orphan", ago(old)))
			},
			wantDeleted: []string{"orphan"},
		},
		{
			name: "child-of-held-manifest-list: the children of a held list are kept",
			world: func() *world {
				return newWorld().images(list("l", "c1", "c2"), img("c1", ago(old)), img("c2", ago(old)), img("x", ago(old))).
					streams(stream("ns", "is", ago(old), tag("t", items("l"))))
			},
			wantDeleted: []string{"x"},
			keptBy:      map[string]pruner.Rule{"c1": pruner.RuleChildOfHeldList, "c2": pruner.RuleChildOfHeldList},
		},
		{
			name: "child-of-held-manifest-list: the children of a list kept only for its age are deleted, as oc does",
			world: func() *world {
				l := list("l", "c1")
				l.Created = ago(fresh)
				return newWorld().images(l, img("c1", ago(old)))
			},
			wantDeleted: []string{"c1"},
			keptBy:      map[string]pruner.Rule{"l": pruner.RuleImageYoung},
		},
		{
			name: "unmanaged-image: with --all=false an image not managed by OpenShift is kept",
			world: func() *world {
				ext := img("ext", ago(old))
				ext.Managed = false
				w := newWorld().images(ext, img("own", ago(old)))
				w.opts.AllImages = false
				return w
			},
			wantDeleted: []string{"own"},
			keptBy:      map[string]pruner.Rule{"ext": pruner.RuleUnmanaged},
		},
		{
			name: "image-younger-than: an image created after the cutoff is kept",
			world: func() *world {
				return newWorld().images(img("new", ago(fresh)), img("old", ago(old)))
			},
			wantDeleted: []string{"old"},
			keptBy:      map[string]pruner.Rule{"new": pruner.RuleImageYoung},
		},
		{
			name: "digest-named: an image whose digest a running pod names under any repository is kept (pruneguard)",
			world: func() *world {
				return newWorld().images(img("a", ago(old)), img("b", ago(old))).
					objects(pod("ns", "p", "Running", ago(old), digestRef("elsewhere/repo", "a")))
			},
			wantDeleted: []string{"b"},
			keptBy:      map[string]pruner.Rule{"a": pruner.RuleDigestNamed},
		},
		{
			name: "digest-named: a reference by digest from an old Failed pod does not keep the image",
			world: func() *world {
				return newWorld().images(img("a", ago(old))).
					objects(pod("ns", "p", "Failed", ago(old), digestRef("elsewhere/repo", "a")))
			},
			wantDeleted: []string{"a"},
		},
		{
			name: "child-of-held-manifest-list: a list named by digest keeps its children (pruneguard)",
			world: func() *world {
				return newWorld().images(list("l", "c1"), img("c1", ago(old))).
					objects(deployment("ns", "d", model.Ref{Kind: model.RefDockerImage, Raw: "docker.io/x@" + dg("l"), Digest: dg("l")}))
			},
			wantDeleted: []string{},
			keptBy:      map[string]pruner.Rule{"l": pruner.RuleDigestNamed, "c1": pruner.RuleChildOfHeldList},
		},
		{
			name: "namespace-mode: with --namespace no Image object is deleted",
			world: func() *world {
				w := newWorld().keep(0).images(img("a", ago(old)), img("orphan", ago(old))).
					streams(stream("ns", "is", ago(old), tag("t", items("a"))))
				w.opts.Namespace = "ns"
				return w
			},
			wantDeleted: []string{},
			keptBy:      map[string]pruner.Rule{"orphan": pruner.RuleNamespaceMode},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.world()
			got := keys(deletedImages(w.plan(t)))
			if !reflect.DeepEqual(got, tt.wantDeleted) {
				t.Errorf("deleted images = %v, want %v", got, tt.wantDeleted)
			}
			for name, rule := range tt.keptBy {
				r, ok := imageDecision(w.decisions(t, name))
				if !ok || !r.Keep || r.Rule != rule {
					t.Errorf("image decision about %s = %+v, want kept by %s", name, r, rule)
				}
			}
		})
	}
}

func imageDecision(ds []pruner.Reason) (pruner.Reason, bool) {
	for _, d := range ds {
		if d.Stage == 2 {
			return d, true
		}
	}
	return pruner.Reason{}, false
}

func keys(m map[string]bool) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
