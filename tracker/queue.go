package tracker

import (
	"context"
	"sync"

	"github.com/pruneguard/pruneguard/pkg/index"
)

// change is the latest known state of one object, as the index ops that write it.
type change struct {
	kind string
	// key identifies the object across kinds (changeKey).
	key string
	ops []index.Op
}

func changeKey(kind, namespace, name string) string {
	return kind + "/" + namespace + "/" + name
}

// kindState is the queue's account of one kind.
type kindState struct {
	// queued and inflight count the kind's changes waiting and taken but not yet done.
	queued, inflight int
	// seen is the resourceVersion of the kind's last change, bookmark or list; written is
	// the watermark last committed.
	seen, written string
}

// batch is what the writer takes: changes to apply and, after them, the watermarks they
// complete.
type batch struct {
	changes []change
	// marks are the watermarks to write with the changes: kinds none of whose changes wait
	// any longer, at the resourceVersion last seen for them.
	marks map[string]string
}

func (b batch) empty() bool { return len(b.changes) == 0 && len(b.marks) == 0 }

// queue holds the latest change per object, in the order objects first changed, and the
// resourceVersion each kind has been seen at. Watch loops add to it and return at once; the
// tracker's one writer takes batches. Coalescing means an object updated a hundred times
// while the writer was busy is written once, and memory is bounded by the number of objects,
// not of events.
//
// A kind's watermark may be written only when every change of the kind seen so far is
// written: take hands out the watermark of a kind in the batch that takes its last waiting
// change (or with no change at all after a bookmark), so the index writes it after them.
type queue struct {
	mu     sync.Mutex
	latest map[string]change
	order  []string
	kinds  map[string]*kindState
	notify chan struct{}
	// settled is closed (and replaced) whenever a batch is done, for waitIdle.
	settled chan struct{}
}

func newQueue() *queue {
	return &queue{latest: map[string]change{}, kinds: map[string]*kindState{},
		notify: make(chan struct{}, 1), settled: make(chan struct{})}
}

func (q *queue) state(kind string) *kindState {
	s, ok := q.kinds[kind]
	if !ok {
		s = &kindState{}
		q.kinds[kind] = s
	}
	return s
}

// add records c as the latest state of its object, seen at resourceVersion rv, and wakes the
// writer.
func (q *queue) add(c change, rv string) {
	q.mu.Lock()
	s := q.state(c.kind)
	if _, queued := q.latest[c.key]; !queued {
		q.order = append(q.order, c.key)
		s.queued++
	}
	q.latest[c.key] = c
	if rv != "" {
		s.seen = rv
	}
	q.mu.Unlock()
	q.wake()
}

// mark records that kind is seen at rv with no change (a bookmark, or the end of a list
// whose changes were added), and wakes the writer.
func (q *queue) mark(kind, rv string) {
	q.mu.Lock()
	q.state(kind).seen = rv
	q.mu.Unlock()
	q.wake()
}

func (q *queue) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// take removes and returns up to max changes, oldest first, with the watermarks they
// complete. Call done with the batch before the next take.
func (q *queue) take(max int) batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(max, len(q.order))
	b := batch{changes: make([]change, 0, n)}
	for _, k := range q.order[:n] {
		c := q.latest[k]
		b.changes = append(b.changes, c)
		delete(q.latest, k)
		s := q.kinds[c.kind]
		s.queued--
		s.inflight++
	}
	q.order = append(q.order[:0], q.order[n:]...)
	for kind, s := range q.kinds {
		if s.queued == 0 && s.seen != "" && s.seen != s.written {
			if b.marks == nil {
				b.marks = map[string]string{}
			}
			b.marks[kind] = s.seen
		}
	}
	return b
}

// done records that b is applied; written says whether its watermarks were committed.
func (q *queue) done(b batch, written bool) {
	q.mu.Lock()
	for _, c := range b.changes {
		q.kinds[c.kind].inflight--
	}
	if written {
		for kind, rv := range b.marks {
			q.kinds[kind].written = rv
		}
	}
	close(q.settled)
	q.settled = make(chan struct{})
	q.mu.Unlock()
}

// waitIdle waits until no change of kind waits or is being applied.
func (q *queue) waitIdle(ctx context.Context, kind string) error {
	for {
		q.mu.Lock()
		s := q.state(kind)
		idle, settled := s.queued == 0 && s.inflight == 0, q.settled
		q.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-settled:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// len returns how many objects have a queued change.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}
