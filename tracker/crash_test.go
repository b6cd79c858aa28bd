package tracker_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/scheme"
	"github.com/pruneguard/pruneguard/tracker"
)

// The crash test runs the tracker in a child process (TestCrashChild, the test binary run
// again) while pods are created one after another, kills it with SIGKILL at a random moment,
// and checks the index it leaves: every pod created at or before the pods' watermark must be
// in the index at the version its create returned. A watermark ahead of the data would resume
// the next start after events the index never got.

const (
	crashDirEnv        = "PRUNEGUARD_TRACKER_CRASH_DIR"
	crashKubeconfigEnv = "PRUNEGUARD_TRACKER_CRASH_KUBECONFIG"
	crashSynced        = "crash-child-synced"
	crashRounds        = 6
	crashNamespace     = "crash"
)

// TestCrashChild runs a tracker until it is killed; it is a no-op unless run by the crash test.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestWatermarkNeverRunsAheadOfTheData")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv(crashKubeconfigEnv))
	must(t, err)
	ix, err := index.Open(index.Options{Dir: dir})
	must(t, err)
	m, err := tracker.NewMetrics(prometheus.NewRegistry())
	must(t, err)
	tr, err := tracker.New(tracker.Options{Config: cfg, Scheme: scheme.New(), Index: ix, Metrics: m, ApplyBatch: 1})
	must(t, err)
	go func() {
		for !tr.Synced() {
			time.Sleep(20 * time.Millisecond)
		}
		fmt.Println(crashSynced)
	}()
	must(t, tr.Run(context.Background()))
}

// createdPod is a pod the writer created, at the resourceVersion its create returned.
type createdPod struct {
	name string
	rv   uint64
}

func TestWatermarkNeverRunsAheadOfTheData(t *testing.T) {
	createNamespace(t, crashNamespace)
	dir := filepath.Join(t.TempDir(), "index")
	var mu sync.Mutex
	var created []createdPod
	ctx, stopWriting := context.WithCancel(context.Background())
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		for i := 0; ctx.Err() == nil; i++ {
			p := pod(crashNamespace, fmt.Sprintf("c-%d", i), fmt.Sprintf("%s/%s/app:v%d", host, crashNamespace, i))
			if err := env.Client.Create(ctx, p); err != nil {
				continue
			}
			rv, _ := strconv.ParseUint(p.ResourceVersion, 10, 64)
			mu.Lock()
			created = append(created, createdPod{name: p.Name, rv: rv})
			mu.Unlock()
		}
	}()
	checked := 0
	for round := range crashRounds {
		// The first round builds the index; later ones are killed at any moment of their
		// start, most while they catch up with the pods created since the last kill.
		runAndKill(t, dir, round == 0, time.Duration(rand.IntN(2500))*time.Millisecond)
		mu.Lock()
		snapshot := append([]createdPod(nil), created...)
		mu.Unlock()
		n := checkNotAhead(t, dir, snapshot)
		t.Logf("round %d: %d of %d created pods at or below the watermark, all in the index", round, n, len(snapshot))
		checked += n
	}
	stopWriting()
	<-writing
	if checked == 0 {
		t.Fatal("no round left a watermark covering any created pod; the test checked nothing")
	}
	r := startTracker(t, env.Config, dir)
	waitVerified(t, r.ix)
}

// runAndKill starts the child on dir, waits until its tracker is in sync if waitSynced, lets
// it run for after and kills it.
func runAndKill(t *testing.T, dir string, waitSynced bool, after time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashKubeconfigEnv+"="+env.Kubeconfig)
	out, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	synced, ready := make(chan struct{}), make(chan struct{})
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if strings.TrimSpace(s.Text()) == crashSynced {
				close(synced)
				break
			}
		}
		for s.Scan() {
		}
	}()
	timeout := time.After(2 * time.Minute)
	if !waitSynced {
		timeout = nil
		close(ready)
	}
	select {
	case <-synced:
	case <-ready:
	case <-timeout:
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("the child tracker never got in sync")
	}
	time.Sleep(after)
	must(t, cmd.Process.Kill())
	_ = cmd.Wait()
}

// checkNotAhead opens the killed child's index and checks every pod created at or before the
// pods' watermark; it returns how many it checked.
func checkNotAhead(t *testing.T, dir string, created []createdPod) int {
	t.Helper()
	ix, err := index.Open(index.Options{Dir: dir})
	must(t, err)
	defer func() { must(t, ix.Close()) }()
	ctx := context.Background()
	marks, err := ix.Watermarks(ctx, model.KindPod)
	must(t, err)
	if ix.Status().NeedsRebuild() || marks[model.KindPod] == "" {
		t.Fatalf("the killed tracker left an index of status %s with watermarks %v; it was built before", ix.Status(), marks)
	}
	w, err := strconv.ParseUint(marks[model.KindPod], 10, 64)
	if err != nil {
		t.Fatalf("pods' watermark %q: %v", marks[model.KindPod], err)
	}
	n := 0
	for _, c := range created {
		if c.rv > w {
			continue
		}
		n++
		o, ok, err := ix.Object(ctx, model.ObjectKey{Kind: model.KindPod, Namespace: crashNamespace, Name: c.name})
		must(t, err)
		if !ok || o.ResourceVersion != strconv.FormatUint(c.rv, 10) {
			t.Fatalf("the pods' watermark is %d, but pod %s created at %d is in the index as %v (found %v): the watermark ran ahead of the data",
				w, c.name, c.rv, o.ResourceVersion, ok)
		}
	}
	return n
}
