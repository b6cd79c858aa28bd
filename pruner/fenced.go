package pruner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/fence"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// Step names a point between two steps of the fence protocol, for FencedOptions.Hook.
type Step string

// The points between the protocol's steps, in order.
const (
	StepFenced     Step = "fenced"     // the fence exists (Pending)
	StepPropagated Step = "propagated" // every serving replica observed it
	StepVerified   Step = "verified"   // a dry-run create was refused (Enforced)
	StepRechecked  Step = "rechecked"  // the index is fresh and the plan re-checked
	StepDeleting   Step = "deleting"   // phase Deleting recorded, nothing deleted yet
	StepDeleted    Step = "deleted"    // the deletion ran, not yet tombstoned
	StepTombstoned Step = "tombstoned" // Tombstoned; only the lift remains
)

// Auditor records audit trail entries; *audit.Recorder implements it.
type Auditor interface {
	Record(ctx context.Context, rec audit.Record) error
}

var _ Auditor = (*audit.Recorder)(nil)

// FencedOptions configure a FencedPruner. Client, Replicas, Prober, Barrier, Reader and
// Executor are required.
type FencedOptions struct {
	// Client writes fences; its scheme must hold pkg/fence's types.
	Client   client.Client
	Replicas ReplicaLister
	Prober   Prober
	Barrier  Barrier
	// Reader is the index the re-check reads (pending references included).
	Reader   model.Reader
	Executor *Executor
	// Tombstone is how long a fence stays Tombstoned before it is lifted; 0 lifts at once.
	Tombstone time.Duration
	// PropagationTimeout bounds the wait for every replica's observation; 0 means 10 s.
	PropagationTimeout time.Duration
	// Poll is how often the fence is read while waiting; 0 means 20 ms.
	Poll time.Duration
	// Audit, when set, receives a record per image fenced, kept, deleted and lifted.
	Audit  Auditor
	Logger logr.Logger
	// Now is the clock of tombstones; nil means time.Now.
	Now func() time.Time
	// Hook, when set, is called at each Step; an error stops the protocol there, as if the
	// process had been killed: nothing is cleaned up. Tests use it; Recover must then finish.
	Hook func(Step) error
}

// FencedPruner deletes a Plan through the fence protocol (DESIGN.md, "The fence"):
//
//  1. fence: create a Fence listing the plan's images, the tags whose current item goes, and
//     the blobs (and layer links) it frees;
//  2. propagate: wait until every serving webhook replica lists itself in status.observedBy;
//  3. verify: a server-side dry-run create of a probe pod referencing a fenced image must be
//     refused by this fence; then phase Enforced;
//  4. re-check: wait (Barrier) until the index reflects the API server at the Enforced
//     write's resource version, then re-plan: an item or image that gained a reference
//     (pending ones included) is kept;
//  5. delete what is still prunable (phase Deleting first);
//  6. tombstone (phase Tombstoned, prunedAt), and lift once Tombstone has passed.
//
// A failure in 1–4 lifts the fence and deletes nothing. A plan that fences nothing (stream
// items whose images all stay, without registry pruning) is deleted without a fence.
type FencedPruner struct {
	o FencedOptions
}

// NewFencedPruner returns a FencedPruner with o's defaults filled in.
func NewFencedPruner(o FencedOptions) *FencedPruner {
	if o.PropagationTimeout <= 0 {
		o.PropagationTimeout = 10 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 20 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &FencedPruner{o: o}
}

// ErrKilled is what Prune returns when the Hook stopped it.
var ErrKilled = errors.New("stopped by the test hook")

// Prune deletes plan through a fence and returns what was deleted. Policy is the policy the
// plan was made with; the re-check applies it again.
func (p *FencedPruner) Prune(ctx context.Context, plan *Plan, policy Policy) (*Outcome, error) {
	spec := fenceSpec(plan)
	if emptySpec(spec) {
		return p.o.Executor.Execute(ctx, plan)
	}
	f, err := p.create(ctx, spec, plan)
	if err != nil {
		return nil, err
	}
	p.audit(ctx, f, audit.ActionFenced, "")
	if err := p.hook(StepFenced); err != nil {
		return nil, err
	}
	return p.enforceAndDelete(ctx, f, plan, policy)
}

// enforceAndDelete runs steps 2–6 for a fence that exists: Prune after creating it, Recover
// for a fence found in phase Deleting.
func (p *FencedPruner) enforceAndDelete(ctx context.Context, f *fence.Fence, plan *Plan, policy Policy) (*Outcome, error) {
	checked, err := p.enforce(ctx, f, plan, policy)
	if errors.Is(err, ErrKilled) {
		return nil, err
	}
	if err != nil {
		return nil, errors.Join(err, p.lift(ctx, f.Name, err.Error()))
	}
	if err := p.setPhase(ctx, f.Name, fence.PhaseDeleting, "re-checked; deleting", nil); err != nil {
		return nil, errors.Join(err, p.lift(ctx, f.Name, err.Error()))
	}
	if err := p.hook(StepDeleting); err != nil {
		return nil, err
	}
	out, execErr := p.o.Executor.Execute(ctx, checked)
	if err := p.hook(StepDeleted); err != nil {
		return out, err
	}
	now := metav1.NewTime(p.o.Now())
	if err := p.setPhase(ctx, f.Name, fence.PhaseTombstoned, "deleted", &now); err != nil {
		return out, errors.Join(execErr, err)
	}
	if err := p.hook(StepTombstoned); err != nil {
		return out, err
	}
	if p.o.Tombstone <= 0 {
		err = p.lift(ctx, f.Name, "deleted")
	}
	return out, errors.Join(execErr, err)
}

// enforce runs propagate, verify and re-check, and returns the plan still prunable.
func (p *FencedPruner) enforce(ctx context.Context, f *fence.Fence, plan *Plan, policy Policy) (*Plan, error) {
	if err := p.propagate(ctx, f.Name); err != nil {
		return nil, err
	}
	if err := p.hook(StepPropagated); err != nil {
		return nil, err
	}
	if err := p.o.Prober.Probe(ctx, f); err != nil {
		return nil, fmt.Errorf("fence %s: %w", f.Name, err)
	}
	if err := p.setPhase(ctx, f.Name, fence.PhaseEnforced, "observed by every serving replica and verified", nil); err != nil {
		return nil, err
	}
	if err := p.hook(StepVerified); err != nil {
		return nil, err
	}
	var cur fence.Fence
	if err := p.o.Client.Get(ctx, client.ObjectKey{Name: f.Name}, &cur); err != nil {
		return nil, fmt.Errorf("failed to read fence %s: %w", f.Name, err)
	}
	if err := p.o.Barrier.Wait(ctx, cur.ResourceVersion); err != nil {
		return nil, fmt.Errorf("fence %s: %w", f.Name, err)
	}
	checked, err := p.recheck(ctx, plan, policy, &cur.Spec)
	if err != nil {
		return nil, fmt.Errorf("fence %s: re-check: %w", f.Name, err)
	}
	if err := p.hook(StepRechecked); err != nil {
		return nil, err
	}
	return checked, nil
}

func (p *FencedPruner) hook(s Step) error {
	if p.o.Hook == nil {
		return nil
	}
	if err := p.o.Hook(s); err != nil {
		return fmt.Errorf("%w at step %s: %w", ErrKilled, s, err)
	}
	return nil
}

// create makes the fence, named after its content's time so that fences sort by age.
func (p *FencedPruner) create(ctx context.Context, spec fence.Spec, plan *Plan) (*fence.Fence, error) {
	streams := make([]string, 0, len(plan.Streams))
	for _, s := range plan.Streams {
		streams = append(streams, s.Repo())
	}
	ann, err := json.Marshal(streams)
	if err != nil {
		return nil, err
	}
	f := &fence.Fence{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "prune-",
			Labels:       map[string]string{fence.LabelOwner: fence.OwnerPruner},
			Annotations:  map[string]string{fence.AnnotationStreams: string(ann)},
		},
		Spec: spec,
	}
	if err := p.o.Client.Create(ctx, f); err != nil {
		return nil, fmt.Errorf("failed to create a fence of %d image(s): %w", len(spec.Images), err)
	}
	p.o.Logger.V(1).Info("fence created", "fence", f.Name, "images", len(spec.Images), "tags", len(spec.Tags), "blobs", len(spec.Blobs))
	return f, nil
}

// propagate waits until every serving replica has observed the fence.
func (p *FencedPruner) propagate(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, p.o.PropagationTimeout)
	defer cancel()
	var missing []string
	for {
		replicas, err := p.o.Replicas.ServingReplicas(ctx)
		if err != nil {
			return fmt.Errorf("fence %s: %w", name, err)
		}
		if len(replicas) == 0 {
			return fmt.Errorf("fence %s: %w", name, ErrNoReplica)
		}
		var f fence.Fence
		if err := p.o.Client.Get(ctx, client.ObjectKey{Name: name}, &f); err != nil {
			return fmt.Errorf("failed to read fence %s: %w", name, err)
		}
		missing = missing[:0]
		for _, r := range replicas {
			if !f.ObservedByReplica(r) {
				missing = append(missing, r)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fence %s was not observed by replica(s) %v within %s: %w", name, missing, p.o.PropagationTimeout, ctx.Err())
		case <-time.After(p.o.Poll):
		}
	}
}

// setPhase applies the pruner's part of the status (phase, message, prunedAt).
func (p *FencedPruner) setPhase(ctx context.Context, name string, phase fence.Phase, msg string, prunedAt *metav1.Time) error {
	status := map[string]any{"phase": phase, "message": msg}
	if prunedAt != nil {
		status["prunedAt"] = prunedAt
	}
	body, err := json.Marshal(map[string]any{
		"apiVersion": fence.GroupVersion.String(), "kind": "Fence",
		"metadata": map[string]any{"name": name}, "status": status,
	})
	if err != nil {
		return err
	}
	err = p.o.Client.Status().Patch(ctx, &fence.Fence{ObjectMeta: metav1.ObjectMeta{Name: name}},
		client.RawPatch(types.ApplyPatchType, body), client.FieldOwner(fence.FieldManagerPruner), client.ForceOwnership)
	if err != nil {
		return fmt.Errorf("failed to set fence %s to phase %s: %w", name, phase, err)
	}
	return nil
}

// lift removes the fence. Lifting a fence that is gone is no error.
func (p *FencedPruner) lift(ctx context.Context, name, why string) error {
	// A cancelled ctx (the pruner is stopping) must not leave the fence standing for long;
	// the next start lifts it anyway, but try now with a short context of its own.
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
	}
	err := p.o.Client.Delete(ctx, &fence.Fence{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to lift fence %s: %w", name, err)
	}
	p.o.Logger.V(1).Info("fence lifted", "fence", name, "why", why)
	return nil
}

// audit records one action for every image a fence lists.
func (p *FencedPruner) audit(ctx context.Context, f *fence.Fence, action audit.Action, msg string) {
	if p.o.Audit == nil {
		return
	}
	for _, d := range f.Spec.Images {
		if err := p.o.Audit.Record(ctx, audit.Record{Action: action, Image: d, Message: "fence " + f.Name + msg}); err != nil {
			p.o.Logger.Error(err, "failed to record an audit entry", "image", d)
		}
	}
}
