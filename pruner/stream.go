package pruner

import (
	"context"
	"fmt"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Planner decides a prune from the index. It is safe for one goroutine at a time; build one
// per plan. Its algorithm is oc's (see Plan for the full run):
//
// Stage 1, per image stream: a stream created after the cutoff keeps everything (not in
// over-size mode). Otherwise each item of each tag, at 0-based position i, is kept when it was
// created after the cutoff; when i = 0 and a counted referrer names the tag; dropped when its
// Image object is missing; kept when i < --keep-tag-revisions (over-size mode instead: kept
// unless its image exceeds the namespace's openshift.io/Image max.storage); kept when a counted
// referrer names NAMESPACE/STREAM@digest; dropped otherwise. A dropped item whose image exists
// decrements the repository's counts (per manifest, per layer and config blob, over all
// items of the stream); a blob reaching zero loses its layer link, a manifest reaching zero
// its manifest link.
//
// Stage 2, skipped with --namespace, per Image: kept when an item still holds it after stage 1
// or it is a child of a manifest list that is held (or, pruneguard, named by a referrer);
// with --all=false when it is not managed; outside over-size mode when created after the
// cutoff; (pruneguard) when a counted referrer names its digest anywhere. Otherwise the
// global counts (every Image counts its manifest, layers and config) are decremented: each
// layer or config blob reaching zero is deleted, then the manifest blob, then the Image.
//
// A referrer counts unless it is a pod neither Running nor Pending that was created before
// the cutoff. References recorded at admission (pending) always count.
type Planner struct {
	reader model.Reader
	policy Policy
	trace  func(Reason)
}

// NewPlanner returns a planner reading r and deciding by p.
func NewPlanner(r model.Reader, p Policy) *Planner {
	return &Planner{reader: r, policy: p}
}

// SetTrace makes the planner call fn with every decision it makes, kept or not, stream items
// (Stage 1) and Images (Stage 2). explain and the audit trail use it; a plain prune does not
// pay for it.
func (pl *Planner) SetTrace(fn func(Reason)) { pl.trace = fn }

func (pl *Planner) record(r Reason) {
	if pl.trace != nil {
		pl.trace(r)
	}
}

// PlanStream decides the items of one image stream, reading only the references to this
// stream's tags and items, its images and its namespace's limits. The executor calls it
// again with a fresh copy of the stream when the status update meets a conflict; the
// continuous mode calls it for a stream whose items may have become prunable.
func (pl *Planner) PlanStream(ctx context.Context, s model.Stream) (StreamPlan, error) {
	sp := StreamPlan{Namespace: s.Namespace, Name: s.Name, ResourceVersion: s.ResourceVersion}
	p := pl.policy
	if p.Namespace != "" && s.Namespace != p.Namespace {
		pl.keepAll(s, RuleOutsideNamespace)
		sp.Tags = s.Tags
		return sp, nil
	}
	if p.ruleStreamYoung(s) {
		pl.keepAll(s, RuleStreamYoung)
		sp.Tags = s.Tags
		return sp, nil
	}
	images, err := pl.streamImages(ctx, s)
	if err != nil {
		return sp, err
	}
	counts := newRepoCounts(s, images)
	limits := &lazyLimits{reader: pl.reader, namespace: s.Namespace}
	for _, tag := range s.Tags {
		kept := make([]model.TagItem, 0, len(tag.Items))
		for rev, ti := range tag.Items {
			it := item{stream: s, tag: tag.Name, rev: rev, item: ti}
			r, err := pl.decideItem(ctx, it, images, limits)
			if err != nil {
				return sp, err
			}
			pl.record(r)
			if r.Keep {
				kept = append(kept, ti)
				continue
			}
			sp.Deleted = append(sp.Deleted, ItemDecision{
				Namespace: s.Namespace, Stream: s.Name, Tag: tag.Name, Revision: rev, Image: ti.Image, Reason: r,
			})
			if img, ok := images[ti.Image]; ok && p.PruneRegistry {
				counts.release(img, &sp)
			}
		}
		if len(kept) > 0 {
			sp.Tags = append(sp.Tags, model.Tag{Name: tag.Name, Items: kept})
		}
	}
	return sp, nil
}

// keepAll records a keep decision with rule for every item of s.
func (pl *Planner) keepAll(s model.Stream, rule Rule) {
	if pl.trace == nil {
		return
	}
	for _, tag := range s.Tags {
		for rev, ti := range tag.Items {
			r := pl.policy.reason(item{stream: s, tag: tag.Name, rev: rev, item: ti}, rule, true)
			if rule == RuleStreamYoung {
				r.Created = s.Created
			}
			pl.record(r)
		}
	}
}

// decideItem applies the stage 1 rules in oc's order, reading the index only for the rule
// being tried.
func (pl *Planner) decideItem(ctx context.Context, it item, images map[string]model.Image, limits *lazyLimits) (Reason, error) {
	p := pl.policy
	repo := it.stream.Repo()
	if r, ok := p.ruleItemYoung(it); ok {
		return r, nil
	}
	if it.rev == 0 {
		refs, err := pl.reader.ReferrersOfTag(ctx, repo, it.tag)
		if err != nil {
			return Reason{}, fmt.Errorf("failed to read the referrers of image stream tag %s:%s: %w", repo, it.tag, err)
		}
		if r, ok := p.ruleTagReferenced(it, refs); ok {
			return r, nil
		}
	}
	img, found := images[it.item.Image]
	if r, ok := p.ruleImageMissing(it, found); ok {
		return r, nil
	}
	lr, err := limits.get(ctx, p.PruneOverSizeLimit)
	if err != nil {
		return Reason{}, err
	}
	if r, ok := p.ruleRevisionsOrSize(it, img, lr); ok {
		return r, nil
	}
	refs, err := pl.reader.ReferrersOfDigest(ctx, repo, it.item.Image)
	if err != nil {
		return Reason{}, fmt.Errorf("failed to read the referrers of image stream image %s@%s: %w", repo, it.item.Image, err)
	}
	if r, ok := p.ruleDigestReferenced(it, refs); ok {
		return r, nil
	}
	return p.ruleItemPrunable(it, img, lr), nil
}

// streamImages looks up every distinct image the stream's items name; missing ones are absent.
func (pl *Planner) streamImages(ctx context.Context, s model.Stream) (map[string]model.Image, error) {
	images := make(map[string]model.Image)
	seen := make(map[string]bool)
	for _, tag := range s.Tags {
		for _, ti := range tag.Items {
			if seen[ti.Image] {
				continue
			}
			seen[ti.Image] = true
			img, ok, err := pl.reader.Image(ctx, ti.Image)
			if err != nil {
				return nil, fmt.Errorf("failed to read image %s of image stream %s: %w", ti.Image, s.Repo(), err)
			}
			if ok {
				images[ti.Image] = img
			}
		}
	}
	return images, nil
}

// lazyLimits reads a namespace's LimitRanges once, and only in over-size mode.
type lazyLimits struct {
	reader    model.Reader
	namespace string
	loaded    bool
	limits    []model.LimitRange
}

func (l *lazyLimits) get(ctx context.Context, needed bool) ([]model.LimitRange, error) {
	if !needed || l.loaded {
		return l.limits, nil
	}
	lr, err := l.reader.LimitRanges(ctx, l.namespace)
	if err != nil {
		return nil, fmt.Errorf("failed to read the limit ranges of namespace %s: %w", l.namespace, err)
	}
	l.limits, l.loaded = lr, true
	return lr, nil
}

// repoCounts are the per-repository reference counts of stage 1: how many items of the
// stream name each manifest, and how many times its items' images name each blob.
type repoCounts struct {
	manifests map[string]int
	blobs     map[string]int
}

// newRepoCounts counts every item of s whose image exists, as oc does before pruning a stream.
func newRepoCounts(s model.Stream, images map[string]model.Image) repoCounts {
	c := repoCounts{manifests: make(map[string]int), blobs: make(map[string]int)}
	for _, tag := range s.Tags {
		for _, ti := range tag.Items {
			img, ok := images[ti.Image]
			if !ok {
				continue
			}
			c.manifests[img.Digest]++
			for _, b := range imageBlobs(img) {
				c.blobs[b]++
			}
		}
	}
	return c
}

// release decrements the counts of a dropped item's image and adds to sp the manifest link
// and layer links whose count reaches zero.
func (c repoCounts) release(img model.Image, sp *StreamPlan) {
	c.manifests[img.Digest]--
	if c.manifests[img.Digest] == 0 {
		sp.ManifestLinks = append(sp.ManifestLinks, img.Digest)
	}
	for _, b := range imageBlobs(img) {
		c.blobs[b]--
		if c.blobs[b] == 0 {
			sp.LayerLinks = append(sp.LayerLinks, b)
		}
	}
}
