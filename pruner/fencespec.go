package pruner

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/pruneguard/pruneguard/pkg/fence"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// fenceSpec lists what plan deletes that a new reference could still name: the Images, the
// tags whose current item goes, and the blobs and layer links it frees.
func fenceSpec(plan *Plan) fence.Spec {
	var spec fence.Spec
	blobs := map[string]bool{}
	addBlob := func(b string) {
		if !blobs[b] {
			blobs[b] = true
			spec.Blobs = append(spec.Blobs, b)
		}
	}
	for _, sp := range plan.Streams {
		for _, d := range sp.Deleted {
			if d.Revision == 0 {
				spec.Tags = append(spec.Tags, fence.Tag{Namespace: d.Namespace, ImageStream: d.Stream, Tag: d.Tag, Image: d.Image})
			}
		}
		for _, l := range sp.LayerLinks {
			addBlob(l)
		}
	}
	for _, ip := range plan.Images {
		spec.Images = append(spec.Images, ip.Digest)
		for _, b := range ip.Blobs {
			addBlob(b)
		}
	}
	sort.Strings(spec.Blobs)
	spec.Reason = fenceReason(plan)
	return spec
}

func emptySpec(s fence.Spec) bool { return len(s.Images) == 0 && len(s.Tags) == 0 && len(s.Blobs) == 0 }

// fenceReason says in one line why the fenced images go: the rule of the first image or item.
func fenceReason(plan *Plan) string {
	n := len(plan.Images)
	var first string
	switch {
	case n > 0:
		first = plan.Images[0].Reason.String()
	case len(plan.Streams) > 0 && len(plan.Streams[0].Deleted) > 0:
		first = plan.Streams[0].Deleted[0].Reason.String()
	}
	first = strings.TrimSpace(first)
	if len(first) > 900 {
		first = first[:900]
	}
	if n > 1 {
		return fmt.Sprintf("pruneguard prunes %d images; the first: %s", n, first)
	}
	return first
}

type itemKey struct{ repo, tag, image string }

// recheck plans again, from the index as it is now, what plan deletes, and returns the part
// still prunable. A stream is kept whole unless its fresh plan deletes exactly the planned
// items (so its layer and manifest links are the fresh plan's); an image is kept when a
// counted referrer names it (pending ones too), when a stream item this prune does not
// delete holds it, or when a manifest list holds it that this fence does not delete (a list
// fenced with its child goes with it, unless the re-check keeps the list); a blob is kept
// when an image outside the prune uses it. Nothing outside plan and spec is ever added.
func (p *FencedPruner) recheck(ctx context.Context, plan *Plan, policy Policy, spec *fence.Spec) (*Plan, error) {
	pl := NewPlanner(p.o.Reader, policy)
	out := &Plan{}
	deleted := map[itemKey]int{}
	for _, sp := range plan.Streams {
		fresh, ok, err := p.recheckStream(ctx, pl, sp)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		out.Streams = append(out.Streams, fresh)
		for _, d := range fresh.Deleted {
			deleted[itemKey{fresh.Repo(), d.Tag, d.Image}]++
		}
	}
	fenced := map[string]bool{}
	for _, d := range spec.Images {
		fenced[d] = true
	}
	var going []rechecked
	for _, ip := range plan.Images {
		if !fenced[ip.Digest] {
			continue
		}
		rc, keep, err := p.recheckImage(ctx, pl, ip, deleted, fenced)
		if err != nil {
			return nil, err
		}
		if !keep {
			going = append(going, rc)
		}
	}
	images := map[string]model.Image{}
	for _, rc := range keepChildrenOfKeptLists(going) {
		images[rc.plan.Digest] = rc.img
		out.Images = append(out.Images, rc.plan)
	}
	return out, p.recheckBlobs(ctx, out, images, spec)
}

// rechecked is an image the re-check found prunable, with the fenced manifest lists that
// still hold it: it goes only if they go too.
type rechecked struct {
	plan  ImagePlan
	img   model.Image
	lists []string
}

// keepChildrenOfKeptLists returns the images of going whose fenced lists all go as well,
// in going's order. A child of a list that the re-check kept is kept with it.
func keepChildrenOfKeptLists(going []rechecked) []rechecked {
	gone := map[string]bool{}
	for _, rc := range going {
		gone[rc.plan.Digest] = true
	}
	for changed := true; changed; {
		changed = false
		for _, rc := range going {
			if !gone[rc.plan.Digest] {
				continue
			}
			for _, l := range rc.lists {
				if !gone[l] {
					gone[rc.plan.Digest], changed = false, true
					break
				}
			}
		}
	}
	out := going[:0:0]
	for _, rc := range going {
		if gone[rc.plan.Digest] {
			out = append(out, rc)
		}
	}
	return out
}

// recheckStream re-plans one stream; ok is false when it must be kept this time.
func (p *FencedPruner) recheckStream(ctx context.Context, pl *Planner, sp StreamPlan) (StreamPlan, bool, error) {
	s, found, err := p.o.Reader.Stream(ctx, sp.Namespace, sp.Name)
	if err != nil || !found {
		return StreamPlan{}, false, err
	}
	fresh, err := pl.PlanStream(ctx, s)
	if err != nil {
		return StreamPlan{}, false, err
	}
	if len(fresh.Deleted) != len(sp.Deleted) {
		return StreamPlan{}, false, nil
	}
	want := map[itemKey]int{}
	for _, d := range sp.Deleted {
		want[itemKey{"", d.Tag, d.Image}]++
	}
	for _, d := range fresh.Deleted {
		k := itemKey{"", d.Tag, d.Image}
		if want[k] == 0 {
			return StreamPlan{}, false, nil
		}
		want[k]--
	}
	return fresh, true, nil
}

// recheckImage reports whether ip's image must be kept now. A manifest list holding it
// keeps it unless the list is fenced too; the fenced lists are returned in rc.lists.
func (p *FencedPruner) recheckImage(ctx context.Context, pl *Planner, ip ImagePlan, deleted map[itemKey]int, fenced map[string]bool) (rc rechecked, keep bool, err error) {
	digest := ip.Digest
	img, found, err := p.o.Reader.Image(ctx, digest)
	if err != nil || !found {
		return rc, true, err
	}
	rc.plan, rc.img = ip, img
	refs, err := p.o.Reader.ReferrersOfDigest(ctx, "", digest)
	if err != nil {
		return rc, true, err
	}
	if len(pl.policy.counted(refs)) > 0 {
		return rc, true, nil
	}
	items, err := p.o.Reader.StreamItemsOfImage(ctx, "", digest)
	if err != nil {
		return rc, true, err
	}
	held := map[itemKey]int{}
	for _, it := range items {
		held[itemKey{it.Repo, it.Tag, digest}]++
	}
	for k, n := range held {
		if deleted[k] < n {
			return rc, true, nil
		}
	}
	lists, err := pl.listsOf(ctx, digest)
	if err != nil {
		return rc, true, err
	}
	for _, l := range lists {
		if !fenced[l] {
			return rc, true, nil
		}
		rc.lists = append(rc.lists, l)
	}
	return rc, false, nil
}

// recheckBlobs drops from out's images the blobs that an image outside the prune uses now.
func (p *FencedPruner) recheckBlobs(ctx context.Context, out *Plan, images map[string]model.Image, spec *fence.Spec) error {
	fenced := map[string]bool{}
	for _, b := range spec.Blobs {
		fenced[b] = true
	}
	users := map[string]int{}
	for _, img := range images {
		seen := map[string]bool{}
		for _, b := range imageBlobs(img) {
			if !seen[b] {
				seen[b] = true
				users[b]++
			}
		}
	}
	for i := range out.Images {
		ip := &out.Images[i]
		kept := ip.Blobs[:0:0]
		for _, b := range ip.Blobs {
			if !fenced[b] {
				continue
			}
			n, err := p.o.Reader.BlobCount(ctx, "", b)
			if err != nil {
				return err
			}
			if n <= users[b] {
				kept = append(kept, b)
			}
		}
		ip.Blobs = kept
	}
	return nil
}
