package tracker

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// errExpired means the API server no longer holds the events after the requested
// resourceVersion (410 Gone, "too old resource version"): etcd compacted them, or the API
// server's watch cache no longer reaches back that far.
var errExpired = errors.New("the resourceVersion to watch from is too old")

const (
	// maxCatchUpRounds bounds the catch-up watches of a kind that neither brings a bookmark
	// nor runs quiet (an API server without a watch cache, under constant changes): the
	// kind counts as caught up after so many.
	maxCatchUpRounds = 10
	// maxBackoff caps the wait between failed list or watch attempts.
	maxBackoff = 30 * time.Second
)

// runKind is the watch loop of one kind: it watches from resourceVersion from, and lists the
// kind first (relist) when from is empty or the API server answers that from is too old.
// caughtUp runs once, when the kind has caught up for the first time.
func (t *Tracker) runKind(ctx context.Context, a *kindAPI, from string, caughtUp func()) error {
	reason := relistNoWatermark
	if from != "" {
		t.o.Logger.V(1).Info("watching from a known resourceVersion", "kind", a.kind.Name, "resourceVersion", from)
	}
	rv := from
	backoff := newBackoff()
	for ctx.Err() == nil {
		if rv == "" {
			var err error
			if rv, err = t.relist(ctx, a, reason); err != nil {
				if ctx.Err() == nil {
					t.o.Logger.Error(err, "list failed, retrying", "kind", a.kind.Name)
					backoff.wait(ctx)
				}
				continue
			}
			backoff.reset()
		}
		var err error
		rv, err = t.follow(ctx, a, rv, &caughtUp)
		if errors.Is(err, errExpired) {
			t.o.Logger.Info("watch cannot resume, listing the kind", "kind", a.kind.Name, "resourceVersion", rv)
			rv, reason = "", relistExpired
		}
	}
	return nil
}

// follow watches a's kind from rv until ctx is done or the API server answers errExpired,
// and returns the last resourceVersion seen. While *caughtUp is set it makes short watches
// (catchUpWatchTimeout) and calls it, then clears it, once a watch brings a bookmark (the
// API server sends one only after every event it held for the watch) or runs its full time
// without any event (the API server held none).
func (t *Tracker) follow(ctx context.Context, a *kindAPI, rv string, caughtUp *func()) (string, error) {
	backoff := newBackoff()
	for round := 1; ctx.Err() == nil; round++ {
		timeout := steadyWatchTimeout()
		if *caughtUp != nil {
			timeout = catchUpWatchTimeout
		}
		start := time.Now()
		w, err := a.watch(ctx, rv, timeout)
		var r watchResult
		if err == nil {
			r = t.consume(ctx, a.kind.Name, w, rv)
			rv, err = r.rv, r.err
		}
		if isExpired(err) {
			return rv, errExpired
		}
		if *caughtUp != nil {
			quiet := err == nil && r.events == 0 && time.Since(start) >= timeout-500*time.Millisecond
			if r.bookmarks > 0 || quiet || round >= maxCatchUpRounds {
				(*caughtUp)()
				*caughtUp = nil
			}
		}
		if err != nil && ctx.Err() == nil {
			t.o.Logger.Error(err, "watch failed, retrying", "kind", a.kind.Name, "resourceVersion", rv)
			backoff.wait(ctx)
			continue
		}
		backoff.reset()
	}
	return rv, ctx.Err()
}

// watchResult is what one watch brought.
type watchResult struct {
	rv                string
	events, bookmarks int
	err               error
}

// consume queues the changes of w's events until the API server ends the watch or ctx is
// done. Bookmarks move the kind's resourceVersion without a change.
func (t *Tracker) consume(ctx context.Context, kind string, w watch.Interface, rv string) watchResult {
	defer w.Stop()
	r := watchResult{rv: rv}
	for {
		var ev watch.Event
		var open bool
		select {
		case <-ctx.Done():
			return r
		case ev, open = <-w.ResultChan():
		}
		if !open {
			return r
		}
		if ev.Type == watch.Error {
			r.err = apierrors.FromObject(ev.Object)
			return r
		}
		m, err := meta.Accessor(ev.Object)
		if err != nil {
			r.err = fmt.Errorf("watch of %s sent a %s event without metadata: %w", kind, ev.Type, err)
			return r
		}
		r.rv = m.GetResourceVersion()
		if ev.Type == watch.Bookmark {
			r.bookmarks++
			t.q.mark(kind, r.rv)
			continue
		}
		r.events++
		obj, ok := ev.Object.(client.Object)
		if !ok {
			continue
		}
		c, err := eventChange(kind, obj, ev.Type == watch.Deleted)
		if err != nil {
			t.o.Logger.Error(err, "object not indexed")
			t.q.mark(kind, r.rv)
			continue
		}
		t.q.add(c, r.rv)
	}
}

func isExpired(err error) bool {
	return err != nil && (apierrors.IsResourceExpired(err) || apierrors.IsGone(err))
}

// backoff doubles the wait between failed attempts, from a second up to maxBackoff.
type backoff struct{ next time.Duration }

func newBackoff() *backoff { return &backoff{next: time.Second} }

func (b *backoff) reset() { b.next = time.Second }

func (b *backoff) wait(ctx context.Context) {
	timer := time.NewTimer(b.next)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
	b.next = min(2*b.next, maxBackoff)
}
