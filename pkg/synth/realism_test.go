package synth

import (
	"fmt"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/imageref"
)

// stats are the seed-dependent quantities of the package comment, measured on the typed
// objects Each yields (what a dump and a load contain).
type stats struct {
	images, managed, lists, tags, items, oneItemTags, deepTags, youngItems int
	maxLayerUse                                                            int
	orphans                                                                int
	phases                                                                 map[corev1.PodPhase]int
	invalid, registryless, digestRefs, tagRefs, danglingDigestRefs         int
}

func measure(t *testing.T, c *Cluster) stats {
	t.Helper()
	s := stats{phases: map[corev1.PodPhase]int{}}
	layerUse := map[string]int{}
	held := map[string]bool{}
	images := map[string]bool{}
	var pods []*corev1.Pod
	err := c.Each(EachOptions{}, func(obj client.Object) error {
		switch o := obj.(type) {
		case *imagev1.Image:
			s.images++
			images[o.Name] = true
			if o.Annotations[ManagedAnnotation] == "true" {
				s.managed++
			}
			if len(o.DockerImageManifests) > 0 {
				s.lists++
				for _, m := range o.DockerImageManifests {
					held[m.Digest] = true
				}
			}
			for _, l := range o.DockerImageLayers {
				layerUse[l.Name]++
			}
		case *imagev1.ImageStream:
			for _, tag := range o.Status.Tags {
				s.tags++
				s.items += len(tag.Items)
				if len(tag.Items) == 1 {
					s.oneItemTags++
				}
				if len(tag.Items) >= 10 {
					s.deepTags++
				}
				for _, it := range tag.Items {
					held[it.Image] = true
					if c.Now.Sub(it.Created.Time) < time.Hour {
						s.youngItems++
					}
				}
			}
		case *corev1.Pod:
			s.phases[o.Status.Phase]++
			pods = append(pods, o)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range layerUse {
		s.maxLayerUse = max(s.maxLayerUse, n)
	}
	for d := range images {
		if !held[d] {
			s.orphans++
		}
	}
	for _, p := range pods {
		for _, ct := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			s.classify(ct.Image, images)
		}
	}
	return s
}

// classify counts a pod's image reference by how oc reads it.
func (s *stats) classify(spec string, images map[string]bool) {
	ref, err := imageref.PullSpec(spec)
	switch {
	case err != nil:
		s.invalid++
	case !hasRegistryHost(spec):
		s.registryless++
	case !strings.HasPrefix(spec, Registry+"/"):
		// An external image: it names no stream of this cluster.
	case ref.Repo != "" && ref.Digest != "":
		s.digestRefs++
		if !images[ref.Digest] {
			s.danglingDigestRefs++
		}
	case ref.Repo != "":
		s.tagRefs++
	}
}

// TestShapeIsRealistic holds several seeds at size S to the ranges of the package comment.
func TestShapeIsRealistic(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			c := generate(t, Options{Size: Small, Seed: seed})
			s := measure(t, c)
			n := c.Shape.Images
			checks := []struct {
				what   string
				got    float64
				lo, hi float64
			}{
				{"status tags per stream", float64(s.tags) / float64(c.Shape.Streams), 1.8, 2.8},
				{"status items per image", float64(s.items) / float64(n), 0.85, 1.0},
				{"managed share of images", float64(s.managed) / float64(n), 0.4, 0.6},
				{"manifest lists per image", float64(s.lists) / float64(n), 0.005, 0.04},
				{"images held by no stream", float64(s.orphans), float64(c.Shape.OrphanImages), float64(c.Shape.OrphanImages)},
				{"tags with one item", float64(s.oneItemTags), 10, 1e9},
				{"tags with ten items or more", float64(s.deepTags), 10, 1e9},
				{"items younger than an hour", float64(s.youngItems), 1, 1e9},
				{"images sharing the most used layer", float64(s.maxLayerUse), float64(n) / 20, 1e9},
				{"digest references to streams", float64(s.digestRefs), float64(n) / 5, 1e9},
				{"tag references to streams", float64(s.tagRefs), float64(n) / 20, 1e9},
				{"invalid references", float64(s.invalid), float64(c.Shape.InvalidRefs), float64(c.Shape.InvalidRefs)},
				{"registry-less references", float64(s.registryless), float64(c.Shape.RegistrylessRefs), 1e9},
				{"digest references to images that do not exist", float64(s.danglingDigestRefs), 0, 0},
			}
			for _, ch := range checks {
				if ch.got < ch.lo || ch.got > ch.hi {
					t.Errorf("%s = %.3f, want within [%g, %g]", ch.what, ch.got, ch.lo, ch.hi)
				}
			}
			for _, ph := range []corev1.PodPhase{corev1.PodRunning, corev1.PodPending, corev1.PodSucceeded, corev1.PodFailed} {
				if s.phases[ph] == 0 {
					t.Errorf("no pod in phase %s: %v", ph, s.phases)
				}
			}
		})
	}
}

func TestNoInvalidRefsLeavesOutOnlyTheInvalidReferences(t *testing.T) {
	c := generate(t, Options{Size: Small, Seed: 1, NoInvalidRefs: true})
	s := measure(t, c)
	if s.invalid != 0 || s.registryless < c.Shape.RegistrylessRefs {
		t.Fatalf("invalid %d, registry-less %d; want 0 and at least %d", s.invalid, s.registryless, c.Shape.RegistrylessRefs)
	}
}

// hasRegistryHost tells whether spec starts with a registry host, by the docker rule: a first
// path segment with a dot or a port, or "localhost".
func hasRegistryHost(spec string) bool {
	host, _, ok := strings.Cut(spec, "/")
	return ok && (strings.ContainsAny(host, ".:") || host == "localhost")
}
