package index

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Changes is what one committed index transaction changed; the continuous pruner turns it
// into prune candidates.
type Changes struct {
	// Digests: images whose digest referrers (confirmed or pending) gained or lost an entry,
	// and images put or deleted. An entry whose referrer data changed (a pod's phase, which
	// decides whether it protects its images) counts as lost and gained.
	Digests []string
	// Tags: "NAMESPACE/STREAM:TAG" whose tag referrers (confirmed or pending) gained or lost
	// an entry (or one changed, as for Digests).
	Tags []string
	// Streams: "NAMESPACE/STREAM" of image streams put or deleted.
	Streams []string
	// LimitRangeNamespaces: namespaces whose LimitRanges were put or deleted.
	LimitRangeNamespaces []string
	// At is the commit time (the index clock).
	At time.Time
}

// Empty reports whether the transaction changed none of the things Changes lists.
func (c Changes) Empty() bool {
	return len(c.Digests)+len(c.Tags)+len(c.Streams)+len(c.LimitRangeNamespaces) == 0
}

// subscriber is one OnCommit registration; cancelled stops calls that have not started.
type subscriber struct {
	fn        func(Changes)
	cancelled atomic.Bool
}

// subscribers is the set of OnCommit registrations, copied on write so that a commit reads
// it without locking.
type subscribers struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*subscriber]
}

func (s *subscribers) add(sub *subscriber) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next []*subscriber
	if cur := s.list.Load(); cur != nil {
		next = slices.Clone(*cur)
	}
	next = append(next, sub)
	s.list.Store(&next)
}

func (s *subscribers) remove(sub *subscriber) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.list.Load()
	if cur == nil {
		return
	}
	next := slices.DeleteFunc(slices.Clone(*cur), func(x *subscriber) bool { return x == sub })
	s.list.Store(&next)
}

func (s *subscribers) load() []*subscriber {
	if cur := s.list.Load(); cur != nil {
		return *cur
	}
	return nil
}

// OnCommit registers fn, called after every committed write transaction (Apply, pending
// writes and expiry, rebuild batches) with what it changed, synchronously after the commit
// and before the write call returns. fn must be quick and must not write to the index (the
// writer lock is held while it runs). The returned func unregisters it: no call starts after
// it returns. Entries are de-duplicated within one Changes and sorted.
//
// A transaction that changed nothing Changes lists (a status-only update, a delete of
// something absent) is not reported. fn sees the transactions that begin after OnCommit
// returns. A rebuild writes through a WriteBatch whose internal commits are not observable;
// its Changes (every image, reference, stream and limit-range namespace it wrote, in chunks
// of at most changesChunk entries) are reported by Rebuild.Finish once the index is complete.
func (ix *Index) OnCommit(fn func(Changes)) (cancel func()) {
	sub := &subscriber{fn: fn}
	ix.subs.add(sub)
	return func() {
		sub.cancelled.Store(true)
		ix.subs.remove(sub)
	}
}

// notify calls the subscribers with c unless it is empty.
func (ix *Index) notify(c Changes) {
	if c.Empty() {
		return
	}
	for _, sub := range ix.subs.load() {
		if !sub.cancelled.Load() {
			sub.fn(c)
		}
	}
}

// changeSet collects one transaction's Changes, each entry once.
type changeSet struct {
	digests, tags, streams, namespaces map[string]struct{}
}

func newChangeSet() *changeSet {
	return &changeSet{digests: map[string]struct{}{}, tags: map[string]struct{}{},
		streams: map[string]struct{}{}, namespaces: map[string]struct{}{}}
}

// changes renders the set, each list sorted, stamped at.
func (c *changeSet) changes(at time.Time) Changes {
	return Changes{Digests: sortedKeys(c.digests), Tags: sortedKeys(c.tags), Streams: sortedKeys(c.streams),
		LimitRangeNamespaces: sortedKeys(c.namespaces), At: at}
}

func (c *changeSet) size() int {
	return len(c.digests) + len(c.tags) + len(c.streams) + len(c.namespaces)
}

func sortedKeys(m map[string]struct{}) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// add records one change of the given kind.
func (c *changeSet) add(kind byte, name string) {
	switch kind {
	case changeDigest:
		c.digests[name] = struct{}{}
	case changeTag:
		c.tags[name] = struct{}{}
	case changeStream:
		c.streams[name] = struct{}{}
	case changeNamespace:
		c.namespaces[name] = struct{}{}
	}
}

// noteRef records that the reverse entry of ref was added or removed. The writer tracks
// changes only while someone subscribes.
func (w *writer) noteRef(ref model.Ref) {
	if !w.track {
		return
	}
	switch {
	case ref.Invalid != "":
	case ref.Digest != "":
		w.note(changeDigest, ref.Digest)
	case ref.Repo != "" && ref.Tag != "":
		w.note(changeTag, ref.Repo+":"+ref.Tag)
	}
}

func (w *writer) noteImage(digest string) { w.note(changeDigest, digest) }

func (w *writer) noteStream(ns, name string) {
	if w.track {
		w.note(changeStream, ns+"/"+name)
	}
}

func (w *writer) noteLimitRange(ns string) { w.note(changeNamespace, ns) }

// changesChunk bounds the entries of one Changes that a rebuild reports, so that reporting
// a rebuild of any size takes bounded memory.
const changesChunk = 4096

// reportRebuild tells the subscribers what a finished rebuild wrote: every image and every
// digest, tag, stream and limit-range namespace with an entry, read back from the index in
// chunks of at most changesChunk entries.
func (ix *Index) reportRebuild(ctx context.Context) error {
	if len(ix.subs.load()) == 0 {
		return nil
	}
	at := ix.now()
	c := newChangeSet()
	flush := func() {
		ix.notify(c.changes(at))
		c = newChangeSet()
	}
	for _, prefix := range []byte{prefixImage, prefixRefDigest, prefixRefTag, prefixStream, prefixLimitRange} {
		err := ix.scanKeys(ctx, []byte{prefix}, func(p parsedKey) error {
			switch p.Prefix {
			case prefixImage, prefixRefDigest:
				c.add(changeDigest, p.Digest)
			case prefixRefTag:
				c.add(changeTag, p.Repo+":"+p.Tag)
			case prefixStream:
				c.add(changeStream, p.NS+"/"+p.Name)
			case prefixLimitRange:
				c.add(changeNamespace, p.NS)
			}
			if c.size() >= changesChunk {
				flush()
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("failed to report rebuilt index: %w", err)
		}
	}
	flush()
	return nil
}
