package pruner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// candidateSet is what may have become prunable, each with the time since when: the commit
// time of the change that brought it up, or the cutoff crossing of a timer. A key seen twice
// keeps its earliest time, so that the time to prune is never understated.
type candidateSet struct {
	// images are digests to decide as stage 2 does; streams are "NAMESPACE/NAME" to decide as
	// stage 1 does.
	images  map[string]time.Time
	streams map[string]time.Time
	// digests, tags and namespaces are raw changes, expanded at planning time (expand).
	digests    map[string]time.Time
	tags       map[string]time.Time
	namespaces map[string]time.Time
	// full asks for a full round (the safety net, or a change the candidates cannot cover).
	full bool
}

func newCandidateSet() *candidateSet {
	return &candidateSet{
		images: map[string]time.Time{}, streams: map[string]time.Time{},
		digests: map[string]time.Time{}, tags: map[string]time.Time{}, namespaces: map[string]time.Time{},
	}
}

// addTo records key at t in m unless it is there with an earlier time.
func addTo(m map[string]time.Time, key string, t time.Time) {
	if old, ok := m[key]; !ok || t.Before(old) {
		m[key] = t
	}
}

func (s *candidateSet) empty() bool {
	return !s.full && len(s.images)+len(s.streams)+len(s.digests)+len(s.tags)+len(s.namespaces) == 0
}

// addChanges records what one index commit changed.
func (s *candidateSet) addChanges(ch Changes) {
	for _, d := range ch.Digests {
		addTo(s.digests, d, ch.At)
	}
	for _, t := range ch.Tags {
		addTo(s.tags, t, ch.At)
	}
	for _, r := range ch.Streams {
		addTo(s.streams, r, ch.At)
	}
	for _, ns := range ch.LimitRangeNamespaces {
		addTo(s.namespaces, ns, ch.At)
	}
}

// candidateQueue collects candidates from the change feed (any goroutine) for the pruning
// loop, and wakes the loop when something arrives.
type candidateQueue struct {
	mu   sync.Mutex
	set  *candidateSet
	wake chan struct{}
}

func newCandidateQueue() *candidateQueue {
	return &candidateQueue{set: newCandidateSet(), wake: make(chan struct{}, 1)}
}

// changed is the change feed's callback: it only records and signals, never reads. children
// are the children of the manifest lists the change put or deleted (ListReader.Changed).
func (q *candidateQueue) changed(ch Changes, children []string) {
	q.mu.Lock()
	q.set.addChanges(ch)
	for _, d := range children {
		addTo(q.set.images, d, ch.At)
	}
	q.mu.Unlock()
	q.signal()
}

func (q *candidateQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// add merges more candidates (timers, follow-ups) into the queue.
func (q *candidateQueue) add(fn func(*candidateSet)) {
	q.mu.Lock()
	fn(q.set)
	q.mu.Unlock()
	q.signal()
}

// take returns what is queued and empties the queue.
func (q *candidateQueue) take() *candidateSet {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.set
	q.set = newCandidateSet()
	return s
}

// pending reports whether anything is queued.
func (q *candidateQueue) pending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return !q.set.empty()
}

// expand turns the raw changes of s into stream and image candidates, reading only the
// entries of each change:
//
//   - a digest whose referrers changed (or an Image put or deleted): the Image, and every
//     stream with an item naming it (a digest reference keeps items past
//     --keep-tag-revisions);
//   - a tag whose referrers changed: its stream (item 0 may go now) and item 0's image;
//   - a namespace whose LimitRanges changed: in over-size mode every stream of the namespace
//     (the size rule decides their items); otherwise nothing, as limits decide nothing else.
//
// The images that a stream change leaves without their last item are found in stage 1 (see
// streamSnapshot), once the stream is read.
func expand(ctx context.Context, r model.Reader, p Policy, s *candidateSet) error {
	for d, at := range s.digests {
		addTo(s.images, d, at)
		items, err := r.StreamItemsOfImage(ctx, "", d)
		if err != nil {
			return fmt.Errorf("failed to read the stream items of image %s: %w", d, err)
		}
		for _, it := range items {
			addTo(s.streams, it.Repo, at)
		}
	}
	for t, at := range s.tags {
		repo, tag, ok := strings.Cut(t, ":")
		if !ok {
			continue
		}
		addTo(s.streams, repo, at)
		if d, ok, err := itemZero(ctx, r, repo, tag); err != nil {
			return err
		} else if ok {
			addTo(s.images, d, at)
		}
	}
	if !p.PruneOverSizeLimit {
		return nil
	}
	for ns, at := range s.namespaces {
		err := r.Streams(ctx, ns, func(st model.Stream) error { addTo(s.streams, st.Repo(), at); return nil })
		if err != nil {
			return fmt.Errorf("failed to list the image streams of namespace %s: %w", ns, err)
		}
	}
	return nil
}

// itemZero returns the image of item 0 of repo:tag.
func itemZero(ctx context.Context, r model.Reader, repo, tag string) (string, bool, error) {
	ns, name, _ := strings.Cut(repo, "/")
	st, ok, err := r.Stream(ctx, ns, name)
	if err != nil {
		return "", false, fmt.Errorf("failed to read image stream %s: %w", repo, err)
	}
	if !ok {
		return "", false, nil
	}
	for _, t := range st.Tags {
		if t.Name == tag && len(t.Items) > 0 {
			return t.Items[0].Image, true, nil
		}
	}
	return "", false, nil
}

// sortedKeys returns the keys of m in order, so that a batch is planned deterministically.
func sortedKeys(m map[string]time.Time) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
