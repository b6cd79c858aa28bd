package pruner_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pruner"
)

// trailRecorder keeps the audit records it is given.
type trailRecorder struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (r *trailRecorder) Record(_ context.Context, rec audit.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return nil
}

func (r *trailRecorder) of(action audit.Action, digest string) []audit.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []audit.Record
	for _, rec := range r.recs {
		if rec.Action == action && rec.Image == digest {
			out = append(out, rec)
		}
	}
	return out
}

// TestACandidateKeptIsRecordedOnceWithItsRuleAndReferrers: an Image that a change brings up
// and that a pod keeps gets one "kept" audit record naming the rule and the pod; further
// changes that keep it by the same rule add none; once the pod is gone the Image is deleted
// and that is recorded too.
func TestACandidateKeptIsRecordedOnceWithItsRuleAndReferrers(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ix := openIndex(t)
	opts := pruner.NewOptions()
	opts.Confirm, opts.PruneRegistry = true, false
	trail := &trailRecorder{}
	cont := pruner.NewContinuous(pruner.ContinuousOptions{
		Reader: ix, Feed: ix, Fenced: &applyDeleter{ix: ix}, Options: opts, MinGap: 10 * time.Millisecond,
		Audit: trail, Now: func() time.Time { return now },
	})
	runContinuous(t, cont)
	waitUntil(t, 30*time.Second, "the first full round", func() bool { return cont.Stats().Finished >= 1 })

	digest := seedDigest("kept")
	podKey := heldImage(t, ix, digest, now)
	waitUntil(t, 30*time.Second, "a kept record", func() bool { return len(trail.of(audit.ActionKept, digest)) > 0 })
	kept := trail.of(audit.ActionKept, digest)[0]
	if kept.Rule == "" || len(kept.Referrers) != 1 || kept.Referrers[0].Object != podKey {
		t.Fatalf("kept record %+v: want a rule and the pod %s as its referrer", kept, podKey)
	}

	// The pod changes phase: its Image comes up again and is kept by the same rule.
	pod, ok, err := ix.Object(ctx, podKey)
	if err != nil || !ok {
		t.Fatalf("pod %s: ok=%v err=%v", podKey, ok, err)
	}
	before := cont.Stats().Images
	pod.Phase, pod.ResourceVersion = "Pending", "2"
	if err := ix.Apply(ctx, index.PutObject(pod)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the Image planned again", func() bool { return cont.Stats().Images > before })
	waitQuiet(t, cont)
	if n := len(trail.of(audit.ActionKept, digest)); n != 1 {
		t.Errorf("%d kept records after a change that keeps the Image by the same rule, want 1", n)
	}

	if err := ix.Apply(ctx, index.DeleteObject(podKey)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the Image deleted", func() bool { return !exists(t, ix, digest) })
	waitUntil(t, 10*time.Second, "a deleted record", func() bool { return len(trail.of(audit.ActionDeleted, digest)) == 1 })
}
