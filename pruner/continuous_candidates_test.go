package pruner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/synth"
	"github.com/pruneguard/pruneguard/pruner"
)

// applyDeleter applies each plan to the index as the API updates would reach it through the
// tracker (the index's change feed reports them), and keeps every plan it was given.
type applyDeleter struct {
	ix   *index.Index
	mu   sync.Mutex
	done pruner.Plan
}

// deleted returns a copy of what was deleted so far.
func (d *applyDeleter) deleted() *pruner.Plan {
	d.mu.Lock()
	defer d.mu.Unlock()
	return &pruner.Plan{Streams: append([]pruner.StreamPlan(nil), d.done.Streams...), Images: append([]pruner.ImagePlan(nil), d.done.Images...)}
}

func (d *applyDeleter) Prune(ctx context.Context, plan *pruner.Plan, _ pruner.Policy) (*pruner.Outcome, error) {
	for _, sp := range plan.Streams {
		s, ok, err := d.ix.Stream(ctx, sp.Namespace, sp.Name)
		if err != nil || !ok {
			return nil, fmt.Errorf("stream %s: ok=%v err=%w", sp.Repo(), ok, err)
		}
		s.Tags = sp.Tags
		if err := d.ix.Apply(ctx, index.PutStream(s)); err != nil {
			return nil, err
		}
	}
	for _, ip := range plan.Images {
		if err := d.ix.Apply(ctx, index.DeleteImage(ip.Digest)); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done.Streams = append(d.done.Streams, plan.Streams...)
	d.done.Images = append(d.done.Images, plan.Images...)
	return &pruner.Outcome{Plan: plan}, nil
}

func (d *applyDeleter) Recover(context.Context, pruner.Policy) ([]*pruner.Outcome, error) {
	return nil, nil
}
func (d *applyDeleter) LiftTombstones(context.Context) error { return nil }

// synthDump writes the dump of a generated cluster and returns its path.
func synthDump(t *testing.T, seed int64, images int, now time.Time) string {
	t.Helper()
	cl, err := synth.Generate(synth.Options{Images: images, Seed: seed, Now: now, NoInvalidRefs: true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cluster.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := synth.WriteDump(f, cl); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadInto loads the dump at path into ix through a rebuild.
func loadInto(t *testing.T, ix *index.Index, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pruner.LoadDump(context.Background(), ix, f, nil); err != nil {
		t.Fatal(err)
	}
}

// openIndex opens an empty index in a temporary directory.
func openIndex(t *testing.T) *index.Index {
	t.Helper()
	ix, err := index.Open(index.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	return ix
}

// TestCandidatesDeleteWhatTheFullPlanDeletes is the randomised equivalence on real Badger: for
// several generated clusters, a continuous pruner whose full round finds an empty index, and
// which then learns of the whole cluster through the index's change feed (the index rebuilt
// under it), deciding candidate by candidate in passes of a few Images, deletes exactly the
// items, Images, layer links, manifest links and blobs that one full plan of the same state
// in another index deletes.
func TestCandidatesDeleteWhatTheFullPlanDeletes(t *testing.T) {
	now := time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)
	for _, seed := range []int64{1, 2, 3, 4, 5} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			ctx := context.Background()
			dump := synthDump(t, seed, 300, now)
			opts := pruner.NewOptions()
			opts.Confirm = true
			oneShot := openIndex(t)
			loadInto(t, oneShot, dump)
			want, err := pruner.NewPlanner(oneShot, opts.Policy(now)).Plan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(want.Images) == 0 || len(want.Streams) == 0 {
				t.Fatalf("the generated cluster prunes %d images and %d streams; the test needs both", len(want.Images), len(want.Streams))
			}

			ix := openIndex(t)
			del := &applyDeleter{ix: ix}
			cont := pruner.NewContinuous(pruner.ContinuousOptions{
				Reader: ix, Feed: ix, Fenced: del, Options: opts, MaxImages: 7,
				Now: func() time.Time { return now },
			})
			stop := runContinuous(t, cont)
			waitUntil(t, 30*time.Second, "the first full round", func() bool { return cont.Stats().FullRounds == 1 })
			loadInto(t, ix, dump)
			waitQuiet(t, cont)
			stop()
			if st := cont.Stats(); st.FullRounds != 1 || st.Images == 0 {
				t.Fatalf("stats %+v: want one full round (of the empty index) and candidates", st)
			}
			got, exp := pruner.NewReport(del.deleted(), false), pruner.NewReport(want, false)
			t.Logf("full plan: %+v; candidates: %+v", exp.Summary, cont.Stats())
			sameSet(t, "imageStreamItems", got.ImageStreamItems, exp.ImageStreamItems)
			sameSet(t, "images", got.Images, exp.Images)
			sameSet(t, "layerLinks", got.LayerLinks, exp.LayerLinks)
			sameSet(t, "manifestLinks", got.ManifestLinks, exp.ManifestLinks)
			sameSet(t, "blobs", got.Blobs, exp.Blobs)
		})
	}
}

// runContinuous runs cont until the returned stop is called (or the test ends).
func runContinuous(t *testing.T, cont *pruner.Continuous) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = cont.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// waitQuiet waits until the pruner has run no pass for a while.
func waitQuiet(t *testing.T, cont *pruner.Continuous) {
	t.Helper()
	last, since := cont.Stats(), time.Now()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Since(since) < time.Second {
		if time.Now().After(deadline) {
			t.Fatalf("the pruner never became quiet: %+v", cont.Stats())
		}
		time.Sleep(50 * time.Millisecond)
		if cur := cont.Stats(); cur != last {
			last, since = cur, time.Now()
		}
	}
}
