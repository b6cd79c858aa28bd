package pruner_test

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pruner"
)

// podAgeKeep is --keep-younger-than in the pod-age tests.
const podAgeKeep = 30 * time.Minute

// podAgeRig is a continuous pruner on a real Badger index, on a clock the test moves.
type podAgeRig struct {
	ix      *index.Index
	del     *applyDeleter
	cont    *pruner.Continuous
	metrics *audit.Metrics
	clock   atomic.Int64
}

// startPodAge seeds the index, starts the pruner at fixture time now and waits for the end of
// its first full round. keepRevisions sets --keep-tag-revisions.
func startPodAge(t *testing.T, keepRevisions int, seed ...index.Op) *podAgeRig {
	t.Helper()
	r := &podAgeRig{ix: openIndex(t)}
	if err := r.ix.Apply(context.Background(), seed...); err != nil {
		t.Fatal(err)
	}
	r.clock.Store(now.UnixNano())
	opts := pruner.NewOptions()
	keep := podAgeKeep
	opts.KeepYoungerThan, opts.KeepTagRevisions, opts.Confirm, opts.PruneRegistry = &keep, &keepRevisions, true, false
	var err error
	if r.metrics, err = audit.NewMetrics(prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	r.del = &applyDeleter{ix: r.ix}
	r.cont = pruner.NewContinuous(pruner.ContinuousOptions{
		Reader: r.ix, Feed: r.ix, Fenced: r.del, Options: opts, Metrics: r.metrics,
		Now: func() time.Time { return time.Unix(0, r.clock.Load()).UTC() },
	})
	runContinuous(t, r.cont)
	waitUntil(t, 30*time.Second, "the first full round to end", func() bool {
		st := r.cont.Stats()
		return st.FullRounds == 1 && st.Finished >= 1
	})
	waitQuiet(t, r.cont)
	return r
}

// passAfter runs fn and waits for a pass that started after it (fn must make one: a Kick or
// an index write), the pruner being idle before.
func (r *podAgeRig) passAfter(t *testing.T, what string, fn func()) {
	t.Helper()
	before := r.cont.Stats().Finished
	fn()
	waitUntil(t, 30*time.Second, "a pass after "+what, func() bool { return r.cont.Stats().Finished > before })
}

// at moves the clock to tm and runs a pass.
func (r *podAgeRig) at(t *testing.T, tm time.Time) {
	t.Helper()
	r.clock.Store(tm.UnixNano())
	r.passAfter(t, "moving the clock to "+tm.Format(time.RFC3339Nano), r.cont.Kick)
}

func (r *podAgeRig) apply(t *testing.T, ops ...index.Op) {
	t.Helper()
	r.passAfter(t, "an index write", func() {
		if err := r.ix.Apply(context.Background(), ops...); err != nil {
			t.Fatal(err)
		}
	})
}

func (r *podAgeRig) deletedImages() map[string]bool {
	out := map[string]bool{}
	for _, ip := range r.del.deleted().Images {
		out[ip.Digest] = true
	}
	return out
}

// An image that only a finished pod protects is pruned by the pod's timer right after the
// pod grows older than --keep-younger-than: still kept at exactly creation + the flag (oc
// drops a pod only when its creation is strictly before the cutoff), gone a moment later,
// without a second full round, and the time to prune counts from the crossing.
func TestFinishedPodTimerReleasesItsImagesAtTheCutoff(t *testing.T) {
	created := ago(10 * time.Minute)
	finished := pod("ns", "job-1", "Succeeded", created, digestRef("ns/app", "a"))
	running := pod("ns", "job-1", "Running", created, digestRef("ns/app", "a"))
	byTag := pod("ns", "job-1", "Failed", created, tagRef("ns/app", "latest"))
	web := deployment("ns", "web", digestRef("ns/app", "a")) // keeps the image until the pod exists
	cases := []struct {
		name string
		// seed is the index at the full round; then applies what changes after it.
		seed, then []index.Op
		// revisions is --keep-tag-revisions; gone are the Images the timer prunes.
		revisions int
		gone      []string
		items     int // stream items the timer prunes
	}{{
		name:      "a pod already finished at the full round gets its timer from the full round",
		seed:      []index.Op{index.PutImage(img("a", ago(old))), index.PutObject(finished)},
		revisions: 3, gone: []string{dg("a")},
	}, {
		name:      "a pod that finishes after the full round gets its timer from the change",
		seed:      []index.Op{index.PutImage(img("a", ago(old))), index.PutObject(running)},
		then:      []index.Op{index.PutObject(finished)},
		revisions: 3, gone: []string{dg("a")},
	}, {
		name:      "a pod created finished after the full round gets its timer from the change",
		seed:      []index.Op{index.PutImage(img("a", ago(old))), index.PutObject(web)},
		then:      []index.Op{index.PutObject(finished), index.DeleteObject(web.Key)},
		revisions: 3, gone: []string{dg("a")},
	}, {
		name: "a finished pod naming a tag releases item 0 of the tag and its image",
		seed: []index.Op{
			index.PutImage(img("b", ago(old))),
			index.PutStream(stream("ns", "app", ago(old), tag("latest", items("b")))),
			index.PutObject(byTag),
		},
		revisions: 0, gone: []string{dg("b")}, items: 1,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := startPodAge(t, tc.revisions, tc.seed...)
			if len(tc.then) > 0 {
				r.apply(t, tc.then...)
			}
			if n := len(r.del.deleted().Images); n != 0 {
				t.Fatalf("%d image(s) deleted while the pod is young", n)
			}
			if st := r.cont.Stats(); st.PodTimers != 1 {
				t.Fatalf("stats %+v: want one pod timer", st)
			}
			crossing := created.Add(podAgeKeep)
			r.at(t, crossing)
			if n := len(r.del.deleted().Images); n != 0 {
				t.Fatalf("%d image(s) deleted at exactly creation + keep-younger-than, when the pod still counts", n)
			}
			if st := r.cont.Stats(); st.PodTimers != 1 {
				t.Fatalf("stats %+v: the timer fired before the pod stopped counting", st)
			}
			r.at(t, crossing.Add(3*time.Second))
			waitUntil(t, 10*time.Second, "the timer to prune the images", func() bool { return len(r.del.deleted().Images) == len(tc.gone) })
			got := r.deletedImages()
			for _, d := range tc.gone {
				if !got[d] {
					t.Errorf("image %s was not pruned; deleted %v", d, got)
				}
			}
			items := 0
			for _, sp := range r.del.deleted().Streams {
				items += len(sp.Deleted)
			}
			if items != tc.items {
				t.Errorf("%d stream item(s) pruned, want %d", items, tc.items)
			}
			if st := r.cont.Stats(); st.FullRounds != 1 || st.PodTimers != 0 {
				t.Errorf("stats %+v: want no second full round and the timer gone", st)
			}
			assertTimeToPrune(t, r.metrics, len(tc.gone), 3*time.Second)
		})
	}
}

// assertTimeToPrune checks that n Images were pruned, each d after its crossing.
func assertTimeToPrune(t *testing.T, m *audit.Metrics, n int, d time.Duration) {
	t.Helper()
	h := &dto.Metric{}
	if err := m.TimeToPrune.Write(h); err != nil {
		t.Fatal(err)
	}
	count, sum := h.GetHistogram().GetSampleCount(), h.GetHistogram().GetSampleSum()
	if count != uint64(n) || math.Abs(sum-float64(n)*d.Seconds()) > 0.001 {
		t.Errorf("time to prune: %d sample(s), sum %v s; want %d of %v (from the crossing)", count, sum, n, d)
	}
}

// Pods whose protection does not end with age set no timer, whether the full round or a
// change shows them: a Running or Pending pod counts whatever its age, and a finished pod
// already older than the cutoff counts no more (its image goes as soon as nothing else keeps
// it). Long after the cutoff, the images of the first two are still kept.
func TestPodsThatDoNotAgeOutSetNoTimer(t *testing.T) {
	cases := []struct {
		name, phase string
		created     time.Time
		// protects: the pods keep the image once the Deployment that also uses it is gone.
		protects bool
	}{
		{name: "a Running pod protects its image whatever its age", phase: "Running", created: ago(10 * time.Minute), protects: true},
		{name: "a Pending pod protects its image whatever its age", phase: "Pending", created: ago(10 * time.Minute), protects: true},
		{name: "a finished pod older than the cutoff protects nothing", phase: "Succeeded", created: ago(time.Hour)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			web := deployment("ns", "web", digestRef("ns/app", "a"))
			atFull := pod("ns", "seen-at-full-round", tc.phase, tc.created, digestRef("ns/app", "a"))
			r := startPodAge(t, 3, index.PutImage(img("a", ago(old))), index.PutObject(web), index.PutObject(atFull))
			if st := r.cont.Stats(); st.PodTimers != 0 {
				t.Fatalf("stats %+v: want no pod timer from the full round", st)
			}
			fromFeed := pod("ns", "seen-in-a-change", tc.phase, tc.created, digestRef("ns/app", "a"))
			r.apply(t, index.PutObject(fromFeed), index.DeleteObject(web.Key))
			if st := r.cont.Stats(); st.PodTimers != 0 {
				t.Fatalf("stats %+v: want no pod timer from the change", st)
			}
			want := 1
			if tc.protects {
				want = 0
			}
			waitUntil(t, 10*time.Second, "the pass to decide the image", func() bool { return len(r.del.deleted().Images) == want })
			r.at(t, now.Add(2*podAgeKeep))
			if st := r.cont.Stats(); st.PodTimers != 0 || st.FullRounds != 1 {
				t.Errorf("stats %+v: want no pod timer and one full round", st)
			}
			if got := len(r.del.deleted().Images); got != want {
				t.Errorf("%d image(s) deleted long after the cutoff, want %d", got, want)
			}
		})
	}
}

// A finished pod's timer goes with the pod: deleting the pod ends it at the next pass (the
// image, also used by a Deployment, stays); re-creating the pod under its name moves the timer
// to the new pod's crossing.
func TestDeletedPodDropsItsTimer(t *testing.T) {
	p := pod("ns", "job-1", "Succeeded", ago(10*time.Minute), digestRef("ns/app", "a"))
	r := startPodAge(t, 3,
		index.PutImage(img("a", ago(old))), index.PutObject(p),
		index.PutObject(deployment("ns", "web", digestRef("ns/app", "a"))))
	if st := r.cont.Stats(); st.PodTimers != 1 {
		t.Fatalf("stats %+v: want the finished pod's timer", st)
	}
	r.apply(t, index.DeleteObject(p.Key))
	if st := r.cont.Stats(); st.PodTimers != 0 {
		t.Fatalf("stats %+v: the deleted pod's timer is still set", st)
	}
	// Re-created 5 minutes later under the same name, finished again.
	again := pod("ns", "job-1", "Failed", ago(5*time.Minute), digestRef("ns/app", "a"))
	r.apply(t, index.PutObject(again))
	if st := r.cont.Stats(); st.PodTimers != 1 {
		t.Fatalf("stats %+v: want the re-created pod's timer", st)
	}
	// The first pod's crossing passes: the timer is the new pod's, so it stays.
	r.at(t, p.Created.Add(podAgeKeep+time.Second))
	if st := r.cont.Stats(); st.PodTimers != 1 {
		t.Fatalf("stats %+v: the timer fired at the deleted pod's crossing", st)
	}
	r.at(t, again.Created.Add(podAgeKeep+time.Second))
	if st := r.cont.Stats(); st.PodTimers != 0 {
		t.Fatalf("stats %+v: the re-created pod's timer did not fire", st)
	}
	if n := len(r.del.deleted().Images); n != 0 {
		t.Errorf("%d image(s) deleted; the Deployment still uses the image", n)
	}
}
