package index

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// The crash test re-executes the test binary as a child (TestCrashChild) that writes
// generations of object, image, stream and pending replaces to an index in a loop, and kills
// it with SIGKILL at a random moment. Every value a generation writes carries the generation
// number, so after each kill the parent can tell whether any object is half old, half new.

const (
	crashDirEnv   = "PRUNEGUARD_INDEX_CRASH_DIR"
	crashSeedEnv  = "PRUNEGUARD_INDEX_CRASH_SEED"
	crashReady    = "crash-child-ready"
	crashObjects  = 40
	crashImages   = 12
	crashStreams  = 4
	crashBlobPool = 16
)

func crashOptions(dir string) Options {
	// Small memtables and value-log files make flushes, compactions and log rotations happen
	// while the child runs, so kills land in them too.
	return Options{Dir: dir, MemTableSize: 1 << 20, ValueLogFileSize: 1 << 20}
}

func crashObject(k, gen int) model.Object {
	o := model.Object{Key: model.ObjectKey{Kind: model.KindPod, Namespace: "ns", Name: "p" + strconv.Itoa(k)},
		ResourceVersion: strconv.Itoa(gen), Created: t0.Add(time.Duration(gen) * time.Second), Phase: "Running"}
	repo := fmt.Sprintf("ns/s%d", (k+gen)%crashStreams)
	for j := range 3 {
		field := fmt.Sprintf("spec.containers[c%d-g%d].image", j, gen)
		if j == 2 {
			o.Refs = append(o.Refs, tagRef(field, repo, fmt.Sprintf("t%d", gen%3)))
			continue
		}
		o.Refs = append(o.Refs, digestRef(field, repo, digestOf(fmt.Sprintf("img%d", (k+gen+j)%crashImages))))
	}
	return o
}

func crashImage(k, gen int) model.Image {
	img := model.Image{Digest: digestOf(fmt.Sprintf("img%d", k)), Size: int64(gen), Created: t0}
	for j := range 3 {
		img.Layers = append(img.Layers, model.Blob{Digest: digestOf(fmt.Sprintf("blob%d", (k*7+gen+j)%crashBlobPool)), Size: int64(gen)})
	}
	return img
}

func crashStream(k, gen int) model.Stream {
	s := model.Stream{Namespace: "ns", Name: fmt.Sprintf("s%d", k), ResourceVersion: strconv.Itoa(gen)}
	for tag := range 3 {
		t := model.Tag{Name: fmt.Sprintf("t%d", tag)}
		for pos := range (gen+tag)%4 + 1 {
			t.Items = append(t.Items, model.TagItem{Image: digestOf(fmt.Sprintf("img%d", (gen+tag+pos)%crashImages)),
				Created: t0, Generation: int64(gen)})
		}
		s.Tags = append(s.Tags, t)
	}
	return s
}

// crashGeneration is the ops of one generation: a random subset of everything is replaced,
// a few objects are deleted, a few admissions are announced.
func crashGeneration(r *rand.Rand, gen int) []Op {
	var ops []Op
	for k := range crashObjects {
		switch r.IntN(6) {
		case 0:
			ops = append(ops, DeleteObject(crashObject(k, gen).Key))
		case 1:
			ops = append(ops, PutPending(crashObject(k, gen), t0.Add(time.Duration(gen)*time.Second)))
		default:
			ops = append(ops, PutObject(crashObject(k, gen)))
		}
	}
	for k := range crashImages {
		if r.IntN(2) == 0 {
			ops = append(ops, PutImage(crashImage(k, gen)))
		}
	}
	for k := range crashStreams {
		ops = append(ops, PutStream(crashStream(k, gen)))
	}
	r.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	return ops
}

// TestCrashChild is the writer the crash test kills; it runs only as that child.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashLeavesEachObjectOldOrNew")
	}
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	r := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	ix, err := Open(crashOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	gen := 1
	if ix.Status().NeedsRebuild() {
		rb, err := ix.BeginRebuild(ctx)
		must(t, err)
		for k := range crashObjects {
			must(t, rb.PutObject(crashObject(k, 0)))
		}
		for k := range crashImages {
			must(t, rb.PutImage(crashImage(k, 0)))
		}
		must(t, rb.Finish(ctx))
	} else {
		gen = crashMaxGen(t, ix) + 1
	}
	fmt.Println(crashReady)
	for ; ; gen++ {
		ops := crashGeneration(r, gen)
		if r.IntN(3) == 0 {
			for _, op := range ops {
				must(t, ix.Apply(ctx, op))
			}
		} else {
			must(t, ix.Apply(ctx, ops...))
		}
		if gen%7 == 0 {
			_, err := ix.ExpirePending(ctx, t0.Add(time.Duration(gen-3)*time.Second))
			must(t, err)
		}
		if gen%25 == 0 {
			_, err := ix.GCOnce(ctx)
			must(t, err)
		}
	}
}

func crashMaxGen(t *testing.T, ix *Index) int {
	max := 0
	err := ix.Streams(context.Background(), "", func(s model.Stream) error {
		gen, _ := strconv.Atoi(s.ResourceVersion)
		max = maxInt(max, gen)
		return nil
	})
	must(t, err)
	return max
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func TestCrashLeavesEachObjectOldOrNew(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("this is the child")
	}
	iterations := 20
	if testing.Short() {
		iterations = 5
	}
	dir := filepath.Join(t.TempDir(), "index")
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	lastSeen := map[string]int{}
	maxGen := 0
	for i := range iterations {
		runAndKill(t, dir, uint64(i), time.Duration(20+r.IntN(300))*time.Millisecond)
		maxGen = maxInt(maxGen, verifyAfterCrash(t, dir, lastSeen, i))
	}
	if maxGen < iterations {
		t.Fatalf("the writer reached generation %d only; the kills did not interrupt real work", maxGen)
	}
	t.Logf("%d kills, writer reached generation %d", iterations, maxGen)
}

// runAndKill starts the child, waits until it writes, lets it run for delay, and kills it.
func runAndKill(t *testing.T, dir string, seed uint64, delay time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashSeedEnv+"="+strconv.FormatUint(seed, 10))
	out, err := cmd.StdoutPipe()
	must(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			if sc.Text() == crashReady && !found {
				found = true
				ready <- true
			}
		}
		if !found {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("the child exited before writing:\n%s", stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the child did not start writing within 30s")
	}
	time.Sleep(delay)
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	if !strings.Contains(cmd.ProcessState.String(), "killed") {
		t.Fatalf("the child ended by itself (%s) before the kill:\n%s", cmd.ProcessState, stderr.String())
	}
}

// verifyAfterCrash opens the killed child's index and checks that every object, image and
// stream is wholly of one generation, never older than before, and that derived keys agree.
func verifyAfterCrash(t *testing.T, dir string, lastSeen map[string]int, iteration int) int {
	t.Helper()
	ctx := context.Background()
	ix, err := Open(crashOptions(dir))
	if err != nil {
		t.Fatalf("iteration %d: the index does not open after a kill: %v", iteration, err)
	}
	defer func() { _ = ix.Close() }()
	if ix.Status().NeedsRebuild() {
		return 0 // killed during the first rebuild; the next child rebuilds
	}
	lines, err := ix.Check(ctx, filepath.Join(t.TempDir(), fmt.Sprintf("check%d", iteration)))
	must(t, err)
	if len(lines) > 0 {
		t.Fatalf("iteration %d: derived keys disagree with records:\n%s", iteration, joinLines(lines))
	}
	maxGen := 0
	seen := func(what string, gen int) {
		if gen < lastSeen[what] {
			t.Errorf("iteration %d: %s went back from generation %d to %d", iteration, what, lastSeen[what], gen)
		}
		lastSeen[what] = gen
		maxGen = maxInt(maxGen, gen)
	}
	must(t, ix.Objects(ctx, func(o model.Object) error {
		gen, _ := strconv.Atoi(o.ResourceVersion)
		if !reflect.DeepEqual(o, crashObject(keyIndex(o.Key.Name), gen)) {
			t.Errorf("iteration %d: object %s is not wholly generation %d: %+v", iteration, o.Key, gen, o.Refs)
		}
		seen(o.Key.String(), gen)
		return nil
	}))
	must(t, ix.Images(ctx, func(img model.Image) error {
		for _, l := range img.Layers {
			if l.Size != img.Size {
				t.Errorf("iteration %d: image %s mixes generations %d and %d", iteration, img.Digest, img.Size, l.Size)
			}
		}
		seen("image "+img.Digest, int(img.Size))
		return nil
	}))
	must(t, ix.Streams(ctx, "", func(s model.Stream) error {
		gen, _ := strconv.Atoi(s.ResourceVersion)
		for _, tag := range s.Tags {
			for _, it := range tag.Items {
				if it.Generation != int64(gen) {
					t.Errorf("iteration %d: stream %s mixes generations %d and %d", iteration, s.Repo(), gen, it.Generation)
				}
			}
		}
		seen("stream "+s.Repo(), gen)
		return nil
	}))
	return maxGen
}

func keyIndex(name string) int {
	k, _ := strconv.Atoi(strings.TrimPrefix(name, "p"))
	return k
}
