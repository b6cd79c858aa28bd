package tracker

import (
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// handler queues the informer events of one kind. Adds of the initial list are not queued:
// the start-up catch-up (or the catch-up of a kind discovered later) reads them from the cache
// in bulk, which is what makes a warm restart write only the differences.
type handler struct {
	kind string
	q    *queue
}

var _ toolscache.ResourceEventHandler = handler{}

func (h handler) OnAdd(obj any, isInInitialList bool) {
	if isInInitialList {
		return
	}
	if o, ok := obj.(client.Object); ok {
		h.q.add(event{kind: h.kind, obj: o})
	}
}

func (h handler) OnUpdate(_, obj any) {
	if o, ok := obj.(client.Object); ok {
		h.q.add(event{kind: h.kind, obj: o})
	}
}

// OnDelete queues a delete; an object whose delete the watch missed (a relist found it gone)
// arrives wrapped in DeletedFinalStateUnknown with its last known state.
func (h handler) OnDelete(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if o, ok := obj.(client.Object); ok {
		h.q.add(event{kind: h.kind, obj: o, deleted: true})
	}
}
