package tracker

import (
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// event is the latest known state of one object: obj as it now is, or deleted.
type event struct {
	kind    string
	obj     client.Object
	deleted bool
}

// queue holds the latest event per object, in the order objects first changed. Informer
// handlers add to it and return at once; the tracker's writer takes batches. Coalescing means
// an object updated a hundred times while the writer was busy is written once, and memory is
// bounded by the number of objects, not of events.
type queue struct {
	mu     sync.Mutex
	latest map[string]event
	order  []string
	notify chan struct{}
}

func newQueue() *queue {
	return &queue{latest: map[string]event{}, notify: make(chan struct{}, 1)}
}

// eventKey identifies an object across kinds.
func eventKey(kind string, obj client.Object) string {
	return kind + "/" + obj.GetNamespace() + "/" + obj.GetName()
}

// add records e as the latest state of its object and wakes the writer.
func (q *queue) add(e event) {
	k := eventKey(e.kind, e.obj)
	q.mu.Lock()
	if _, queued := q.latest[k]; !queued {
		q.order = append(q.order, k)
	}
	q.latest[k] = e
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// take removes and returns up to max events, oldest first.
func (q *queue) take(max int) []event {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(max, len(q.order))
	out := make([]event, 0, n)
	for _, k := range q.order[:n] {
		out = append(out, q.latest[k])
		delete(q.latest, k)
	}
	q.order = append(q.order[:0], q.order[n:]...)
	return out
}

// len returns how many objects have a queued event.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}
