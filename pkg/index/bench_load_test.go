package index

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/bench/report"
)

// The one-shot prune (--from-file) loads a whole cluster into a throw-away index through a
// rebuild, plans once and removes it. BenchmarkRebuildLoad measures that load at the size of
// synth's L cluster (200,000 images in 10,000 streams, 355,000 referrers) with and without
// Options.Temporary, each in a child process so that its peak RSS is the load's alone.
const (
	loadImages  = 200_000
	loadStreams = loadImages / 20
	loadObjects = 355_000
	loadEnv     = "PRUNEGUARD_INDEX_LOAD"
	loadDirEnv  = "PRUNEGUARD_INDEX_LOAD_DIR"
	// loadLookups is the number of mixed lookups the child times after the load, so that a
	// faster load that leaves slower reads shows.
	loadLookups = 200_000
)

// BenchmarkRebuildLoad reports, per mode: load-s (BeginRebuild to Finish) and load-cpu-s (the
// CPU time the child used meanwhile, all threads), finish-s (Finish alone: flush, counts,
// compaction), lookups-s
// (loadLookups mixed lookups afterwards), load-MiB/peak-rss (the child's VmHWM), the peaks of
// its anonymous and file-backed parts sampled apart (load-MiB/peak-anon, load-MiB/peak-file)
// and load-MiB/disk. It runs once whatever b.N is.
func BenchmarkRebuildLoad(b *testing.B) {
	skipShort(b)
	if report.Quick() {
		b.Skip("a load at L (a minute and a half a mode) backs no target: `make bench` runs it, `make bench-quick` does not")
	}
	for _, mode := range []string{"durable", "temporary"} {
		b.Run(mode, func(b *testing.B) {
			dir := b.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestRebuildLoadChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), loadEnv+"="+mode, loadDirEnv+"="+dir)
			out, err := cmd.CombinedOutput()
			if err != nil {
				b.Fatalf("load child: %v\n%s", err, out)
			}
			m := parseRSS(b, string(out))
			b.ReportMetric(m["load-ms"]/1e3, "load-s")
			// On a shared machine the wall time follows the other processes; CPU time does not.
			b.ReportMetric(m["load-cpu-ms"]/1e3, "load-cpu-s")
			b.ReportMetric(m["finish-ms"]/1e3, "finish-s")
			b.ReportMetric(m["lookups-ms"]/1e3, "lookups-s")
			b.ReportMetric(m["VmHWM:"]/1024, "load-MiB/peak-rss")
			b.ReportMetric(m["disk-kib"]/1024, "load-MiB/disk")
			b.ReportMetric(m["peak-RssAnon:"]/1024, "load-MiB/peak-anon")
			b.ReportMetric(m["peak-RssFile:"]/1024, "load-MiB/peak-file")
		})
	}
}

// TestRebuildLoadChild is BenchmarkRebuildLoad's child: it loads the L-sized cluster and
// prints what it measured as "rss-kib NAME VALUE" lines (parseRSS reads them).
func TestRebuildLoadChild(t *testing.T) {
	mode := os.Getenv(loadEnv)
	if mode == "" {
		t.Skip("runs only as the child of BenchmarkRebuildLoad")
	}
	dir := filepath.Join(os.Getenv(loadDirEnv), "index")
	ix, err := Open(Options{Dir: dir, Temporary: mode == "temporary"})
	must(t, err)
	ctx := context.Background()
	peaks := samplePeaks(t)
	start, cpu := time.Now(), processCPU()
	rb, err := ix.BeginRebuild(ctx)
	must(t, err)
	must(t, buildLoadFixture(rb))
	finishing := time.Now()
	must(t, rb.Finish(ctx))
	fmt.Printf("rss-kib finish-ms %d\n", time.Since(finishing).Milliseconds())
	load, loadCPU := time.Since(start), processCPU()-cpu
	r := rand.New(rand.NewPCG(7, 8))
	start = time.Now()
	for range loadLookups {
		must(t, loadLookup(ix, r))
	}
	lookups := time.Since(start)
	usage, err := DirUsage(dir)
	must(t, err)
	var disk int64
	for _, u := range usage {
		disk += u.Allocated
	}
	fmt.Printf("rss-kib load-ms %d\nrss-kib load-cpu-ms %d\nrss-kib lookups-ms %d\nrss-kib disk-kib %d\n",
		load.Milliseconds(), loadCPU.Milliseconds(), lookups.Milliseconds(), disk>>10)
	for field, kib := range readProcStatus(t) {
		fmt.Printf("rss-kib %s %d\n", field, kib)
	}
	for field, kib := range peaks() {
		fmt.Printf("rss-kib peak-%s %d\n", field, kib)
	}
	must(t, ix.Close())
}

// samplePeaks samples /proc/self/status every 20 ms until the returned function is called,
// which returns the highest RssAnon and RssFile seen: VmHWM is their peak sum, and the two
// have different causes (Go and Badger heap; mapped tables).
func samplePeaks(t testing.TB) func() map[string]int64 {
	stop, done := make(chan struct{}), make(chan map[string]int64)
	go func() {
		peak := map[string]int64{}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, f := range []string{"RssAnon:", "RssFile:"} {
				peak[f] = max(peak[f], readProcStatus(t)[f])
			}
			select {
			case <-stop:
				done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() map[string]int64 {
		close(stop)
		return <-done
	}
}

// buildLoadFixture puts images, streams and pods generated one at a time, so that the child's
// memory is the index's.
func buildLoadFixture(rb *Rebuild) error {
	if err := putBenchImagesAndStreams(rb, loadImages, loadStreams); err != nil {
		return err
	}
	for i := range loadObjects {
		o := benchPod(i, 0, func(n int) int { return (i%loadStreams)*20 + n%20 })
		o.Key.Name += "-" + strconv.Itoa(i/sizePods)
		if err := rb.PutObject(o); err != nil {
			return err
		}
	}
	return nil
}

// loadLookup asks what the planner asks of each image.
func loadLookup(ix *Index, r *rand.Rand) error {
	ctx := context.Background()
	img := r.IntN(loadImages)
	d := benchDigest("image", img)
	var err error
	switch r.IntN(4) {
	case 0:
		_, err = ix.ReferrersOfDigest(ctx, "", d)
	case 1:
		_, _, err = ix.Image(ctx, d)
	case 2:
		_, err = ix.StreamItemsOfImage(ctx, "", d)
	default:
		s := img / 20
		_, _, err = ix.Stream(ctx, fmt.Sprintf("ns-%d", s%1000), fmt.Sprintf("is-%d", s))
	}
	return err
}
