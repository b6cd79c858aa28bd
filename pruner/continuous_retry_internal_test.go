package pruner

import (
	"testing"
	"time"
)

func TestRetryBackoff(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	one := func(kind retryKind, key string, since time.Time) *candidateSet {
		s := newCandidateSet()
		s.addKey(retryKey{kind, key}, since)
		return s
	}
	for _, tc := range []struct {
		name string
		run  func(r *retries)
		now  time.Time
		want map[string]time.Time // due images (key -> since)
	}{
		{name: "a first failure is retried after the base delay, not before",
			run: func(r *retries) {
				r.failed(one(retryImage, "a", t0), t0)
			}, now: t0.Add(999 * time.Millisecond), want: map[string]time.Time{}},
		{name: "a first failure is due once the base delay has passed, with its original since",
			run: func(r *retries) {
				r.failed(one(retryImage, "a", t0.Add(-time.Minute)), t0)
			}, now: t0.Add(time.Second), want: map[string]time.Time{"a": t0.Add(-time.Minute)}},
		{name: "each further failure doubles the delay",
			run: func(r *retries) {
				for i := range 3 { // 1 s, 2 s, then 4 s after the third failure
					r.failed(one(retryImage, "a", t0), t0.Add(time.Duration(i)*time.Second))
				}
			}, now: t0.Add(2*time.Second + 3999*time.Millisecond), want: map[string]time.Time{}},
		{name: "the delay stops doubling at the maximum",
			run: func(r *retries) {
				for range 30 {
					r.failed(one(retryImage, "a", t0), t0)
				}
			}, now: t0.Add(5 * time.Minute), want: map[string]time.Time{"a": t0}},
		{name: "a candidate planned without failure forgets its failures",
			run: func(r *retries) {
				r.failed(one(retryImage, "a", t0), t0)
				r.succeeded(one(retryImage, "a", t0))
			}, now: t0.Add(time.Hour), want: map[string]time.Time{}},
		{name: "a full round that succeeds forgets every failure",
			run: func(r *retries) {
				r.failed(one(retryImage, "a", t0), t0)
				r.failed(one(retryStream, "ns/s", t0), t0)
				r.reset()
			}, now: t0.Add(time.Hour), want: map[string]time.Time{}},
		{name: "a due candidate is queued once, then waits to be planned",
			run: func(r *retries) {
				r.failed(one(retryImage, "a", t0), t0)
				r.due(t0.Add(time.Second), newCandidateSet())
			}, now: t0.Add(time.Hour), want: map[string]time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRetries(time.Second, 5*time.Minute)
			tc.run(r)
			got := newCandidateSet()
			r.due(tc.now, got)
			if len(got.images) != len(tc.want) {
				t.Fatalf("due %v, want %v", got.images, tc.want)
			}
			for k, since := range tc.want {
				if g, ok := got.images[k]; !ok || !g.Equal(since) {
					t.Errorf("due %v, want %v", got.images, tc.want)
				}
			}
		})
	}
}

func TestRetryNextIsTheEarliestWaitingCandidate(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := newRetries(time.Second, time.Minute)
	if _, ok := r.next(); ok {
		t.Fatal("an empty backoff has a next retry")
	}
	s := newCandidateSet()
	s.addKey(retryKey{retryStream, "ns/s"}, t0)
	r.failed(s, t0)
	r.failed(s, t0) // 2 s
	img := newCandidateSet()
	img.addKey(retryKey{retryImage, "a"}, t0)
	r.failed(img, t0) // 1 s
	if at, ok := r.next(); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("next = %v, %v; want %v", at, ok, t0.Add(time.Second))
	}
}
