package index

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Benchmarks for the targets of issue 3, run by `go test -bench . ./pkg/index/` (make bench).
// They are skipped with -short. The large fixtures are built once per run with a rebuild
// (WriteBatch) under one temporary directory that TestMain removes.

func TestMain(m *testing.M) {
	code := m.Run()
	fixtures.cleanup()
	os.Exit(code)
}

type fixtureCache struct {
	mu   sync.Mutex
	root string
	dirs map[string]string
}

var fixtures = &fixtureCache{dirs: map[string]string{}}

// dir returns the directory of the named fixture, building it on first use.
func (c *fixtureCache) dir(b *testing.B, name string, build func(*Rebuild) error) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.dirs[name]; ok {
		return d
	}
	if c.root == "" {
		root, err := os.MkdirTemp("", "pruneguard-index-bench-")
		must(b, err)
		c.root = root
	}
	dir := filepath.Join(c.root, name)
	start := time.Now()
	ix, err := Open(Options{Dir: dir})
	must(b, err)
	ctx := context.Background()
	rb, err := ix.BeginRebuild(ctx)
	must(b, err)
	must(b, build(rb))
	must(b, rb.Finish(ctx))
	must(b, ix.Close())
	b.Logf("built fixture %s in %s", name, time.Since(start).Round(time.Millisecond))
	c.dirs[name] = dir
	return dir
}

func (c *fixtureCache) cleanup() {
	if c.root != "" {
		_ = os.RemoveAll(c.root)
	}
}

const (
	lookupImages  = 200_000
	lookupObjects = 500_000 // two references each: 1,000,000 references
	sizeImages    = 200_000
	sizePods      = 100_000
	sizeStreams   = 10_000 // 20 items each: every image is held by one stream item
)

func benchDigest(kind string, i int) string { return digestOf(kind + strconv.Itoa(i)) }

// benchPod is a pod of namespace ns-(i%1000) with references to two images of its stream.
func benchPod(i, gen int, imageOf func(int) int) model.Object {
	ns := fmt.Sprintf("ns-%d", i%1000)
	repo := fmt.Sprintf("%s/is-%d", ns, i%sizeStreams)
	o := model.Object{Key: model.ObjectKey{Kind: model.KindPod, Namespace: ns, Name: fmt.Sprintf("app-%d-7f9c6d5b8-x%d", i, gen)},
		UID: fmt.Sprintf("9f1c2d3e-%08d-4a5b-8c7d-%012d", i, gen), ResourceVersion: strconv.Itoa(gen),
		Created: t0, Phase: "Running"}
	for j, c := range []string{"app", "sidecar"} {
		d := benchDigest("image", imageOf(i*2+j+gen))
		o.Refs = append(o.Refs, model.Ref{FieldPath: "spec.containers[" + c + "].image", Container: c,
			Kind: model.RefDockerImage, Raw: "image-registry.openshift-image-registry.svc:5000/" + repo + "@" + d,
			Repo: repo, Digest: d})
	}
	return o
}

func buildLookupFixture(rb *Rebuild) error {
	for i := range lookupObjects {
		o := benchPod(i, 0, func(n int) int { return (n * 7919) % lookupImages })
		o.Key.Name = fmt.Sprintf("app-%d", i)
		if err := rb.PutObject(o); err != nil {
			return err
		}
	}
	return nil
}

// benchImage is image i of stream i/20: five layers, two from a pool shared by all images.
func benchImage(i int) model.Image {
	d := benchDigest("image", i)
	img := model.Image{Digest: d, Created: t0, Managed: true, Size: 5 << 20,
		DockerImageReference: fmt.Sprintf("image-registry.openshift-image-registry.svc:5000/ns-%d/is-%d@%s", (i/20)%1000, i/20, d),
		ManifestMediaType:    "application/vnd.docker.distribution.manifest.v2+json",
		Config:               benchDigest("config", i)}
	for j := range 5 {
		blob := benchDigest("layer", i*3+j)
		if j < 2 {
			blob = benchDigest("base", (i+j)%100)
		}
		img.Layers = append(img.Layers, model.Blob{Digest: blob, Size: 1 << 20,
			MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"})
	}
	return img
}

func benchStream(s int) model.Stream {
	st := model.Stream{Namespace: fmt.Sprintf("ns-%d", s%1000), Name: fmt.Sprintf("is-%d", s), Created: t0, ResourceVersion: "1"}
	for tag := range 2 {
		t := model.Tag{Name: []string{"latest", "stable"}[tag]}
		for pos := range 10 {
			img := s*20 + tag*10 + pos
			t.Items = append(t.Items, model.TagItem{Image: benchDigest("image", img), Created: t0,
				DockerImageReference: benchImage(img).DockerImageReference, Generation: int64(pos + 1)})
		}
		st.Tags = append(st.Tags, t)
	}
	return st
}

func buildSizeFixture(rb *Rebuild) error {
	if err := putBenchImagesAndStreams(rb, sizeImages, sizeStreams); err != nil {
		return err
	}
	for i := range sizePods {
		if err := rb.PutObject(sizePod(i)); err != nil {
			return err
		}
	}
	return nil
}

// sizePod is pod i of the size fixture: pod i of stream i%sizeStreams references an image of
// that stream by digest and its latest tag.
func sizePod(i int) model.Object {
	o := benchPod(i, 0, func(n int) int { return (i%sizeStreams)*20 + n%20 })
	o.Refs[1] = tagRef("spec.containers[sidecar].image", o.Refs[0].Repo, "latest")
	return o
}

// putBenchImagesAndStreams puts images 0..images-1 and streams 0..streams-1.
func putBenchImagesAndStreams(rb *Rebuild, images, streams int) error {
	for i := range images {
		if err := rb.PutImage(benchImage(i)); err != nil {
			return err
		}
	}
	for s := range streams {
		if err := rb.PutStream(benchStream(s)); err != nil {
			return err
		}
	}
	return nil
}

func skipShort(b *testing.B) {
	if testing.Short() {
		b.Skip("large fixture; skipped with -short")
	}
}

// BenchmarkApply measures the tracker's write path: batches of 1,000 pod updates applied with
// Apply to an index holding 100,000 pods, applyUpdates updates per iteration (so that
// -benchtime 1x measures a real stream, not one update). Each update is of a pod the index
// holds, so each looks up the stored record (in the record cache, which holds all 100,000 at
// its default budget: cache-hit-% and cache-MiB say so) and writes what changed:
//   - "moving-refs": every update changes a reference and the phase (the record, the old
//     entry out, the new one in; the worst case);
//   - "phase-change": the phase changes, references do not (the record alone: the phase is
//     in the object states, not in the entries; what a pod's start or end costs);
//   - "status-only": the resource version changes and nothing the index reads (conditions,
//     container statuses, labels: most watch events of a running pod), so only the object
//     record is rewritten.
//
// Target: >= 50,000 updates/s.
func BenchmarkApply(b *testing.B) {
	for _, change := range []applyChange{applyMovingRefs, applyPhase, applyStatus} {
		b.Run(string(change), func(b *testing.B) { benchmarkApply(b, change) })
	}
}

// applyUpdates is the number of updates one iteration of BenchmarkApply applies.
const applyUpdates = 100_000

// applyChange is what each update of BenchmarkApply changes.
type applyChange string

const (
	applyMovingRefs applyChange = "moving-refs"
	applyPhase      applyChange = "phase-change"
	applyStatus     applyChange = "status-only"
)

func benchmarkApply(b *testing.B, change applyChange) {
	ix, _ := openTest(b)
	ctx := context.Background()
	const keys, batch = 100_000, 1_000
	base := make([]model.Object, keys)
	for i := range base {
		base[i] = benchPod(i, 0, func(n int) int { return n % lookupImages })
	}
	digests := make([]string, 4096)
	for i := range digests {
		digests[i] = benchDigest("image", i)
	}
	ops := make([]Op, 0, batch)
	// Every timed write updates an object the index holds, as the tracker's updates do: the
	// 100,000 pods are created first, untimed (a create into an empty index reads nothing and
	// would flatter the figure).
	for i := range base {
		ops = append(ops, PutObject(base[i]))
		if len(ops) == batch {
			if err := ix.Apply(ctx, ops...); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	cpu, cache := processCPU(), ix.RecordCacheStats()
	total := b.N * applyUpdates
	b.ResetTimer()
	for i := range total {
		o := base[i%keys]
		o.ResourceVersion = strconv.Itoa(i + 1)
		if change != applyStatus {
			o.Phase = []string{"Pending", "Running"}[i/keys%2]
		}
		if change == applyMovingRefs {
			// The pull spec names the new digest, as a re-extracted reference does.
			o.Refs = append([]model.Ref(nil), o.Refs...)
			ref := &o.Refs[0]
			ref.Raw = strings.TrimSuffix(ref.Raw, ref.Digest) + digests[i%len(digests)]
			ref.Digest = digests[i%len(digests)]
		}
		ops = append(ops, PutObject(o))
		if len(ops) == batch || i == total-1 {
			if err := ix.Apply(ctx, ops...); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "updates/s")
	// The machine is shared: wall-clock rates fall when other processes run. CPU time per
	// update (this process, all threads, compactions included) does not.
	b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(total), "cpu-µs/update")
	b.StopTimer()
	// The share of the timed updates whose previous record came from the record cache.
	after := ix.RecordCacheStats()
	hits, misses := after.Hits-cache.Hits, after.Misses-cache.Misses
	b.ReportMetric(100*float64(hits)/float64(max(hits+misses, 1)), "cache-hit-%")
	b.ReportMetric(float64(after.Bytes)/(1<<20), "cache-MiB")
	// The last update of the last pod is what the index answers.
	last := base[(total-1)%keys]
	got, found, err := ix.Object(ctx, last.Key)
	if err != nil || !found || got.ResourceVersion != strconv.Itoa(total) {
		b.Fatalf("%s after the updates: found %v, resource version %q, error %v; want %d", last.Key, found, got.ResourceVersion, err, total)
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLookupDigest measures "who references digest D" with 1,000,000 references
// indexed, lookupsPerOp random digests per iteration. Target: median <= 50 µs.
func BenchmarkLookupDigest(b *testing.B) {
	skipShort(b)
	dir := fixtures.dir(b, "lookup", buildLookupFixture)
	ix, err := Open(Options{Dir: dir})
	must(b, err)
	defer func() { _ = ix.Close() }()
	ctx := context.Background()
	// A serving index has its tables mapped in; one scan maps every page in, so the figure is
	// the steady state, not the first touch of each page of a fresh fixture.
	st, err := ix.Stats(ctx)
	must(b, err)
	must(b, ix.Objects(ctx, func(model.Object) error { return nil }))
	r := rand.New(rand.NewPCG(1, 2))
	n := b.N * lookupsPerOp
	wall := make([]time.Duration, 0, n)
	onCPU := make([]time.Duration, 0, n)
	found := 0
	// On a shared machine a lookup waits for a core as often as it works; the thread's CPU
	// clock measures the work alone (what the lookup costs on an idle core).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	for range n {
		d := benchDigest("image", r.IntN(lookupImages))
		start, cpu := time.Now(), threadCPU()
		rs, err := ix.ReferrersOfDigest(ctx, "", d)
		onCPU = append(onCPU, threadCPU()-cpu)
		wall = append(wall, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		found += len(rs)
	}
	b.StopTimer()
	if found == 0 {
		b.Fatal("lookups found no referrers")
	}
	b.ReportMetric(median(wall), "lookup-µs/median")
	b.ReportMetric(median(onCPU), "lookup-cpu-µs/median")
	b.ReportMetric(float64(found)/float64(n), "referrers/lookup")
	b.ReportMetric(float64(st.Keys[keyKindNames[prefixRefDigest]]), "references")
}

// lookupsPerOp is the number of lookups one iteration of BenchmarkLookupDigest makes.
const lookupsPerOp = 10_000

// median returns the median of ds in microseconds.
func median(ds []time.Duration) float64 {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return float64(ds[len(ds)/2].Nanoseconds()) / 1e3
}

// threadCPU is the CPU time of the calling OS thread.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// BenchmarkDiskSize reports the on-disk size of an index of 200,000 images (in 10,000
// streams) and 100,000 pods, after a rebuild and a close. Target: <= 1 GiB. Its loop times
// mixed lookups on that index.
func BenchmarkDiskSize(b *testing.B) {
	skipShort(b)
	dir := fixtures.dir(b, "size", buildSizeFixture)
	usage, err := DirUsage(dir)
	must(b, err)
	var bytes, allocated int64
	for _, u := range usage {
		bytes += u.Bytes
		allocated += u.Allocated
	}
	ix, err := Open(Options{Dir: dir})
	must(b, err)
	defer func() { _ = ix.Close() }()
	r := rand.New(rand.NewPCG(3, 4))
	b.ResetTimer()
	for range b.N {
		must(b, mixedLookup(ix, r))
	}
	b.StopTimer()
	b.ReportMetric(float64(allocated), "disk-bytes")
	b.ReportMetric(float64(allocated)/(1<<20), "index-MiB/disk")
	b.ReportMetric(float64(usage["sst"].Allocated)/(1<<20), "sst-MiB")
	b.ReportMetric(float64(usage["vlog"].Allocated)/(1<<20), "vlog-MiB")
}

// mixedLookup asks one of the questions the pruner and the webhook ask.
func mixedLookup(ix *Index, r *rand.Rand) error {
	ctx := context.Background()
	img := r.IntN(sizeImages)
	stream := img / 20
	repo := fmt.Sprintf("ns-%d/is-%d", stream%1000, stream)
	var err error
	switch r.IntN(6) {
	case 0:
		_, err = ix.ReferrersOfDigest(ctx, "", benchDigest("image", img))
	case 1:
		_, err = ix.ReferrersOfTag(ctx, repo, "latest")
	case 2:
		_, _, err = ix.Image(ctx, benchDigest("image", img))
	case 3:
		_, err = ix.BlobCount(ctx, repo, benchDigest("base", img%100))
	case 4:
		_, err = ix.StreamItemsOfImage(ctx, "", benchDigest("image", img))
	default:
		_, _, err = ix.Object(ctx, benchPod(r.IntN(sizePods), 0, func(int) int { return 0 }).Key)
	}
	return err
}

const rssDirEnv = "PRUNEGUARD_INDEX_RSS_DIR"

// BenchmarkServeRSS reports the resident memory of a separate process that opens the
// BenchmarkDiskSize index and serves 300,000 mixed lookups (peak and final VmRSS). A child
// process keeps the fixture build's memory out of the figure; it runs once whatever b.N is.
// Target: <= 300 MiB.
func BenchmarkServeRSS(b *testing.B) {
	m := runRSSChild(b)
	// The target is judged on the peak (VmHWM), the stricter of the two.
	b.ReportMetric(m["VmHWM:"]/1024, "serve-MiB/rss")
	b.ReportMetric(m["VmRSS:"]/1024, "serve-MiB/final-rss")
	b.ReportMetric(m["RssAnon:"]/1024, "anon-MiB")
	b.ReportMetric(m["RssFile:"]/1024, "file-MiB")
}

// rssTrackEnv makes TestServeRSSChild first apply an update of every pod, as the tracker's
// catch-up after a restart does.
const rssTrackEnv = "PRUNEGUARD_INDEX_RSS_TRACK"

// BenchmarkServeTrackRSS is BenchmarkServeRSS for a process that also tracks: before its
// lookups the child applies a resource-version update of each of the 100,000 pods, so that
// the record cache is full (cache-MiB) and the memtables hold writes, as in a serve replica.
// It has no target of its own; it shows what tracking adds to the serving figure.
func BenchmarkServeTrackRSS(b *testing.B) {
	m := runRSSChild(b, rssTrackEnv+"=1")
	b.ReportMetric(m["VmHWM:"]/1024, "serve-track-MiB/rss")
	b.ReportMetric(m["RssAnon:"]/1024, "anon-MiB")
	b.ReportMetric(m["RssFile:"]/1024, "file-MiB")
	b.ReportMetric(m["record-cache"]/1024, "cache-MiB")
}

// runRSSChild runs TestServeRSSChild on the size fixture with env added and returns the
// figures it printed, in KiB.
func runRSSChild(b *testing.B, env ...string) map[string]float64 {
	skipShort(b)
	dir := fixtures.dir(b, "size", buildSizeFixture)
	b.ResetTimer()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeRSSChild$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), rssDirEnv+"="+dir), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("rss child: %v\n%s", err, out)
	}
	return parseRSS(b, string(out))
}

func parseRSS(b *testing.B, out string) map[string]float64 {
	m := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "rss-kib" {
			m[f[1]], _ = strconv.ParseFloat(f[2], 64)
		}
	}
	if len(m) == 0 {
		b.Fatalf("no rss lines in child output:\n%s", out)
	}
	return m
}

// TestServeRSSChild is BenchmarkServeRSS's child.
func TestServeRSSChild(t *testing.T) {
	dir := os.Getenv(rssDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of BenchmarkServeRSS")
	}
	ix, err := Open(Options{Dir: dir})
	must(t, err)
	if os.Getenv(rssTrackEnv) != "" {
		trackEveryPod(t, ix)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 300_000 {
		must(t, mixedLookup(ix, r))
	}
	for field, kib := range readProcStatus(t) {
		fmt.Printf("rss-kib %s %d\n", field, kib)
	}
	fmt.Printf("rss-kib record-cache %d\n", ix.RecordCacheStats().Bytes/1024)
	must(t, ix.Close())
}

// trackEveryPod applies a resource-version update of each pod of the size fixture, in the
// tracker's batches of 1,000.
func trackEveryPod(t *testing.T, ix *Index) {
	ops := make([]Op, 0, 1000)
	for i := range sizePods {
		o := sizePod(i)
		o.ResourceVersion = "2"
		ops = append(ops, PutObject(o))
		if len(ops) == cap(ops) || i == sizePods-1 {
			must(t, ix.Apply(context.Background(), ops...))
			ops = ops[:0]
		}
	}
}

// readProcStatus returns this process's memory figures from /proc/self/status, in KiB.
func readProcStatus(t testing.TB) map[string]int64 {
	f, err := os.Open("/proc/self/status")
	must(t, err)
	defer func() { _ = f.Close() }()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) < 2:
		case fields[0] == "VmRSS:", fields[0] == "VmHWM:", fields[0] == "RssAnon:", fields[0] == "RssFile:":
			out[fields[0]], _ = strconv.ParseInt(fields[1], 10, 64)
		}
	}
	return out
}
