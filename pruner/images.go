package pruner

import (
	"context"
	"fmt"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Plan makes the full plan: invalid references first (they abort unless ignored), then stage 1
// over every stream of the namespace (or all), then stage 2 over every Image unless a
// namespace is set. See Planner for the rules. The plan is deterministic for a given index:
// streams and images are planned in the order the reader returns them.
func (pl *Planner) Plan(ctx context.Context) (*Plan, error) {
	p := pl.policy
	if !p.IgnoreInvalidRefs {
		if err := CheckReferences(ctx, pl.reader, p); err != nil {
			return nil, err
		}
	}
	plan := &Plan{Streams: []StreamPlan{}, Images: []ImagePlan{}}
	held := make(map[string]holder)
	err := pl.reader.Streams(ctx, p.Namespace, func(s model.Stream) error {
		sp, err := pl.PlanStream(ctx, s)
		if err != nil {
			return err
		}
		if len(sp.Deleted) > 0 {
			plan.Streams = append(plan.Streams, sp)
		}
		markHeld(held, sp)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to plan the image streams: %w", err)
	}
	if p.Namespace != "" {
		return plan, pl.traceNamespaceMode(ctx)
	}
	if plan.Images, err = pl.planImages(ctx, held); err != nil {
		return nil, fmt.Errorf("failed to plan the images: %w", err)
	}
	return plan, nil
}

// markHeld records the first item that holds each image after stage 1.
func markHeld(held map[string]holder, sp StreamPlan) {
	repo := sp.Repo()
	for _, tag := range sp.Tags {
		for rev, ti := range tag.Items {
			if _, ok := held[ti.Image]; !ok {
				held[ti.Image] = holder{stream: repo, tag: tag.Name, rev: rev}
			}
		}
	}
}

// traceNamespaceMode records, for explain, that no Image is considered with --namespace.
func (pl *Planner) traceNamespaceMode(ctx context.Context) error {
	if pl.trace == nil {
		return nil
	}
	return pl.reader.Images(ctx, func(img model.Image) error {
		pl.record(pl.policy.imageReason(img, RuleNamespaceMode, true))
		return nil
	})
}

// planImages is stage 2. A first pass over the images counts every blob globally and finds
// the children of manifest lists that are held (or named by a referrer); a second pass
// decides each image and releases the blobs of those it deletes.
func (pl *Planner) planImages(ctx context.Context, held map[string]holder) ([]ImagePlan, error) {
	counts := newBlobCounts()
	children := make(map[string]holder)
	err := pl.reader.Images(ctx, func(img model.Image) error {
		counts.add(img.Digest, 1)
		for _, b := range imageBlobs(img) {
			counts.add(b, 1)
		}
		return pl.markChildren(ctx, img, held, children)
	})
	if err != nil {
		return nil, err
	}
	plans := []ImagePlan{}
	err = pl.reader.Images(ctx, func(img model.Image) error {
		r, err := pl.decideImage(ctx, img, held, children)
		if err != nil {
			return err
		}
		pl.record(r)
		if !r.Keep {
			plans = append(plans, pl.releaseImage(img, r, counts))
		}
		return nil
	})
	return plans, err
}

// markChildren records the children of img when img is a manifest list that an item holds
// or, pruneguard, a counted referrer names by digest. It looks one level down only: the
// children of a child are not protected through it, as in oc.
func (pl *Planner) markChildren(ctx context.Context, img model.Image, held, children map[string]holder) error {
	if len(img.Children) == 0 {
		return nil
	}
	h, ok := held[img.Digest]
	if !ok {
		refs, err := pl.digestReferrers(ctx, img.Digest)
		if err != nil {
			return err
		}
		if len(refs) == 0 {
			return nil
		}
		h = holder{referrers: refs}
	}
	h.list = img.Digest
	for _, c := range img.Children {
		if _, done := children[c]; !done {
			children[c] = h
		}
	}
	return nil
}

// digestReferrers returns the counted referrers that name digest under any repository.
func (pl *Planner) digestReferrers(ctx context.Context, digest string) ([]model.Referrer, error) {
	refs, err := pl.reader.ReferrersOfDigest(ctx, "", digest)
	if err != nil {
		return nil, fmt.Errorf("failed to read the referrers of image %s: %w", digest, err)
	}
	return pl.policy.counted(refs), nil
}

// decideImage applies the stage 2 rules in order.
func (pl *Planner) decideImage(ctx context.Context, img model.Image, held, children map[string]holder) (Reason, error) {
	p := pl.policy
	h, ok := held[img.Digest]
	if r, keep := p.ruleHeld(img, h, ok); keep {
		return r, nil
	}
	h, ok = children[img.Digest]
	if r, keep := p.ruleHeld(img, h, ok); keep {
		return r, nil
	}
	if r, keep := p.ruleUnmanaged(img); keep {
		return r, nil
	}
	if r, keep := p.ruleImageYoung(img); keep {
		return r, nil
	}
	refs, err := pl.digestReferrers(ctx, img.Digest)
	if err != nil {
		return Reason{}, err
	}
	if r, keep := p.ruleDigestNamed(img, refs); keep {
		return r, nil
	}
	return p.imageReason(img, RuleImageUnused, false), nil
}

// releaseImage plans the deletion of img: with registry pruning, each of its blobs whose
// global count reaches zero, then its manifest blob when that count reaches zero.
func (pl *Planner) releaseImage(img model.Image, r Reason, counts *blobCounts) ImagePlan {
	ip := ImagePlan{Digest: img.Digest, Reason: r}
	if !pl.policy.PruneRegistry {
		return ip
	}
	for _, b := range imageBlobs(img) {
		if counts.add(b, -1) == 0 {
			ip.Blobs = append(ip.Blobs, b)
		}
	}
	if counts.add(img.Digest, -1) == 0 {
		ip.Blobs = append(ip.Blobs, img.Digest)
	}
	return ip
}
