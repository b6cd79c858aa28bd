package pruner_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pruner"
)

// TestImagePassingTheCutoffIsPrunedByItsTimer: an unreferenced Image younger than
// --keep-younger-than survives the full round; when the clock passes its creation time plus
// the flag, the timer (not a full round) brings it up and it goes, and the time to prune is
// measured from that crossing.
func TestImagePassingTheCutoffIsPrunedByItsTimer(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ix := openIndex(t)
	img := model.Image{Digest: seedDigest("timer"), Name: "timer", Created: t0.Add(-10 * time.Minute), Managed: true}
	if err := ix.Apply(ctx, index.PutImage(img)); err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	opts := pruner.NewOptions()
	keep := 30 * time.Minute
	opts.KeepYoungerThan, opts.Confirm, opts.PruneRegistry = &keep, true, false
	metrics, err := audit.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	del := &applyDeleter{ix: ix}
	cont := pruner.NewContinuous(pruner.ContinuousOptions{
		Reader: ix, Feed: ix, Fenced: del, Options: opts, Metrics: metrics,
		Now: func() time.Time { return time.Unix(0, clock.Load()).UTC() },
	})
	runContinuous(t, cont)
	waitUntil(t, 30*time.Second, "the first full round", func() bool { return cont.Stats().FullRounds == 1 })
	cont.Kick()
	time.Sleep(300 * time.Millisecond)
	if n := len(del.deleted().Images); n != 0 {
		t.Fatalf("the image younger than the cutoff was deleted (%d)", n)
	}
	crossing := img.Created.Add(keep)
	clock.Store(crossing.Add(3 * time.Second).UnixNano())
	cont.Kick()
	waitUntil(t, 10*time.Second, "the timer to prune the image", func() bool { return len(del.deleted().Images) == 1 })
	if st := cont.Stats(); st.FullRounds != 1 || st.Images < 1 {
		t.Fatalf("stats %+v: want the image planned as a candidate, no second full round", st)
	}
	h := &dto.Metric{}
	if err := metrics.TimeToPrune.Write(h); err != nil {
		t.Fatal(err)
	}
	if got := h.GetHistogram().GetSampleSum(); h.GetHistogram().GetSampleCount() != 1 || got != 3 {
		t.Fatalf("time to prune: %d sample(s), sum %v s; want one of 3 s (from the crossing)", h.GetHistogram().GetSampleCount(), got)
	}
}
