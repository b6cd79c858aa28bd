package pruner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/utils/ptr"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Barrier waits until the index reflects what the API server had persisted at a resource
// version: the re-check step of the fence reads the index only after it.
type Barrier interface {
	// Wait returns once every change of a referrer kind persisted at or before rv is in the
	// index, or an error (then nothing may be deleted).
	Wait(ctx context.Context, rv string) error
}

// BarrierKind is one kind the WatchBarrier follows: its model kind (the index's key kind) and
// the API it is listed as.
type BarrierKind struct {
	Kind string
	GVK  schema.GroupVersionKind
}

// WatchBarrier proves index freshness with the API server's own watch order, per kind:
//
//   - it keeps, per kind, a mark M: every change of that kind at or before M is known to be
//     in the index;
//   - Wait(rv) for a kind with M < rv watches the kind's metadata from M (a metadata-only
//     watch: keys and resource versions, no specs) until an event or bookmark at or past rv;
//     every event before it must be reflected in the index (the object there at that
//     version or newer; gone, or newer, for a delete), waiting for the tracker if needed;
//   - the first Wait of a kind (and one whose mark fell out of the API server's watch
//     window: 410 Gone) sets the mark from a streamed watch-list at rv: every object that
//     exists then must be in the index at its version or newer;
//   - a kind that had few objects at its last list (RelistBelow) is simply listed again,
//     which is faster than waiting for a bookmark;
//   - quiet kinds get no events, so the watch is opened with a short timeout, which makes the
//     API server send a bookmark before it ends; a consistent one-item list first brings the
//     API server's watch cache to the current revision, so that the bookmark reaches rv.
//
// Resource versions are compared as numbers: every resource in one etcd shares its revision
// counter, which is what makes a Fence's version comparable with a Pod's. An API server whose
// versions are not numbers fails Wait, and nothing is deleted.
type WatchBarrier struct {
	Metadata metadata.Interface
	Mapper   meta.RESTMapper
	Index    model.Reader
	Kinds    []BarrierKind
	// Timeout bounds one Wait; 0 means 30 seconds.
	Timeout time.Duration
	// Poll is how often the index is read again while it lags; 0 means 10 ms.
	Poll time.Duration
	// RelistBelow: a kind that had fewer objects than this at its last list is listed again
	// rather than followed. A follow waits for a bookmark (one to two seconds on a quiet
	// kind); a metadata list of a few thousand objects from the watch cache takes
	// milliseconds. 0 means DefaultRelistBelow; negative always follows.
	RelistBelow int

	mu     sync.Mutex
	marks  map[string]uint64
	counts map[string]int
}

// DefaultRelistBelow is WatchBarrier.RelistBelow's default.
const DefaultRelistBelow = 2000

var _ Barrier = (*WatchBarrier)(nil)

// watchTimeoutSeconds makes the API server send a bookmark within about a second: it sends
// one two seconds before a watch's deadline.
const watchTimeoutSeconds = 3

// askInterval bounds how often the API server is asked whether an object missing from the
// index was deleted since its event.
const askInterval = 250 * time.Millisecond

// ErrNotFresh is returned when the index could not be shown to reflect the API server in time.
var ErrNotFresh = errors.New("the index did not catch up with the API server")

// Wait implements Barrier.
func (b *WatchBarrier) Wait(ctx context.Context, rv string) error {
	target, err := parseRV(rv)
	if err != nil {
		return err
	}
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	for _, k := range b.Kinds {
		g.Go(func() error { return b.waitKind(ctx, k, target) })
	}
	if err := g.Wait(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%w within %s: %w", ErrNotFresh, timeout, err)
		}
		return err
	}
	return nil
}

func (b *WatchBarrier) mark(kind string) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.marks[kind]
}

func (b *WatchBarrier) setMark(kind string, rv uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.marks == nil {
		b.marks = map[string]uint64{}
	}
	if rv > b.marks[kind] {
		b.marks[kind] = rv
	}
}

func (b *WatchBarrier) waitKind(ctx context.Context, k BarrierKind, target uint64) error {
	m, err := b.Mapper.RESTMapping(k.GVK.GroupKind(), k.GVK.Version)
	if meta.IsNoMatchError(err) {
		return nil // not served: nothing of this kind can reference anything
	}
	if err != nil {
		return fmt.Errorf("failed to map %s: %w", k.GVK, err)
	}
	res := b.Metadata.Resource(m.Resource)
	for {
		from := b.mark(k.Kind)
		if from >= target {
			return nil
		}
		var reached uint64
		if from == 0 || b.relist(k.Kind) {
			var n int
			reached, n, err = b.base(ctx, k, res, target)
			b.mu.Lock()
			if b.counts == nil {
				b.counts = map[string]int{}
			}
			b.counts[k.Kind] = n
			b.mu.Unlock()
		} else {
			reached, err = b.follow(ctx, k, res, from, target)
		}
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			b.mu.Lock()
			delete(b.marks, k.Kind)
			b.mu.Unlock()
			continue
		}
		if err != nil {
			return fmt.Errorf("failed to follow %s up to resource version %d: %w", k.GVK.Kind, target, err)
		}
		b.setMark(k.Kind, reached)
	}
}

// relist reports whether a kind is small enough to be listed again rather than followed.
func (b *WatchBarrier) relist(kind string) bool {
	limit := b.RelistBelow
	if limit == 0 {
		limit = DefaultRelistBelow
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.counts[kind]
	return ok && n < limit
}

// base checks every object of the kind that exists at target or later against the index,
// and returns the version reached and how many objects there were.
func (b *WatchBarrier) base(ctx context.Context, k BarrierKind, res metadata.Getter, target uint64) (uint64, int, error) {
	w, err := res.Watch(ctx, metav1.ListOptions{
		SendInitialEvents: ptr.To(true), ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
		ResourceVersion: strconv.FormatUint(target, 10), AllowWatchBookmarks: true,
	})
	if err != nil {
		return 0, 0, err
	}
	defer w.Stop()
	n := 0
	for ev := range w.ResultChan() {
		rv, err := b.check(ctx, k, res, ev)
		if err != nil {
			return 0, 0, err
		}
		if ev.Type != watch.Bookmark {
			n++
			continue
		}
		if o, ok := ev.Object.(metav1.Object); ok && o.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true" {
			return rv, n, nil
		}
	}
	return 0, 0, ctxErr(ctx, "the initial list ended early")
}

// follow checks the changes of the kind after from against the index, until target.
func (b *WatchBarrier) follow(ctx context.Context, k BarrierKind, res metadata.Getter, from, target uint64) (uint64, error) {
	if _, err := res.List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return 0, err
	}
	for {
		w, err := res.Watch(ctx, metav1.ListOptions{
			ResourceVersion: strconv.FormatUint(from, 10), AllowWatchBookmarks: true, TimeoutSeconds: ptr.To[int64](watchTimeoutSeconds),
		})
		if err != nil {
			return 0, err
		}
		for ev := range w.ResultChan() {
			rv, err := b.check(ctx, k, res, ev)
			if err != nil {
				w.Stop()
				return 0, err
			}
			if rv > from {
				from = rv
			}
			if from >= target {
				w.Stop()
				return from, nil
			}
		}
		w.Stop()
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
}

// check waits until the index reflects one watch event and returns the event's version.
func (b *WatchBarrier) check(ctx context.Context, k BarrierKind, res metadata.Getter, ev watch.Event) (uint64, error) {
	if ev.Type == watch.Error {
		return 0, apierrors.FromObject(ev.Object)
	}
	o, ok := ev.Object.(metav1.Object)
	if !ok {
		return 0, fmt.Errorf("unexpected watch object %T", ev.Object)
	}
	rv, err := parseRV(o.GetResourceVersion())
	if err != nil || ev.Type == watch.Bookmark {
		return rv, err
	}
	key := model.ObjectKey{Kind: k.Kind, Namespace: o.GetNamespace(), Name: o.GetName()}
	poll := b.Poll
	if poll <= 0 {
		poll = 10 * time.Millisecond
	}
	var asked time.Time
	for {
		obj, found, err := b.Index.Object(ctx, key)
		if err != nil {
			return 0, err
		}
		have, _ := parseRV(obj.ResourceVersion)
		if ev.Type == watch.Deleted && (!found || have > rv) || ev.Type != watch.Deleted && found && have >= rv {
			return rv, nil
		}
		if ev.Type != watch.Deleted && !found && time.Since(asked) > askInterval {
			asked = time.Now()
			// Not in the index: not applied yet, or deleted since (then its delete was applied
			// first). The API server tells which.
			gone, err := b.deletedSince(ctx, res, o)
			if err != nil || gone {
				return rv, err
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%s at resource version %d is not in the index: %w", key, rv, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// deletedSince reports whether the object o of a watch event no longer exists as that object
// (deleted, or re-created with another UID).
func (b *WatchBarrier) deletedSince(ctx context.Context, res metadata.Getter, o metav1.Object) (bool, error) {
	var get metadata.ResourceInterface = res
	if o.GetNamespace() != "" {
		get = res.Namespace(o.GetNamespace())
	}
	cur, err := get.Get(ctx, o.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return cur.GetUID() != o.GetUID(), nil
}

func parseRV(rv string) (uint64, error) {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("resource version %q is not a number, so the index's freshness cannot be shown: %w", rv, err)
	}
	return n, nil
}

func ctxErr(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New(what)
}
