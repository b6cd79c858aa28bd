package pruner_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/synth"
	"github.com/pruneguard/pruneguard/pkg/testenv"
	"github.com/pruneguard/pruneguard/pruner"
)

// BenchmarkOneShotPlan compares a full default plan made by listing a real API server page by
// page (what `prune images` does against a cluster) with one made from a dump of the same
// synthetic S-size cluster (--from-file): time per plan and the peak resident memory of the
// process during it (VmHWM, reset before each run through /proc/self/clear_refs).
//
// The API server stamps creation times at load, so the two plans are not expected to be
// equal (planned-items shows each one's work); what is compared is the cost of reaching the
// same set of objects. Run: go test ./pruner/ -run '^$' -bench OneShotPlan -benchtime 3x
func BenchmarkOneShotPlan(b *testing.B) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)
	cl, err := synth.Generate(synth.Options{Size: synth.Small, Seed: 1, Now: now, NoInvalidRefs: true})
	if err != nil {
		b.Fatal(err)
	}
	var dump bytes.Buffer
	if err := synth.WriteDump(&dump, cl); err != nil {
		b.Fatal(err)
	}
	env := testenv.StartT(b, testenv.Options{})
	stats, err := synth.Load(ctx, env.Client, cl, 8)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d objects in %s", stats.Objects, stats.Duration)
	policy := pruner.NewOptions().Policy(now)
	// Streams and Images loaded now are young at the synthetic now; judge the live state two
	// hours after the load, so that its plan has work as the dump's has.
	livePolicy := pruner.NewOptions().Policy(time.Now().Add(2 * time.Hour))

	b.Run("source=live/size=S", func(b *testing.B) {
		benchPlan(b, func() (model.Reader, func() error, error) {
			l, err := pruner.ListCluster(ctx, env.Client, pruner.ListOptions{})
			if err != nil {
				return nil, nil, err
			}
			return l.Reader, l.Close, nil
		}, livePolicy)
	})
	b.Run("source=from-file/size=S", func(b *testing.B) {
		benchPlan(b, func() (model.Reader, func() error, error) {
			return pruner.OpenDump(ctx, bytes.NewReader(dump.Bytes()), pruner.DumpOptions{})
		}, policy)
	})
}

func benchPlan(b *testing.B, open func() (model.Reader, func() error, error), policy pruner.Policy) {
	b.Helper()
	defer pruner.LimitOneShotHeap()() // as the one-shot commands run
	resetPeakRSS(b)
	items := 0
	for b.Loop() {
		r, closeFn, err := open()
		if err != nil {
			b.Fatal(err)
		}
		plan, err := pruner.NewPlanner(r, policy).Plan(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		items = plan.Summary().DeletedImageStreamTagItems
		if err := closeFn(); err != nil {
			b.Fatal(err)
		}
	}
	// Not the names of the full-plan targets: BenchmarkPlan reports those, at every size.
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "one-shot-plan-s")
	b.ReportMetric(peakRSSMiB(b), "one-shot-plan-MiB/peak-rss")
	b.ReportMetric(float64(items), "planned-items")
}

// resetPeakRSS resets the process's VmHWM to its current RSS (Linux 4.0 and later).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS (%v); it covers the whole process", err)
	}
}

// peakRSSMiB reads VmHWM from /proc/self/status.
func peakRSSMiB(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
