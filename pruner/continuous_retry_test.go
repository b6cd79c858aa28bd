package pruner_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pruner"
)

// failingDeleter fails every Prune while failing is set (as a registry that is down does:
// nothing deleted, an error returned), and applies the plan to the index otherwise.
type failingDeleter struct {
	applyDeleter
	failing  atomic.Bool
	attempts atomic.Int64 // Prune calls that failed
}

var errRegistryDown = errors.New("registry down")

func (d *failingDeleter) Prune(ctx context.Context, plan *pruner.Plan, p pruner.Policy) (*pruner.Outcome, error) {
	if d.failing.Load() {
		d.attempts.Add(1)
		return &pruner.Outcome{Plan: &pruner.Plan{}}, errRegistryDown
	}
	return d.applyDeleter.Prune(ctx, plan, p)
}

// heldImage puts an old unreferenced-but-for-a-pod Image and its Running pod in ix and
// returns the pod's key.
func heldImage(t *testing.T, ix *index.Index, digest string, now time.Time) model.ObjectKey {
	t.Helper()
	ctx := context.Background()
	img := model.Image{Digest: digest, Created: now.Add(-time.Hour), Managed: true}
	key := model.ObjectKey{Kind: model.KindPod, Namespace: "app", Name: "user"}
	pod := model.Object{Key: key, Created: now.Add(-time.Hour), Phase: "Running", Refs: []model.Ref{{
		FieldPath: "spec.containers[app].image", Container: "app", Kind: model.RefDockerImage,
		Raw: pullSpec(digest), Repo: "pool/app", Digest: digest,
	}}}
	if err := ix.Apply(ctx, index.PutImage(img), index.PutObject(pod)); err != nil {
		t.Fatal(err)
	}
	return key
}

func exists(t *testing.T, ix *index.Index, digest string) bool {
	t.Helper()
	_, ok, err := ix.Image(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestAFailedDeleteIsRetriedWithBackoffNotAtTheNextFullRound: the deletion of a candidate
// fails (the registry is down); the pruner tries it again after a backoff that doubles, so it
// neither waits for the next full round (10 min) nor tries every MinGap, and once the
// deletion can succeed the candidate goes without a full round.
func TestAFailedDeleteIsRetriedWithBackoffNotAtTheNextFullRound(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ix := openIndex(t)
	digest := seedDigest("retry")
	pod := heldImage(t, ix, digest, now)
	opts := pruner.NewOptions()
	opts.Confirm, opts.PruneRegistry = true, false
	del := &failingDeleter{applyDeleter: applyDeleter{ix: ix}}
	del.failing.Store(true)
	cont := pruner.NewContinuous(pruner.ContinuousOptions{
		Reader: ix, Feed: ix, Fenced: del, Options: opts, MinGap: 10 * time.Millisecond,
		RetryBase: 100 * time.Millisecond, RetryMax: time.Second,
		Now: func() time.Time { return now },
	})
	runContinuous(t, cont)
	waitUntil(t, 30*time.Second, "the first full round", func() bool { return cont.Stats().Finished >= 1 })

	if err := ix.Apply(ctx, index.DeleteObject(pod)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the first failed attempt", func() bool { return del.attempts.Load() >= 1 })
	first := time.Now()
	time.Sleep(1500 * time.Millisecond)
	// Backoff 100, 200, 400, 800 ms: attempts at about 0, 0.1, 0.3, 0.7 and 1.5 s. Without the
	// backoff there would be one (no retry before the full round) or ~100 (one per MinGap).
	n := del.attempts.Load()
	if n < 3 || n > 6 {
		t.Fatalf("%d failed attempts in %s after the first: want 3-6 (a doubling backoff from 100 ms)", n, time.Since(first).Round(time.Millisecond))
	}
	if st := cont.Stats(); st.Retrying == 0 {
		t.Errorf("stats %+v: the failed candidate is not counted as retrying", st)
	}
	if !exists(t, ix, digest) {
		t.Fatal("the image went although every deletion failed")
	}

	del.failing.Store(false)
	waitUntil(t, 5*time.Second, "the retried candidate to be deleted", func() bool { return !exists(t, ix, digest) })
	waitUntil(t, 5*time.Second, "the retry to be forgotten", func() bool { return cont.Stats().Retrying == 0 })
	if st := cont.Stats(); st.FullRounds != 1 {
		t.Fatalf("stats %+v: the retry came from a full round", st)
	}
	t.Logf("%d failed attempts, then deleted; stats %+v", del.attempts.Load(), cont.Stats())
}

// TestANewInvalidReferenceHoldsPassesUntilItIsFixed: an object with an invalid reference
// appears after the full round (the index reports no change for it); a pass that would then
// delete finds it and deletes nothing, as `prune images` would; once the object is gone
// (again without a change event), the held candidate goes, without a full round.
func TestANewInvalidReferenceHoldsPassesUntilItIsFixed(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ix := openIndex(t)
	digest := seedDigest("invalid-hold")
	pod := heldImage(t, ix, digest, now)
	opts := pruner.NewOptions()
	opts.Confirm, opts.PruneRegistry = true, false
	del := &applyDeleter{ix: ix}
	cont := pruner.NewContinuous(pruner.ContinuousOptions{
		Reader: ix, Feed: ix, Fenced: del, Options: opts,
		RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond, InvalidCheckInterval: time.Nanosecond,
		Now: func() time.Time { return now },
	})
	runContinuous(t, cont)
	waitUntil(t, 30*time.Second, "the first full round", func() bool { return cont.Stats().Finished >= 1 })

	badKey := model.ObjectKey{Kind: model.KindPod, Namespace: "app", Name: "bad"}
	bad := model.Object{Key: badKey, Created: now.Add(-time.Minute), Phase: "Running", Refs: []model.Ref{{
		FieldPath: "spec.containers[app].image", Container: "app", Kind: model.RefDockerImage,
		Raw: "Not A Reference", Invalid: "invalid reference format",
	}}}
	if err := ix.Apply(ctx, index.PutObject(bad)); err != nil {
		t.Fatal(err)
	}
	if err := ix.Apply(ctx, index.DeleteObject(pod)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the candidate to be held", func() bool { return cont.Stats().Retrying > 0 })
	time.Sleep(500 * time.Millisecond)
	if !exists(t, ix, digest) {
		t.Fatal("a pass deleted the image although an invalid reference exists")
	}

	if err := ix.Apply(ctx, index.DeleteObject(badKey)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the held candidate to be deleted once the reference is fixed", func() bool { return !exists(t, ix, digest) })
	if st := cont.Stats(); st.FullRounds != 1 {
		t.Fatalf("stats %+v: a full round, not a pass, deleted the image", st)
	}
}
