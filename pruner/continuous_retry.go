package pruner

import (
	"time"
)

// Bounds of the retry backoff of candidates whose prune failed.
const (
	// DefaultRetryBase is the first wait before a failed candidate is planned again: long
	// enough not to hammer a registry or API server that has just failed, short enough that
	// a blip (a registry pod restarting) costs about a second of time to prune.
	DefaultRetryBase = time.Second
	// DefaultRetryMax caps the doubling: a registry down for an hour is tried every 5 min,
	// twice as often as the full round would, at the cost of one fence per try.
	DefaultRetryMax = 5 * time.Minute
)

// retryKind names the map of a candidateSet a retried key belongs to.
type retryKind uint8

const (
	retryImage retryKind = iota
	retryStream
	retryDigest
	retryTag
	retryNamespace
)

type retryKey struct {
	kind retryKind
	key  string
}

type retryState struct {
	failures int
	// due is when the candidate is queued again; zero once it is queued and waits to be
	// planned.
	due   time.Time
	since time.Time
}

// retries hold the candidates whose prune failed (a read of the index, the fence, the API
// server or the registry) until their backoff has passed: the first retry DefaultRetryBase
// after the failure, each further one twice as late, at most DefaultRetryMax. Without it a
// failed candidate would wait for the next full round (10 min), or, requeued at once, would
// cost a fence every MinGap while the registry is down. A candidate forgets its failures
// when a pass plans it without one, and every candidate does when a full round succeeds.
//
// It is used by the pruning loop only, so it has no lock.
type retries struct {
	base, max time.Duration
	states    map[retryKey]*retryState
}

func newRetries(base, limit time.Duration) *retries {
	return &retries{base: base, max: limit, states: map[retryKey]*retryState{}}
}

// each calls fn for every key of s with its kind and since.
func (s *candidateSet) each(fn func(k retryKey, since time.Time)) {
	for _, m := range []struct {
		kind retryKind
		keys map[string]time.Time
	}{
		{retryImage, s.images}, {retryStream, s.streams}, {retryDigest, s.digests},
		{retryTag, s.tags}, {retryNamespace, s.namespaces},
	} {
		for key, since := range m.keys {
			fn(retryKey{m.kind, key}, since)
		}
	}
}

// add records key in s at since.
func (s *candidateSet) addKey(k retryKey, since time.Time) {
	m := [...]map[string]time.Time{s.images, s.streams, s.digests, s.tags, s.namespaces}[k.kind]
	addTo(m, k.key, since)
}

// failed records one more failure of every candidate of s, at now.
func (r *retries) failed(s *candidateSet, now time.Time) {
	s.each(func(k retryKey, since time.Time) {
		st := r.states[k]
		if st == nil {
			st = &retryState{since: since}
			r.states[k] = st
		}
		if since.Before(st.since) {
			st.since = since
		}
		st.failures++
		st.due = now.Add(r.delay(st.failures))
	})
}

// delay is the backoff after n failures.
func (r *retries) delay(n int) time.Duration {
	d := r.base
	for i := 1; i < n && d < r.max; i++ {
		d *= 2
	}
	return min(d, r.max)
}

// succeeded forgets the failures of every candidate of s.
func (r *retries) succeeded(s *candidateSet) {
	s.each(func(k retryKey, _ time.Time) { delete(r.states, k) })
}

// reset forgets every failure (a full round planned and deleted everything).
func (r *retries) reset() { clear(r.states) }

// due moves into s the candidates whose backoff has passed at now.
func (r *retries) due(now time.Time, s *candidateSet) {
	for k, st := range r.states {
		if !st.due.IsZero() && !st.due.After(now) {
			s.addKey(k, st.since)
			st.due = time.Time{}
		}
	}
}

// next returns the earliest time a waiting candidate is due; ok is false when none waits.
func (r *retries) next() (at time.Time, ok bool) {
	for _, st := range r.states {
		if !st.due.IsZero() && (at.IsZero() || st.due.Before(at)) {
			at = st.due
		}
	}
	return at, !at.IsZero()
}

// planKeys returns the streams and Images of plan as candidates, since the times in set
// (or at if set has none).
func planKeys(plan *Plan, set *candidateSet, at time.Time) *candidateSet {
	out := newCandidateSet()
	for _, sp := range plan.Streams {
		since, ok := set.streams[sp.Repo()]
		if !ok {
			since = at
		}
		addTo(out.streams, sp.Repo(), since)
	}
	for _, ip := range plan.Images {
		since, ok := set.images[ip.Digest]
		if !ok {
			since = at
		}
		addTo(out.images, ip.Digest, since)
	}
	return out
}

// has reports whether s holds key k.
func (s *candidateSet) has(k retryKey) bool {
	m := [...]map[string]time.Time{s.images, s.streams, s.digests, s.tags, s.namespaces}[k.kind]
	_, ok := m[k.key]
	return ok
}
