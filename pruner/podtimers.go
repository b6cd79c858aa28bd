package pruner

import (
	"container/heap"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// agesOut reports whether a referrer's references count only while it is young: a pod
// (confirmed by a watch, not a pending admission record) that is neither Running nor Pending.
// oc reads the pod's creationTimestamp for this, never the time it finished, so such a pod
// stops protecting its images at creation + keep-younger-than even if it finished a moment
// ago. No other referrer kind depends on age: oc counts replication controllers, builds,
// build configs and the workload kinds whatever their age. It agrees with Policy.counts
// (TestPodTimerAgesOutAgreesWithThePolicy).
func agesOut(kind, phase string, pending bool) bool {
	return !pending && kind == model.KindPod && phase != podRunning && phase != podPending
}

// stopsCounting is the first instant at which a pod that ages out, created at created, no
// longer counts: oc drops it when its creation is strictly before the cutoff, so one
// nanosecond after creation + keep-younger-than.
func stopsCounting(created time.Time, keep time.Duration) time.Time {
	return created.Add(keep + time.Nanosecond)
}

// Candidate keys of a pod timer: the change keys of the index (Changes.Digests, Changes.Tags)
// with a one-letter prefix, so that a digest and a tag never collide.
const (
	refKeyDigest = "d:"
	refKeyTag    = "t:"
)

// refKeys returns the distinct candidate keys of refs, as the index reports their changes: a
// reference with a digest by its digest, else one with a stream and tag by "REPO:TAG".
// References that cannot protect anything have none.
func refKeys(refs []model.Ref) []string {
	var keys []string
	seen := map[string]bool{}
	for _, r := range refs {
		var k string
		switch {
		case r.Invalid != "":
			continue
		case r.Digest != "":
			k = refKeyDigest + r.Digest
		case r.Repo != "" && r.Tag != "":
			k = refKeyTag + r.Repo + ":" + r.Tag
		default:
			continue
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// podTimer is the crossing of one pod: at is when its references stop counting.
type podTimer struct {
	key     model.ObjectKey
	created time.Time
	at      time.Time
	refs    []string // candidate keys (refKeys)
	index   int      // position in the heap
}

// podHeap orders the timers by crossing time (container/heap).
type podHeap []*podTimer

func (h podHeap) Len() int           { return len(h) }
func (h podHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h podHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *podHeap) Push(x any) {
	t := x.(*podTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *podHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}

// podTimers bring up the images of finished pods when those pods grow older than the
// keep-younger-than cutoff, the one change of protection that no index write announces.
//
// It holds one timer per pod at most: a min-heap by crossing time, the timer of each pod by
// key, and the pods of each candidate key, so that a change of a digest or tag finds the
// timers it may end. A timer is set for a pod that ages out (agesOut) and is still young:
// at the full round for every such pod (load), and in a pass for every such pod that refers
// to a digest or tag the index reports changed (observe: a pod that finished, or one created
// finished). It is removed when it fires (due), and when a change of one of its keys shows the
// pod deleted, no longer ageing out, or re-created (observe re-reads the pod). When it fires,
// the pod's digests and tags become candidates, with the crossing as their time.
//
// Only the pruning loop uses it; size is read by Stats from any goroutine.
type podTimers struct {
	heap  podHeap
	byKey map[model.ObjectKey]*podTimer
	byRef map[string]map[model.ObjectKey]struct{}
	size  atomic.Int64
}

func newPodTimers() *podTimers {
	return &podTimers{byKey: map[model.ObjectKey]*podTimer{}, byRef: map[string]map[model.ObjectKey]struct{}{}}
}

// len returns the number of timers set.
func (t *podTimers) len() int64 { return t.size.Load() }

// track sets, moves or removes the timer of o under p: set when o ages out and still counts
// because it is young, removed otherwise.
func (t *podTimers) track(o model.Object, p Policy) {
	at := stopsCounting(o.Created, p.KeepYoungerThan)
	keys := refKeys(o.Refs)
	if !agesOut(o.Key.Kind, o.Phase, false) || !at.After(p.Now) || len(keys) == 0 {
		t.drop(o.Key)
		return
	}
	if old, ok := t.byKey[o.Key]; ok {
		t.unlinkRefs(old)
		old.created, old.at, old.refs = o.Created, at, keys
		heap.Fix(&t.heap, old.index)
		t.linkRefs(old)
		return
	}
	pt := &podTimer{key: o.Key, created: o.Created, at: at, refs: keys}
	heap.Push(&t.heap, pt)
	t.byKey[o.Key] = pt
	t.linkRefs(pt)
	t.size.Store(int64(len(t.heap)))
}

// drop removes the timer of key, if any.
func (t *podTimers) drop(key model.ObjectKey) {
	pt, ok := t.byKey[key]
	if !ok {
		return
	}
	heap.Remove(&t.heap, pt.index)
	t.forget(pt)
}

func (t *podTimers) forget(pt *podTimer) {
	delete(t.byKey, pt.key)
	t.unlinkRefs(pt)
	t.size.Store(int64(len(t.heap)))
}

func (t *podTimers) linkRefs(pt *podTimer) {
	for _, k := range pt.refs {
		pods := t.byRef[k]
		if pods == nil {
			pods = map[model.ObjectKey]struct{}{}
			t.byRef[k] = pods
		}
		pods[pt.key] = struct{}{}
	}
}

func (t *podTimers) unlinkRefs(pt *podTimer) {
	for _, k := range pt.refs {
		delete(t.byRef[k], pt.key)
		if len(t.byRef[k]) == 0 {
			delete(t.byRef, k)
		}
	}
}

// hasRef reports whether pt's pod refers to candidate key k.
func (pt *podTimer) hasRef(k string) bool {
	for _, r := range pt.refs {
		if r == k {
			return true
		}
	}
	return false
}

// next returns the earliest crossing; ok is false when no timer is set.
func (t *podTimers) next() (time.Time, bool) {
	if len(t.heap) == 0 {
		return time.Time{}, false
	}
	return t.heap[0].at, true
}

// due removes the timers whose crossing is at or before p.Now and adds their pods' digests
// and tags to s, since the crossing.
func (t *podTimers) due(p Policy, s *candidateSet) {
	for len(t.heap) > 0 && !t.heap[0].at.After(p.Now) {
		pt := heap.Pop(&t.heap).(*podTimer)
		t.forget(pt)
		for _, k := range pt.refs {
			if d, ok := strings.CutPrefix(k, refKeyDigest); ok {
				addTo(s.digests, d, pt.at)
			} else if tag, ok := strings.CutPrefix(k, refKeyTag); ok {
				addTo(s.tags, tag, pt.at)
			}
		}
	}
}

// load replaces every timer by those of the pods r holds now: one read of every referrer,
// at the full round.
func (t *podTimers) load(ctx context.Context, r model.Reader, p Policy) error {
	fresh := newPodTimers()
	err := r.Objects(ctx, func(o model.Object) error {
		if o.Key.Kind == model.KindPod {
			fresh.track(o, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("failed to read the pods for their cutoff crossings: %w", err)
	}
	t.heap, t.byKey, t.byRef = fresh.heap, fresh.byKey, fresh.byRef
	t.size.Store(int64(len(t.heap)))
	return nil
}

// observe updates the timers from the raw changes of s, the digests and tags whose referrers
// the index reported changed. For each it reads the referrers, and re-reads the pods that may
// need a new timer (ageing out and young, but without a timer for this key and creation) and
// those whose timer is on this key but that are no longer among its ageing-out referrers
// (deleted, running again, or re-created pending admission): each re-read pod is tracked
// anew, or dropped when it is gone.
func (t *podTimers) observe(ctx context.Context, r model.Reader, p Policy, s *candidateSet) error {
	recheck := map[model.ObjectKey]bool{}
	visit := func(k string, refs []model.Referrer) {
		present := map[model.ObjectKey]bool{}
		for _, rf := range refs {
			if !agesOut(rf.Object.Kind, rf.Phase, rf.Pending) {
				continue
			}
			present[rf.Object] = true
			pt, known := t.byKey[rf.Object]
			young := stopsCounting(rf.Created, p.KeepYoungerThan).After(p.Now)
			if (young || known) && (!known || !pt.created.Equal(rf.Created) || !pt.hasRef(k)) {
				recheck[rf.Object] = true
			}
		}
		for key := range t.byRef[k] {
			if !present[key] {
				recheck[key] = true
			}
		}
	}
	for d := range s.digests {
		refs, err := r.ReferrersOfDigest(ctx, "", d)
		if err != nil {
			return fmt.Errorf("failed to read the referrers of image %s: %w", d, err)
		}
		visit(refKeyDigest+d, refs)
	}
	for tag := range s.tags {
		repo, name, ok := strings.Cut(tag, ":")
		if !ok {
			continue
		}
		refs, err := r.ReferrersOfTag(ctx, repo, name)
		if err != nil {
			return fmt.Errorf("failed to read the referrers of image stream tag %s: %w", tag, err)
		}
		visit(refKeyTag+tag, refs)
	}
	for key := range recheck {
		o, ok, err := r.Object(ctx, key)
		if err != nil {
			return fmt.Errorf("failed to read %s for its cutoff crossing: %w", key, err)
		}
		if !ok {
			t.drop(key)
			continue
		}
		t.track(o, p)
	}
	return nil
}
