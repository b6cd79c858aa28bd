package synth

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// newBlob records a layer blob of a random size between lo and hi bytes.
func (g *gen) newBlob(lo, hi int64) int32 {
	g.c.blobs = append(g.c.blobs, blob{digest: g.newDigest(), size: g.between(lo, hi)})
	return int32(len(g.c.blobs) - 1)
}

// baseImages makes the base images every image is built on: 2 to 5 large layers each. They
// are not Image objects themselves (they come from an external registry); their layers are
// what images share.
func (g *gen) baseImages() {
	n := g.c.Shape.BaseImages
	for range n {
		layers := make([]int32, 2+g.r.IntN(4))
		for i := range layers {
			layers[i] = g.newBlob(5*mebi, 80*mebi)
		}
		g.bases = append(g.bases, layers)
	}
	g.baseWeights = zipfWeights(n, 1.1)
}

// streamBuild is the layer state of a stream between pushes: its base image and its
// dependency layer, which later revisions share until it is rebuilt.
type streamBuild struct {
	base int
	deps int32
}

// newImage records a single-manifest image of stream repo pushed at created.
func (g *gen) newImage(repo string, managed, external bool, created int64, b *streamBuild) int32 {
	layers := slices.Clone(g.bases[b.base])
	layers = append(layers, b.deps)
	for range 1 + g.r.IntN(3) {
		layers = append(layers, g.newBlob(10*kibi, 20*mebi))
	}
	size := g.between(2*kibi, 12*kibi) // the config blob
	for _, l := range layers {
		size += g.c.blobs[l].size
	}
	g.c.images = append(g.c.images, image{
		digest: g.newDigest(), config: g.newDigest(), created: created, managed: managed,
		repo: repo, external: external, layers: layers, size: size,
	})
	return int32(len(g.c.images) - 1)
}

// newList records a manifest list of two platform images; the list and its children are
// three Image objects.
func (g *gen) newList(repo string, managed, external bool, created int64, b *streamBuild) int32 {
	children := []int32{g.newImage(repo, managed, external, created, b), g.newImage(repo, managed, external, created, b)}
	g.c.images = append(g.c.images, image{
		digest: g.newDigest(), created: created, managed: managed, repo: repo, external: external, children: children,
	})
	return int32(len(g.c.images) - 1)
}

// streamBudgets splits total images over n streams with heavy-tailed weights, each stream
// getting at least one: most streams hold a few revisions, a few CI streams hold hundreds.
func (g *gen) streamBudgets(n, total int) []int {
	w := make([]float64, n)
	sum := 0.0
	for i := range w {
		// Pareto with shape 1.5, capped at 40 times the scale, so one stream cannot take
		// a large part of a small cluster.
		w[i] = math.Min(math.Pow(1-g.r.Float64(), -1/1.5), 40)
		sum += w[i]
	}
	budgets := make([]int, n)
	left := total - n
	used := 0
	for i := range budgets {
		budgets[i] = 1 + int(float64(left)*w[i]/sum)
		used += budgets[i]
	}
	for i := 0; used < total; i = (i + 1) % n {
		budgets[i]++
		used++
	}
	return budgets
}

// streams makes every image stream with its tag histories and images.
func (g *gen) streams() {
	c := g.c
	sh := c.Shape
	budgets := g.streamBudgets(sh.Streams, sh.Images-sh.OrphanImages)
	nsWeights := zipfWeights(sh.AppNamespaces, 0.8)
	used := map[string]bool{}
	for i := range sh.Streams {
		var s stream
		if i < len(builderStreams) {
			s = stream{ns: 0, name: builderStreams[i].name, source: "registry.access.redhat.com/ubi9/" + builderStreams[i].name}
		} else {
			s = g.appStream(i, nsWeights, used)
		}
		c.streams = append(c.streams, s)
		si := int32(len(c.streams) - 1)
		g.streamsOfNS[s.ns] = append(g.streamsOfNS[s.ns], si)
		if i >= len(builderStreams) {
			g.appStreams = append(g.appStreams, si)
		}
		g.fillStream(&c.streams[si], budgets[i], i)
	}
}

// appStream names a stream of an application namespace: the first one per namespace in
// order, the rest in namespaces picked with a skew.
func (g *gen) appStream(i int, nsWeights []float64, used map[string]bool) stream {
	ns := int32(1 + (i-len(builderStreams))%g.c.Shape.AppNamespaces)
	if i-len(builderStreams) >= g.c.Shape.AppNamespaces {
		ns = int32(1 + g.zipfPick(nsWeights))
	}
	name := streamWords[g.r.IntN(len(streamWords))]
	for k := 2; used[fmt.Sprint(ns, "/", name)]; k++ {
		name = fmt.Sprintf("%s-%d", streamWords[g.r.IntN(len(streamWords))], k)
	}
	used[fmt.Sprint(ns, "/", name)] = true
	s := stream{ns: ns, name: name}
	// About half of the images are managed: a stream is imported from an external registry
	// (its images unmanaged) while fewer than half of the images so far are unmanaged.
	if (g.usedImages-g.managedImages)*2 < g.usedImages && g.chance(0.8) {
		s.source = "quay.io/" + g.c.namespaces[ns].name + "/" + name
	}
	return s
}

// tagCounts is how many tags a stream has, drawn with these weights.
var tagCounts = []struct {
	n int
	p float64
}{{1, 0.35}, {2, 0.30}, {3, 0.20}, {4, 0.10}, {6, 0.05}}

func (g *gen) tagCount() int {
	x := g.r.Float64()
	for _, t := range tagCounts {
		if x < t.p {
			return t.n
		}
		x -= t.p
	}
	return 1
}

// tagNames names the tags of a stream: latest first, then release tags.
func tagNames(s *stream, n int) []string {
	if s.ns == 0 {
		for _, b := range builderStreams {
			if b.name == s.name {
				return b.tags[:min(n, len(b.tags))]
			}
		}
	}
	names := []string{"latest"}
	for i := 1; len(names) < n; i++ {
		names = append(names, fmt.Sprintf("v1.%d", i))
	}
	return names
}

// fillStream makes budget images in stream s, split over its tags, each tag a history of
// pushes going back in time from a recent newest item.
func (g *gen) fillStream(s *stream, budget, index int) {
	repo := g.c.namespaces[s.ns].name + "/" + s.name
	if s.source != "" {
		repo = s.source
	}
	managed := s.source == ""
	n := min(g.tagCount(), budget)
	if s.ns == 0 {
		n = min(len(tagNames(s, 10)), budget)
	}
	shares := g.split(budget, n)
	b := &streamBuild{base: g.zipfPick(g.baseWeights), deps: g.newBlob(1*mebi, 40*mebi)}
	// A stream pushes every few hours (CI), daily or weekly.
	gap := []time.Duration{3 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}[g.r.IntN(3)]
	oldest := g.now
	for ti, name := range tagNames(s, n) {
		t := tag{name: name}
		gapMean := min(gap, time.Duration(300/max(1, shares[ti]))*24*time.Hour)
		created := g.now - g.newestAge()
		for left := shares[ti]; left > 0; {
			if g.chance(1.0 / 6) {
				b.deps = g.newBlob(1*mebi, 40*mebi)
				if g.chance(0.2) {
					b.base = g.zipfPick(g.baseWeights)
				}
			}
			var img int32
			if left >= 3 && g.chance(0.02) {
				img, left = g.newList(repo, managed, s.source != "", created-g.between(0, 120), b), left-3
			} else {
				img, left = g.newImage(repo, managed, s.source != "", created-g.between(0, 120), b), left-1
			}
			t.items = append(t.items, item{image: img, created: created})
			oldest = min(oldest, created-120)
			created -= 600 + g.expSeconds(gapMean)
		}
		s.tags = append(s.tags, t)
	}
	g.usedImages += budget
	if managed {
		g.managedImages += budget
	}
	if g.chance(0.15) && budget >= 2 {
		s.tags = append(s.tags, g.retag(s))
	}
	s.created = oldest - g.between(60, 30*day)
	if oldest > g.now-day {
		s.created = oldest - g.between(60, 1800)
	}
}

// newestAge is the age of a tag's newest item: a few were pushed within the last hour (so
// --keep-younger-than matters), most within weeks.
func (g *gen) newestAge() int64 {
	switch x := g.r.Float64(); {
	case x < 0.04:
		return g.between(60, 50*60)
	case x < 0.25:
		return g.between(3600, day)
	default:
		return min(g.expSeconds(15*24*time.Hour), 6*month)
	}
}

// split divides total into n parts of at least one each, with random (exponential) shares,
// so some tags hold a single item and others ten or more.
func (g *gen) split(total, n int) []int {
	w := make([]float64, n)
	sum := 0.0
	for i := range w {
		w[i] = g.r.ExpFloat64()
		sum += w[i]
	}
	parts := make([]int, n)
	used := 0
	for i := range parts {
		parts[i] = 1 + int(float64(total-n)*w[i]/sum)
		used += parts[i]
	}
	for i := 0; used < total; i = (i + 1) % n {
		parts[i]++
		used++
	}
	return parts
}

// retag makes a "stable" tag whose items are images already pushed to other tags of the
// stream, promoted some time after they were pushed.
func (g *gen) retag(s *stream) tag {
	var pool []item
	for _, t := range s.tags {
		pool = append(pool, t.items...)
	}
	t := tag{name: "stable"}
	for range 1 + g.r.IntN(min(3, len(pool))) {
		it := pool[g.r.IntN(len(pool))]
		created := min(g.now-60, it.created+g.between(3600, 3*day))
		t.items = append(t.items, item{image: it.image, created: created})
	}
	slices.SortStableFunc(t.items, func(a, b item) int { return int(b.created - a.created) })
	return t
}

// orphans makes the images held by no stream: pushed to streams since deleted. Half are
// managed, so stage 2 prunes them unless something references their digest.
func (g *gen) orphans() {
	for i := range g.c.Shape.OrphanImages {
		ns := g.c.namespaces[1+g.r.IntN(g.c.Shape.AppNamespaces)].name
		repo := fmt.Sprintf("%s/retired-%d", ns, i)
		b := &streamBuild{base: g.zipfPick(g.baseWeights), deps: g.newBlob(1*mebi, 40*mebi)}
		created := g.now - g.between(day, 300*day)
		g.newImage(repo, g.chance(0.5), false, created, b)
	}
}
