package synth

import "fmt"

// externalImages are pull specs of images from outside the cluster's registry: they carry a
// registry host but name no image stream, so they protect nothing.
var externalImages = []string{
	"docker.io/library/nginx:1.27",
	"docker.io/library/redis:7.4",
	"quay.io/prometheus/node-exporter:v1.8.2",
	"registry.redhat.io/ubi9/ubi-minimal:9.5",
	"gcr.io/distroless/static-debian12:nonroot",
	"registry.access.redhat.com/ubi9/httpd-24@sha256:5c0c0b76bde4c1d7bf6e8a2b9f8e3a1c5ad1e7b3c9d2f4a6b8c0e2d4f6a8b0c2",
}

// builderPodImage is the image OpenShift runs build pods with.
const builderPodImage = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:0f8e2d6c4a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d"

// repoOf is "ns/name" of stream si as pull specs name it.
func (g *gen) repoOf(si int32) string {
	s := &g.c.streams[si]
	return g.c.namespaces[s.ns].name + "/" + s.name
}

// digestSpec is the pull spec of an item by digest, as a rollout resolves a trigger to.
func (g *gen) digestSpec(si int32, it item) string {
	return Registry + "/" + g.repoOf(si) + "@" + g.c.images[it.image].digest.String()
}

// tagSpec is the pull spec of a stream tag.
func (g *gen) tagSpec(si int32, tag string) string {
	return Registry + "/" + g.repoOf(si) + ":" + tag
}

// pickStream picks a stream of namespace ns most of the time, else any application stream
// (a shared tools image).
func (g *gen) pickStream(ns int32) int32 {
	if own := g.streamsOfNS[ns]; len(own) > 0 && g.chance(0.9) {
		return own[g.r.IntN(len(own))]
	}
	return g.appStreams[g.r.IntN(len(g.appStreams))]
}

// pickItem picks a tag of stream si (the first, latest, most often) and a position in its
// history: the newest item mostly, an item within keep-tag-revisions often, an older one
// sometimes (a workload pinned to an old build).
func (g *gen) pickItem(si int32) (*tag, int) {
	s := &g.c.streams[si]
	t := &s.tags[0]
	if len(s.tags) > 1 && g.chance(0.3) {
		t = &s.tags[g.r.IntN(len(s.tags))]
	}
	n := len(t.items)
	switch x := g.r.Float64(); {
	case x < 0.7 || n == 1:
		return t, 0
	case x < 0.9 || n <= 3:
		return t, 1 + g.r.IntN(min(2, n-1))
	default:
		return t, 3 + g.r.IntN(n-3)
	}
}

// appRef is the image of an application container in namespace ns: by digest, by tag or an
// external image.
func (g *gen) appRef(ns int32) string {
	switch x := g.r.Float64(); {
	case x < 0.6:
		si := g.pickStream(ns)
		t, pos := g.pickItem(si)
		return g.digestSpec(si, t.items[pos])
	case x < 0.85:
		si := g.pickStream(ns)
		t, _ := g.pickItem(si)
		return g.tagSpec(si, t.name)
	default:
		return externalImages[g.r.IntN(len(externalImages))]
	}
}

// invalidRef returns the i-th invalid image string. Each passes Kubernetes validation (no
// surrounding space) but not the docker reference grammar, so oc aborts on it.
func (g *gen) invalidRef(i int, ns int32) string {
	repo := g.c.namespaces[ns].name + "/legacy"
	switch i % 3 {
	case 0:
		return Registry + "/" + repo + "/Uppercase:V1"
	case 1:
		return Registry + "/" + repo + "@sha256:1234abcd"
	default:
		return Registry + "/" + repo + ":v1:extra"
	}
}

// registrylessRef returns the i-th pull spec without a registry host: oc ignores these even
// when they name a stream.
func (g *gen) registrylessRef(i int, ns int32) string {
	if i%2 == 1 {
		return fmt.Sprintf("nginx:1.%d", 20+i)
	}
	si := g.pickStream(ns)
	return g.repoOf(si) + ":" + g.c.streams[si].tags[0].name
}
