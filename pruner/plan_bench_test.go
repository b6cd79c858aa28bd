package pruner_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/bench/report"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/synth"
	"github.com/pruneguard/pruneguard/pruner"
)

// candidateSamples is how many images BenchmarkPlan decides one at a time.
const candidateSamples = 1000

// BenchmarkPlan puts the three ways of deciding on one synthetic cluster (pkg/synth, seed 1)
// side by side, at each size report.Sizes selects:
//
//   - full-plan: the one-shot prune's full scan, as `prune images --from-file` runs it: read
//     every object of the dump, build the (temporary) index, plan the whole policy. The API
//     server's paging is left out (BenchmarkOneShotPlan measures it at size S), so this is the
//     cheaper side of oc's way; full-plan-load-s is the part of it spent loading the dump
//     (OpenDump);
//   - index-plan: the same whole plan from an index that is already built, as the continuous
//     mode's round makes it from the live index;
//   - candidate: one image decided from that index with PlanImage (what the continuous mode
//     needs when one image loses its last referrer), candidateSamples random images, through
//     the continuous mode's ListReader.
//
// Peak RSS is the process's VmHWM, reset before each step; the generated cluster is freed
// before it. Both plans must agree, or the benchmark fails.
func BenchmarkPlan(b *testing.B) {
	for _, size := range report.Sizes() {
		b.Run("size="+size, func(b *testing.B) { benchPlanSize(b, synth.Size(size)) })
	}
}

// planFigures are what one BenchmarkPlan iteration measures.
type planFigures struct {
	full, load, index      time.Duration
	fullRSS, indexRSS      float64
	candidates             []time.Duration
	items, images, images2 int
}

func benchPlanSize(b *testing.B, size synth.Size) {
	now := time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)
	dump, digests := writeSynthDump(b, size, now)
	policy := pruner.NewOptions().Policy(now)
	var last planFigures
	b.ResetTimer()
	for range b.N {
		last = planOnce(b, dump, digests, policy)
	}
	b.StopTimer()
	if last.images != last.images2 {
		b.Fatalf("the full scan plans %d images, the index plan %d", last.images, last.images2)
	}
	b.ReportMetric(last.full.Seconds(), "full-plan-s")
	b.ReportMetric(last.fullRSS, "full-plan-MiB/peak-rss")
	b.ReportMetric(last.load.Seconds(), "full-plan-load-s")
	b.ReportMetric(last.index.Seconds(), "index-plan-s")
	b.ReportMetric(last.indexRSS, "index-plan-MiB/peak-rss")
	var sum time.Duration
	for _, d := range last.candidates {
		sum += d
	}
	b.ReportMetric(float64(sum)/float64(len(last.candidates))/float64(time.Millisecond), "candidate-ms/op")
	report.Latencies(b, "candidate-ms", time.Millisecond, last.candidates)
	b.ReportMetric(float64(len(digests)), "images")
	b.ReportMetric(float64(last.images), "images-pruned")
	b.ReportMetric(float64(last.items), "items-pruned")
}

// writeSynthDump generates the cluster of size, writes its dump into a file and returns the
// file and the cluster's image digests. The cluster itself is dropped and its memory returned
// to the system, so that it does not count in the peak RSS of the plans.
func writeSynthDump(b *testing.B, size synth.Size, now time.Time) (string, []string) {
	cl, err := synth.Generate(synth.Options{Size: size, Seed: 1, Now: now, NoInvalidRefs: true})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "cluster.json")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := synth.WriteDump(f, cl); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	digests := cl.ImageDigests()
	cl = nil
	runtime.GC()
	debug.FreeOSMemory()
	return path, digests
}

func planOnce(b *testing.B, dump string, digests []string, policy pruner.Policy) planFigures {
	ctx := context.Background()
	var fig planFigures
	// The full scan runs as the one-shot commands run it, under their heap limit; the index
	// plan stands for serve's full round, which has none.
	restore := pruner.LimitOneShotHeap()
	resetPeak(b)
	start := time.Now()
	f, err := os.Open(dump)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r, closeFn, err := pruner.OpenDump(ctx, f, pruner.DumpOptions{TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	fig.load = time.Since(start)
	defer func() {
		if err := closeFn(); err != nil {
			b.Error(err)
		}
	}()
	full := mustPlan(b, r, policy)
	fig.full, fig.fullRSS = time.Since(start), peak(b)
	fig.items, fig.images = full.Summary().DeletedImageStreamTagItems, len(full.Images)
	restore()

	runtime.GC()
	debug.FreeOSMemory()
	resetPeak(b)
	start = time.Now()
	again := mustPlan(b, r, policy)
	fig.index, fig.indexRSS = time.Since(start), peak(b)
	fig.images2 = len(again.Images)

	// The continuous mode plans from the index with its manifest-list map, built once when
	// the leader starts (ListReader); without it every unheld image costs a scan of all.
	lists := pruner.NewListReader(r)
	if err := lists.Load(ctx); err != nil {
		b.Fatal(err)
	}
	pl := pruner.NewPlanner(lists, policy)
	rng := rand.New(rand.NewPCG(1, 2))
	for range candidateSamples {
		d := digests[rng.IntN(len(digests))]
		start := time.Now()
		if _, _, err := pl.PlanImage(ctx, d); err != nil {
			b.Fatal(err)
		}
		fig.candidates = append(fig.candidates, time.Since(start))
	}
	return fig
}

func mustPlan(b *testing.B, r model.Reader, policy pruner.Policy) *pruner.Plan {
	plan, err := pruner.NewPlanner(r, policy).Plan(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return plan
}

func resetPeak(b *testing.B) {
	if err := report.ResetPeakRSS(); err != nil {
		b.Logf("%v; the peak RSS covers the whole process", err)
	}
}

func peak(b *testing.B) float64 {
	v, err := report.PeakRSSMiB()
	if err != nil {
		b.Fatal(err)
	}
	return v
}
