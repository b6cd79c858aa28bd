package synth

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Options choose the cluster Generate makes.
type Options struct {
	// Size picks the number of images; Images, when > 0, overrides it (tests use a few
	// hundred images).
	Size   Size
	Images int
	// Pods, when > 0, overrides the pod count (N/2 by default) and leaves every other count
	// a function of the images: the start benchmark's "100,000 pods and 50,000 images"
	// (issue 4) is Images 50,000 with Pods 100,000. Standalone pods make up the difference.
	Pods int
	// Seed makes the generation deterministic: the same Seed, size and Now give the same
	// cluster, byte for byte in its dump.
	Seed int64
	// Now is the time every creation time is relative to; required, so that a replay with
	// `--now` sees the same ages.
	Now time.Time
	// NoInvalidRefs leaves out the invalid references, which make a prune abort unless
	// --ignore-invalid-refs is given; the registry-less references stay.
	NoInvalidRefs bool
}

// ErrNoNow is returned by Generate when Options.Now is zero.
var ErrNoNow = errors.New("synth: Options.Now is required, so that ages are reproducible")

// Registry is the host of OpenShift's integrated registry, as pull specs inside a cluster
// name it.
const Registry = "image-registry.openshift-image-registry.svc:5000"

// Generate makes a cluster described by the package comment. It is a pure function of its
// options.
func Generate(o Options) (*Cluster, error) {
	if o.Now.IsZero() {
		return nil, ErrNoNow
	}
	n := o.Images
	if n <= 0 {
		if n = o.Size.Images(); n == 0 {
			return nil, fmt.Errorf("synth: unknown size %q and no image count", o.Size)
		}
	}
	sh := ShapeOf(n)
	if o.Pods > 0 {
		sh.Pods = o.Pods
	}
	c := &Cluster{Seed: o.Seed, Now: o.Now.UTC().Truncate(time.Second), Shape: sh}
	if o.Images <= 0 {
		c.Size = o.Size
	}
	g := &gen{
		c:    c,
		r:    rand.New(rand.NewPCG(uint64(o.Seed), 0x7072756e65677561)),
		seed: uint64(o.Seed),
		now:  c.Now.Unix(),
	}
	g.namespaces()
	g.baseImages()
	g.streams()
	g.orphans()
	g.referrers(!o.NoInvalidRefs)
	g.limitRanges()
	return c, nil
}

// gen holds the generation state. Every random choice is drawn from r in one fixed order,
// and every digest from a counter, so the output depends on the seed only.
type gen struct {
	c       *Cluster
	r       *rand.Rand
	seed    uint64
	counter uint64
	now     int64
	// bases are the layer lists of the base images; streamsOfNS the streams per namespace.
	bases       [][]int32
	baseWeights []float64
	streamsOfNS [][]int32
	appStreams  []int32
	// managedImages counts images of streams that receive pushes, for the 50% balance.
	managedImages, usedImages int
}

// newDigest returns the next digest: sha256 over the seed and a counter.
func (g *gen) newDigest() digest {
	g.counter++
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], g.seed)
	binary.BigEndian.PutUint64(b[8:], g.counter)
	return sha256.Sum256(b[:])
}

// uid derives a stable UID-like string for object number i of a kind.
func uid(seed int64, k string, i int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%d/%s/%d", seed, k, i)))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// between returns a uniform int64 in [lo, hi].
func (g *gen) between(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + g.r.Int64N(hi-lo+1)
}

// chance is true with probability p.
func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// zipfPick picks index i of n with weight 1/(i+1)^s: a few indexes get most picks, as a few
// base images and a few busy namespaces do in real clusters.
func (g *gen) zipfPick(weights []float64) int {
	total := weights[len(weights)-1]
	x := g.r.Float64() * total
	lo, hi := 0, len(weights)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if weights[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// zipfWeights returns the cumulative weights zipfPick takes.
func zipfWeights(n int, s float64) []float64 {
	w := make([]float64, n)
	sum := 0.0
	for i := range n {
		sum += 1 / math.Pow(float64(i+1), s)
		w[i] = sum
	}
	return w
}

// expSeconds returns an exponentially distributed duration with the given mean, in seconds.
func (g *gen) expSeconds(mean time.Duration) int64 {
	return int64(g.r.ExpFloat64() * mean.Seconds())
}

const (
	day   = int64(24 * 3600)
	mebi  = int64(1 << 20)
	kibi  = int64(1 << 10)
	month = 30 * day
)

var (
	teamWords = []string{"payments", "checkout", "search", "catalog", "identity", "billing", "ml", "data",
		"infra", "mobile", "web", "platform", "ledger", "notify", "media", "support"}
	envWords    = []string{"dev", "test", "stage", "prod", "ci"}
	streamWords = []string{"api", "web", "worker", "frontend", "gateway", "scheduler", "cache",
		"indexer", "auth", "reports", "exporter", "ingest", "batch", "ui", "proxy", "db-migrate"}
)

func (g *gen) namespaces() {
	c := g.c
	c.namespaces = append(c.namespaces, namespace{name: "openshift", created: g.now - 720*day})
	for i := range c.Shape.AppNamespaces {
		name := fmt.Sprintf("%s-%s-%03d", teamWords[i%len(teamWords)], envWords[(i/len(teamWords))%len(envWords)], i)
		c.namespaces = append(c.namespaces, namespace{name: name, created: g.now - g.between(400*day, 700*day)})
	}
	g.streamsOfNS = make([][]int32, len(c.namespaces))
}

func (g *gen) limitRanges() {
	sizes := []int64{256 * mebi, 512 * mebi, 1024 * mebi}
	for i := range g.c.Shape.LimitRanges {
		ns := int32(1 + i*10) // every tenth application namespace
		g.c.limitRanges = append(g.c.limitRanges, limitRange{ns: ns, maxSize: sizes[g.r.IntN(len(sizes))]})
	}
}
