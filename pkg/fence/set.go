package fence

import (
	"sort"
	"time"
)

// Set is what one replica enforces: every fence it has observed, indexed for the admission
// check. A Set is immutable once built; the Watcher swaps in a new one on every change, so a
// check reads it without locks.
type Set struct {
	images map[string]Entry
	tags   map[string]Entry // "NAMESPACE/NAME:TAG"
	blobs  map[string]Entry
	fences int
}

// Entry is the fence that lists an image, tag or blob.
type Entry struct {
	// Fence is the fence's name; Reason its spec.reason.
	Fence, Reason string
	Phase         Phase
	// Image is the fenced image digest: the entry's own key for an image, the tag's current
	// image for a tag, the image whose deletion frees a blob (first listed) for a blob.
	Image string
	// PrunedAt is when the deletion finished; zero before PhaseTombstoned.
	PrunedAt time.Time
}

// Tombstone reports whether the entry's deletion has finished.
func (e Entry) Tombstone() bool { return e.Phase == PhaseTombstoned }

// NewSet indexes fences. Fences being lifted are left out. When several fences list the same
// key, a standing fence wins over a tombstone, so a late reference hears "being pruned"
// rather than "was pruned" while any deletion of it is under way.
func NewSet(fences []Fence) *Set {
	s := &Set{images: map[string]Entry{}, tags: map[string]Entry{}, blobs: map[string]Entry{}}
	for i := range fences {
		f := &fences[i]
		phase := f.CurrentPhase()
		if phase == PhaseLifting || f.DeletionTimestamp != nil {
			continue
		}
		s.fences++
		e := Entry{Fence: f.Name, Reason: f.Spec.Reason, Phase: phase}
		if f.Status.PrunedAt != nil {
			e.PrunedAt = f.Status.PrunedAt.Time
		}
		for _, d := range f.Spec.Images {
			e.Image = d
			put(s.images, d, e)
		}
		for _, t := range f.Spec.Tags {
			e.Image = t.Image
			put(s.tags, t.Repo()+":"+t.Tag, e)
		}
		e.Image = ""
		if len(f.Spec.Images) > 0 {
			e.Image = f.Spec.Images[0]
		}
		for _, b := range f.Spec.Blobs {
			put(s.blobs, b, e)
		}
	}
	return s
}

func put(m map[string]Entry, key string, e Entry) {
	if old, ok := m[key]; ok && !old.Tombstone() && e.Tombstone() {
		return
	}
	m[key] = e
}

// Len is the number of fences in the set, tombstones included.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return s.fences
}

// Image returns the fence of an image digest.
func (s *Set) Image(digest string) (Entry, bool) {
	if s == nil {
		return Entry{}, false
	}
	e, ok := s.images[digest]
	return e, ok
}

// Tag returns the fence of item 0 of repo:tag (repo is "NAMESPACE/NAME").
func (s *Set) Tag(repo, tag string) (Entry, bool) {
	if s == nil {
		return Entry{}, false
	}
	e, ok := s.tags[repo+":"+tag]
	return e, ok
}

// Blob returns the fence of a blob being freed.
func (s *Set) Blob(digest string) (Entry, bool) {
	if s == nil {
		return Entry{}, false
	}
	e, ok := s.blobs[digest]
	return e, ok
}

// Images returns the fenced image digests, sorted (for logs and tests).
func (s *Set) Images() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.images))
	for d := range s.images {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}
