package pruner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/fence"
)

// Recover finishes or lifts the fences that a pruner (this one before a restart, or a former
// leader) left behind, so that none stands for longer than a protocol run:
//
//   - Pending, Enforced or Lifting: nothing was deleted yet (Deleting is recorded before the
//     first delete), so the fence is lifted and the images are planned again later;
//   - Deleting: some of it may be deleted already, and a half-deleted image (blobs gone, Image
//     object still there) must not become referenceable again, so the fence is kept and the
//     protocol re-verified from step 2 — propagation to the replicas serving now, the probe,
//     a fresh barrier and re-check — and then resumed: what is still prunable is deleted,
//     the rest (a reference appeared, which a kill before Deleting cannot cause, but a
//     webhook outage can) is kept. Deletes are idempotent (404 is success);
//   - Tombstoned: lifted once its tombstone has passed.
//
// It returns the outcomes of the resumed fences, and every failure joined.
func (p *FencedPruner) Recover(ctx context.Context, policy Policy) ([]*Outcome, error) {
	var list fence.FenceList
	if err := p.o.Client.List(ctx, &list, client.MatchingLabels{fence.LabelOwner: fence.OwnerPruner}); err != nil {
		return nil, fmt.Errorf("failed to list the pruner's fences: %w", err)
	}
	var outs []*Outcome
	var errs []error
	for i := range list.Items {
		f := &list.Items[i]
		switch f.CurrentPhase() {
		case fence.PhaseDeleting:
			plan, err := p.resumePlan(ctx, f, policy)
			if err != nil {
				errs = append(errs, errors.Join(err, p.lift(ctx, f.Name, "could not be resumed")))
				continue
			}
			out, err := p.enforceAndDelete(ctx, f, plan, policy)
			if out != nil {
				outs = append(outs, out)
			}
			errs = append(errs, err)
		case fence.PhaseTombstoned:
			if f.Status.PrunedAt == nil || !p.o.Now().Before(f.Status.PrunedAt.Add(p.o.Tombstone)) {
				errs = append(errs, p.lift(ctx, f.Name, "tombstone expired"))
			}
		default:
			errs = append(errs, p.lift(ctx, f.Name, "left by a pruner that stopped before deleting"))
		}
	}
	return outs, errors.Join(errs...)
}

// LiftTombstones lifts the pruner's tombstoned fences whose tombstone has passed.
func (p *FencedPruner) LiftTombstones(ctx context.Context) error {
	var list fence.FenceList
	if err := p.o.Client.List(ctx, &list, client.MatchingLabels{fence.LabelOwner: fence.OwnerPruner}); err != nil {
		return fmt.Errorf("failed to list the pruner's fences: %w", err)
	}
	var errs []error
	for i := range list.Items {
		f := &list.Items[i]
		if f.CurrentPhase() == fence.PhaseTombstoned && f.Status.PrunedAt != nil && !p.o.Now().Before(f.Status.PrunedAt.Add(p.o.Tombstone)) {
			errs = append(errs, p.lift(ctx, f.Name, "tombstone expired"))
		}
	}
	return errors.Join(errs...)
}

// resumePlan plans again what a fence in phase Deleting covers: the streams its annotation
// names (each only when every tag whose current item it removes is fenced), and its images
// with the fenced blobs they use. The re-check then narrows it as for a new fence.
func (p *FencedPruner) resumePlan(ctx context.Context, f *fence.Fence, policy Policy) (*Plan, error) {
	var streams []string
	if a := f.Annotations[fence.AnnotationStreams]; a != "" {
		if err := json.Unmarshal([]byte(a), &streams); err != nil {
			return nil, fmt.Errorf("fence %s: annotation %s: %w", f.Name, fence.AnnotationStreams, err)
		}
	}
	tags := map[string]bool{}
	for _, t := range f.Spec.Tags {
		tags[t.Repo()+":"+t.Tag] = true
	}
	pl := NewPlanner(p.o.Reader, policy)
	plan := &Plan{}
	for _, repo := range streams {
		ns, name, _ := strings.Cut(repo, "/")
		s, ok, err := p.o.Reader.Stream(ctx, ns, name)
		if err != nil || !ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		sp, err := pl.PlanStream(ctx, s)
		if err != nil {
			return nil, err
		}
		if len(sp.Deleted) > 0 && coveredTags(sp, tags) {
			plan.Streams = append(plan.Streams, sp)
		}
	}
	blobs := map[string]bool{}
	for _, b := range f.Spec.Blobs {
		blobs[b] = true
	}
	for _, d := range f.Spec.Images {
		img, ok, err := p.o.Reader.Image(ctx, d)
		if err != nil {
			return nil, err
		}
		ip := ImagePlan{Digest: d}
		if ok {
			for _, b := range append(imageBlobs(img), d) {
				if blobs[b] {
					ip.Blobs = append(ip.Blobs, b)
				}
			}
		}
		plan.Images = append(plan.Images, ip)
	}
	return plan, nil
}

func coveredTags(sp StreamPlan, tags map[string]bool) bool {
	for _, d := range sp.Deleted {
		if d.Revision == 0 && !tags[sp.Repo()+":"+d.Tag] {
			return false
		}
	}
	return true
}
