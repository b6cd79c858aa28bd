package server_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"


	"github.com/pruneguard/pruneguard/bench/report"
	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/synth"
)

// startSize is the cluster the start-up benchmarks load into the API server. Issue 4 states
// its target at 100,000 pods and 50,000 images; synth scales every kind from the image count
// (pods are half the images), so no size holds both. L holds the 100,000 pods and four times
// the images (200,000), with every other kind at L as well: a harder cluster than the
// target's, never an easier one.
const startSize = synth.Large

// startTimeout bounds one start-up; far above the targets so a slow run is measured, not cut.
const startTimeout = 15 * time.Minute

// startCluster is loaded once into the shared control plane and kept for both benchmarks
// (benchmarks run after every test, and the other benchmarks of the package sort before
// these, so nothing else sees the extra objects).
var startCluster struct {
	once   sync.Once
	counts map[string]int
	total  int
	err    error
}

// loadStartCluster generates the startSize cluster and writes it straight into the control
// plane's etcd, once per process. It skips the benchmark unless `make bench` selects size L:
// the load and a cold start take minutes, too long for `make bench-quick`.
func loadStartCluster(b *testing.B) (map[string]int, int) {
	b.Helper()
	if !slices.Contains(report.Sizes(), string(startSize)) {
		b.Skipf("loads a size %s cluster; %s=%v does not select it", startSize, report.SizesEnv, report.Sizes())
	}
	startCluster.once.Do(func() {
		c, err := synth.Generate(synth.Options{Size: startSize, Seed: 1, Now: time.Now()})
		if err != nil {
			startCluster.err = err
			return
		}
		stats, err := synth.LoadEtcd(context.Background(), env.Control.ControlPlane.Etcd.URL.String(), c, 4)
		if err != nil {
			startCluster.err = fmt.Errorf("failed to load the size %s cluster: %w", startSize, err)
			return
		}
		b.Logf("loaded %d objects into etcd in %s", stats.Objects, stats.Duration.Round(time.Second))
		startCluster.counts, startCluster.total = c.Counts(), c.Total()
	})
	if startCluster.err != nil {
		b.Fatal(startCluster.err)
	}
	return startCluster.counts, startCluster.total
}

// BenchmarkColdStart measures `serve` from an empty data directory to an index in sync with
// a cluster of startSize: server.New (opening Badger) and Run until Synced, which lists every
// kind and rebuilds the index with batched writes. Each iteration starts from a fresh
// directory and checks that the index holds every pod and image of the cluster.
func BenchmarkColdStart(b *testing.B) {
	b.Run("size="+string(startSize), func(b *testing.B) {
		counts, total := loadStartCluster(b)
		var sum time.Duration
		for range b.N {
			s := startTimed(b, b.TempDir())
			if s.status != index.StatusNew {
				b.Fatalf("a fresh data directory opened as %v, want %v", s.status, index.StatusNew)
			}
			checkIndexHolds(b, s.running, counts)
			s.running.stop()
			sum += s.took
		}
		b.ReportMetric(sum.Seconds()/float64(b.N), "cold-start-s")
		reportClusterCounts(b, counts, total)
	})
}

// BenchmarkWarmStart measures a restart of `serve` on the data directory of a previous run
// while the cluster is unchanged: the index opens as ready and only a catch-up (a diff
// against the full list) runs, no rebuild. The first start, which builds the index, is not
// timed. Each iteration checks that the restart rebuilt nothing and left the index whole.
func BenchmarkWarmStart(b *testing.B) {
	b.Run("size="+string(startSize), func(b *testing.B) {
		counts, total := loadStartCluster(b)
		dir := b.TempDir()
		b.StopTimer()
		first := startTimed(b, dir)
		first.running.stop()
		b.StartTimer()
		var sum time.Duration
		var writes float64
		for range b.N {
			s := startTimed(b, dir)
			if s.status != index.StatusReady {
				b.Fatalf("the persisted index opened as %v, want %v (a rebuild)", s.status, index.StatusReady)
			}
			checkIndexHolds(b, s.running, counts)
			writes += counter(b, s.running.registry, "pruneguard_index_events_applied_total")
			s.running.stop()
			sum += s.took
		}
		b.ReportMetric(sum.Seconds()/float64(b.N), "warm-start-s")
		// What the catch-up wrote: near zero when the index already matched the cluster.
		b.ReportMetric(writes/float64(b.N), "catch-up-writes")
		reportClusterCounts(b, counts, total)
	})
}

// timedStart is one start of a server, with how long it took to be in sync.
type timedStart struct {
	running *running
	took    time.Duration
	// status is what the index found in the data directory when it opened.
	status index.Status
}

// startTimed starts a server as startServer does (the webhook included) and times it from
// server.New to Synced. The caller stops it.
func startTimed(b *testing.B, dataDir string) timedStart {
	b.Helper()
	start := time.Now()
	r := runServer(b, dataDir, startTimeout, nil)
	return timedStart{running: r, took: time.Since(start), status: r.opened}
}

// checkIndexHolds fails the benchmark unless the synced index holds exactly the cluster's
// pods and images: a start that reported Synced early would otherwise look fast.
func checkIndexHolds(b *testing.B, r *running, counts map[string]int) {
	b.Helper()
	ctx := context.Background()
	pods, images := 0, 0
	err := r.srv.Index().Objects(ctx, func(o model.Object) error {
		if o.Key.Kind == "Pod" {
			pods++
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.srv.Index().Images(ctx, func(model.Image) error { images++; return nil }); err != nil {
		b.Fatal(err)
	}
	if pods != counts["Pod"] || images != counts["Image"] {
		b.Fatalf("synced index holds %d pods and %d images, the cluster %d and %d", pods, images, counts["Pod"], counts["Image"])
	}
}

// reportClusterCounts records the size of the cluster the start was measured on.
func reportClusterCounts(b *testing.B, counts map[string]int, total int) {
	b.ReportMetric(float64(counts["Pod"]), "pods")
	b.ReportMetric(float64(counts["Image"]), "images")
	b.ReportMetric(float64(total), "objects")
	b.ReportMetric(0, "ns/op")
}
