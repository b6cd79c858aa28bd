package pruner_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/bench/report"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/synth"
	"github.com/pruneguard/pruneguard/pruner"
)

// BenchmarkInvalidReferenceCheck measures what a continuous pass pays, at most once per
// ContinuousOptions.InvalidCheckInterval (pruner.DefaultInvalidCheckInterval), to find invalid references
// that the index's change feed does not report: pruner.CheckReferences over every referrer
// of a synthetic cluster (pkg/synth, seed 1), from an index that is already built.
//
// Run: PRUNEGUARD_BENCH_SIZES=S,M go test ./pruner/ -run '^$' -bench InvalidReferenceCheck
func BenchmarkInvalidReferenceCheck(b *testing.B) {
	for _, size := range report.Sizes() {
		b.Run("size="+size, func(b *testing.B) {
			now := time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)
			dump, _ := writeSynthDump(b, synth.Size(size), now)
			f, err := os.Open(dump)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			ctx := context.Background()
			r, closeFn, err := pruner.OpenDump(ctx, f, pruner.DumpOptions{TempDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = closeFn() }()
			objects := 0
			if err := r.Objects(ctx, func(model.Object) error { objects++; return nil }); err != nil {
				b.Fatal(err)
			}
			policy := pruner.NewOptions().Policy(now)
			b.ResetTimer()
			for b.Loop() {
				if err := pruner.CheckReferences(ctx, r, policy); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(per.Milliseconds()), "check-ms")
			b.ReportMetric(float64(objects), "referrers")
			// The share of a core the check costs when a pass deletes at least once per interval.
			b.ReportMetric(100*per.Seconds()/pruner.DefaultInvalidCheckInterval.Seconds(), "core-%/interval")
		})
	}
}
