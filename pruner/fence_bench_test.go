package pruner_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pruner"
)

// timedDeleter measures the time spent in Image deletes, which the fence overhead excludes.
type timedDeleter struct {
	next pruner.ImageDeleter
	mu   sync.Mutex
	busy time.Duration
}

func (d *timedDeleter) DeleteImage(ctx context.Context, digest string) error {
	start := time.Now()
	err := d.next.DeleteImage(ctx, digest)
	d.mu.Lock()
	d.busy += time.Since(start)
	d.mu.Unlock()
	return err
}

// BenchmarkFenceOverhead measures the fence protocol per deleted image, from the fence's
// creation to its lift, minus the deletes themselves, with batchSize images under one fence.
// Run with a small -benchtime, e.g. -benchtime=1x: each iteration is fenceRuns real protocol
// runs, and the median is taken over every run.
// "relist" is the barrier's default on a small cluster (each kind listed again); "follow" is
// what a large cluster gets (each kind followed until a bookmark).
func BenchmarkFenceOverhead(b *testing.B) {
	b.Run("relist", func(b *testing.B) { benchFence(b, 0) })
	b.Run("follow", func(b *testing.B) { benchFence(b, -1) })
}

// fenceRuns is the number of fenced prunes one iteration makes, so that -benchtime 1x still
// gives a median of several runs.
const fenceRuns = 3

func benchFence(b *testing.B, relistBelow int) {
	const batchSize = 10
	r := startRig(b, rigOptions{})
	r.opts.Barrier.(*pruner.WatchBarrier).RelistBelow = relistBelow
	b.Cleanup(func() { liftAll(b, r.client) })
	ctx := context.Background()
	timed := &timedDeleter{next: r.opts.Executor.Deleters.Images}
	o := r.opts
	exec := *o.Executor
	exec.Deleters.Images = timed
	o.Executor = &exec
	var steps []string
	last := time.Now()
	o.Hook = func(s pruner.Step) error {
		steps = append(steps, fmt.Sprintf("%s:%s", s, time.Since(last).Round(time.Millisecond)))
		last = time.Now()
		return nil
	}
	fp := pruner.NewFencedPruner(o)
	var perImage []float64
	iter := 0
	b.ResetTimer()
	for range b.N * fenceRuns {
		b.StopTimer()
		var digests []string
		for i := range batchSize {
			d, err := createImage(ctx, r.env.Client, fmt.Sprintf("bench-%d-%d-%d", time.Now().UnixNano(), iter, i))
			if err != nil {
				b.Fatal(err)
			}
			digests = append(digests, d)
		}
		iter++
		waitIndexed(b, r, digests...)
		time.Sleep(1100 * time.Millisecond)
		plan := r.planImages(ctx, b, digests)
		timed.busy = 0
		b.StartTimer()
		start := time.Now()
		steps, last = nil, start
		out, err := fp.Prune(ctx, plan, policyNow())
		b.Logf("steps: %v", steps)
		total := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(out.Plan.Images); n != batchSize {
			b.Fatalf("deleted %d images, want %d", n, batchSize)
		}
		perImage = append(perImage, float64(total-timed.busy)/float64(time.Millisecond)/batchSize)
	}
	sort.Float64s(perImage)
	b.ReportMetric(perImage[len(perImage)/2], "fence-ms/median")
	b.ReportMetric(batchSize, "images/fence")
}
