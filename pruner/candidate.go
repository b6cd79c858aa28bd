package pruner

import (
	"context"
	"fmt"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// ManifestListReader is implemented by readers that can name the manifest lists holding an
// image as a child. PlanImage uses it when the reader has it and scans every image otherwise.
type ManifestListReader interface {
	ListsOfChild(ctx context.Context, digest string) ([]string, error)
}

// PlanImage decides one Image as stage 2 of a full plan would, reading only its own entries in
// the index: the stream items holding it, the manifest lists holding it, its referrers and the
// counts of its blobs. It assumes the index reflects stage 1 already (pruned items are gone),
// which is the case in the continuous mode. ok is false when the image is kept or does not
// exist; then ImagePlan.Reason says why (and is zero for a missing image).
//
// Its blob decisions equal the full plan's once every candidate has been planned and deleted
// in turn: a blob goes with the last image that uses it.
func (pl *Planner) PlanImage(ctx context.Context, digest string) (ImagePlan, bool, error) {
	p := pl.policy
	img, found, err := pl.reader.Image(ctx, digest)
	if err != nil || !found {
		return ImagePlan{Digest: digest}, false, wrapImageErr(digest, err)
	}
	if p.Namespace != "" {
		return ImagePlan{Digest: digest, Reason: p.imageReason(img, RuleNamespaceMode, true)}, false, nil
	}
	r, err := pl.decideCandidate(ctx, img)
	if err != nil {
		return ImagePlan{Digest: digest}, false, err
	}
	pl.record(r)
	if r.Keep {
		return ImagePlan{Digest: digest, Reason: r}, false, nil
	}
	ip := ImagePlan{Digest: digest, Reason: r}
	if p.PruneRegistry {
		if ip.Blobs, err = pl.freedBlobs(ctx, img); err != nil {
			return ip, false, err
		}
	}
	return ip, true, nil
}

func wrapImageErr(digest string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("failed to read image %s: %w", digest, err)
}

// decideCandidate applies the stage 2 rules with point lookups instead of the full plan's maps.
func (pl *Planner) decideCandidate(ctx context.Context, img model.Image) (Reason, error) {
	h, ok, err := pl.holderOf(ctx, img.Digest)
	if err != nil {
		return Reason{}, err
	}
	if r, keep := pl.policy.ruleHeld(img, h, ok); keep {
		return r, nil
	}
	h, ok, err = pl.listHolderOf(ctx, img.Digest)
	if err != nil {
		return Reason{}, err
	}
	held := map[string]holder{}
	children := map[string]holder{}
	if ok {
		children[img.Digest] = h
	}
	return pl.decideImage(ctx, img, held, children)
}

// holderOf returns the first stream item holding digest.
func (pl *Planner) holderOf(ctx context.Context, digest string) (holder, bool, error) {
	items, err := pl.reader.StreamItemsOfImage(ctx, "", digest)
	if err != nil {
		return holder{}, false, fmt.Errorf("failed to read the stream items of image %s: %w", digest, err)
	}
	if len(items) == 0 {
		return holder{}, false, nil
	}
	return holder{stream: items[0].Repo, tag: items[0].Tag, rev: items[0].Position}, true, nil
}

// listHolderOf returns what keeps a manifest list that has digest as a child, if anything.
func (pl *Planner) listHolderOf(ctx context.Context, digest string) (holder, bool, error) {
	lists, err := pl.listsOf(ctx, digest)
	if err != nil {
		return holder{}, false, err
	}
	for _, l := range lists {
		h, ok, err := pl.holderOf(ctx, l)
		if err != nil {
			return holder{}, false, err
		}
		if !ok {
			refs, err := pl.digestReferrers(ctx, l)
			if err != nil {
				return holder{}, false, err
			}
			h, ok = holder{referrers: refs}, len(refs) > 0
		}
		if ok {
			h.list = l
			return h, true, nil
		}
	}
	return holder{}, false, nil
}

// listsOf names the manifest lists holding digest, by the reader's lookup when it has one.
func (pl *Planner) listsOf(ctx context.Context, digest string) ([]string, error) {
	if lr, ok := pl.reader.(ManifestListReader); ok {
		return lr.ListsOfChild(ctx, digest)
	}
	var lists []string
	err := pl.reader.Images(ctx, func(img model.Image) error {
		for _, c := range img.Children {
			if c == digest {
				lists = append(lists, img.Digest)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to find the manifest lists of image %s: %w", digest, err)
	}
	return lists, nil
}

// freedBlobs returns the blobs that deleting img frees: its layers and config that no other
// image uses, then its manifest blob unless another image uses that digest as a blob.
func (pl *Planner) freedBlobs(ctx context.Context, img model.Image) ([]string, error) {
	var freed []string
	seen := map[string]bool{}
	for _, b := range imageBlobs(img) {
		if seen[b] {
			continue
		}
		seen[b] = true
		n, err := pl.reader.BlobCount(ctx, "", b)
		if err != nil {
			return nil, fmt.Errorf("failed to count the images using blob %s: %w", b, err)
		}
		if n <= 1 {
			freed = append(freed, b)
		}
	}
	n, err := pl.reader.BlobCount(ctx, "", img.Digest)
	if err != nil {
		return nil, fmt.Errorf("failed to count the images using blob %s: %w", img.Digest, err)
	}
	if n == 0 {
		freed = append(freed, img.Digest)
	}
	return freed, nil
}
