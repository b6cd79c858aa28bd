package index

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/go-logr/logr"
)

// writer is one batch of ops being prepared: the ops read through it and write into its
// write log, which Apply then commits as one Badger transaction (or, when that outgrows
// Badger's limit, as several, split between ops). Reads see the batch's own earlier writes,
// then those of the earlier batches of its round (prev, committed or not, see pipeline),
// then a read snapshot of everything committed before the round, so the ops of consecutive
// batches compose.
type writer struct {
	ix   *Index
	snap *badger.Txn
	prev *writer
	// done receives the result of the batch's asynchronous commit.
	done chan error
	// txn is the batch's write transaction, filled as its ops are prepared (prefill); nil
	// when the batch is filled at submit instead.
	txn *badger.Txn
	now time.Time
	log logr.Logger

	// writes is the write log in order; latest maps a key to its last write.
	writes []write
	latest map[string]int
	// opEnds[i] is len(writes) after op i; ops[i] is op i, for errors.
	opEnds []int
	ops    []Op
	// arena holds the keys and values the ops build (arena.go).
	arena byteArena
	// segment is the first op not yet committed (a batch too big for one transaction is
	// committed in segments); gen is the objectStates generation of its commit.
	segment int
	gen     uint64

	// pending records which pending records the batch created (true) or removed (false), by
	// encoded object key; pendingLog keeps the order and the op of each, for publishing.
	pending    map[string]bool
	pendingLog []pendingNote

	// changeLog collects what the ops changed, for OnCommit; nil-tracked when track is false.
	track     bool
	changeLog []change

	// oldSegs and newSegs are moveRefEntries' scratch: the encoded references of the old and
	// new record of the object being written.
	oldSegs, newSegs [][]byte
}

// write is one Set (del false) or Delete of the write log.
type write struct {
	key, val []byte
	del      bool
}

type pendingNote struct {
	op      int
	key     string
	present bool
}

// change is one entry of a Changes, made by op.
type change struct {
	op   int
	kind byte
	name string
}

const (
	changeDigest byte = iota
	changeTag
	changeStream
	changeNamespace
)

// newWriter returns an empty batch reading through snap and prev, reusing the buffers of
// spare (a batch already published) when it is not nil.
func (ix *Index) newWriter(snap *badger.Txn, prev, spare *writer, capacity int) *writer {
	w := spare
	if w == nil {
		w = &writer{writes: make([]write, 0, capacity*4), latest: make(map[string]int, capacity*4),
			pending: map[string]bool{}, done: make(chan error, 1)}
	}
	clear(w.latest)
	clear(w.pending)
	*w = writer{ix: ix, snap: snap, prev: prev, done: w.done, now: ix.now(), log: ix.log,
		writes: w.writes[:0], latest: w.latest, opEnds: w.opEnds[:0], ops: w.ops[:0],
		pending: w.pending, pendingLog: w.pendingLog[:0], track: len(ix.subs.load()) > 0,
		changeLog: w.changeLog[:0], arena: w.arena, oldSegs: w.oldSegs, newSegs: w.newSegs}
	return w
}

// get returns key's value; found is false when the key is absent. The value may be shared
// with the write log or copied from Badger; callers must not modify it.
func (w *writer) get(key []byte) (val []byte, found bool, err error) {
	if wr, ok := w.logged(key); ok {
		return wr.val, !wr.del, nil
	}
	return w.snapGet(key)
}

// snapGet is get from the snapshot alone: a copy of key's committed value.
func (w *writer) snapGet(key []byte) (val []byte, found bool, err error) {
	item, err := w.snap.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	val, err = item.ValueCopy(nil)
	return val, err == nil, err
}

// logged returns the last write of key in this batch or an earlier one of its round, if any.
func (w *writer) logged(key []byte) (write, bool) {
	for b := w; b != nil; b = b.prev {
		if i, ok := b.latest[string(key)]; ok {
			return b.writes[i], true
		}
	}
	return write{}, false
}

func (w *writer) set(key, val []byte) error { return w.put(write{key: key, val: val}) }

func (w *writer) del(key []byte) error { return w.put(write{key: key, del: true}) }

func (w *writer) put(wr write) error {
	if len(wr.key) == 0 {
		return errors.New("empty index key")
	}
	if wr.key[0] == prefixObject && !wr.del {
		w.ix.objects.add(wr.key)
	}
	w.latest[string(wr.key)] = len(w.writes)
	w.writes = append(w.writes, wr)
	return nil
}

// scanKeys returns the keys under prefix, sorted, including the writes of this batch and of
// the earlier ones of its round. It is for the short prefixes of one image (its stream items).
func (w *writer) scanKeys(prefix []byte) ([][]byte, error) {
	present := map[string]bool{}
	it := w.snap.NewIterator(badger.IteratorOptions{Prefix: prefix})
	for it.Rewind(); it.Valid(); it.Next() {
		present[string(it.Item().Key())] = true
	}
	it.Close()
	var chain []*writer
	for b := w; b != nil; b = b.prev {
		chain = append(chain, b)
	}
	for _, b := range slices.Backward(chain) {
		for _, wr := range b.writes {
			if bytes.HasPrefix(wr.key, prefix) {
				present[string(wr.key)] = !wr.del
			}
		}
	}
	keys := make([][]byte, 0, len(present))
	for k, ok := range present {
		if ok {
			keys = append(keys, []byte(k))
		}
	}
	slices.SortFunc(keys, bytes.Compare)
	return keys, nil
}

// endOp marks the end of op's writes.
func (w *writer) endOp(op Op) {
	w.opEnds = append(w.opEnds, len(w.writes))
	w.ops = append(w.ops, op)
}

// opStart is the index in writes of op i's first write.
func (w *writer) opStart(i int) int {
	if i == 0 {
		return 0
	}
	return w.opEnds[i-1]
}

// opOf returns the op that made write j.
func (w *writer) opOf(j int) int {
	i, _ := slices.BinarySearchFunc(w.opEnds, j, func(end, j int) int {
		if end <= j {
			return -1
		}
		return 1
	})
	return i
}

// truncate drops ops n and later, with their writes, journal and changes. Reads through
// latest are no longer valid afterwards; the batch is only committed.
func (w *writer) truncate(n int) {
	w.writes = w.writes[:w.opStart(n)]
	w.opEnds, w.ops = w.opEnds[:n], w.ops[:n]
	w.pendingLog = slices.DeleteFunc(w.pendingLog, func(p pendingNote) bool { return p.op >= n })
	w.changeLog = slices.DeleteFunc(w.changeLog, func(c change) bool { return c.op >= n })
}

// testHookCommitted, when set (by tests only), runs when a commit is visible and before
// published has made anything of it known.
var testHookCommitted func(ix *Index)

// stage sets the object states of segment [w.segment, end) under a new generation, before
// its commit starts (see objectStates).
func (w *writer) stage(end int) {
	w.gen = w.ix.states.begin()
	w.ix.states.stage(w.writes[w.opStart(w.segment):w.opStart(end)], w.gen)
}

// failed undoes stage after a commit that failed: what it staged was never written.
func (w *writer) failed() {
	if err := w.ix.states.reload(w.ix.db); err != nil {
		w.log.Error(err, "lookups read object records until the index is reopened")
	}
}

// published runs what a committed segment of ops [from, to) did to the index's memory: the
// object states, the record cache, the pending set, the commit count, and the OnCommit
// subscribers.
func (w *writer) published(from, to int) {
	if testHookCommitted != nil {
		testHookCommitted(w.ix)
	}
	w.ix.states.publish(w.gen)
	for _, wr := range w.writes[w.opStart(from):w.opStart(to)] {
		switch {
		case wr.key[0] != prefixObject:
		case wr.del:
			w.ix.records.drop(wr.key)
		default:
			w.ix.records.put(wr.key, wr.val)
		}
	}
	for _, p := range w.pendingLog {
		if p.op < from || p.op >= to {
			continue
		}
		if p.present {
			w.ix.pending[p.key] = true
		} else {
			delete(w.ix.pending, p.key)
		}
	}
	w.ix.commits.Add(1)
	if !w.track {
		return
	}
	c := newChangeSet()
	for _, ch := range w.changeLog {
		if ch.op >= from && ch.op < to {
			c.add(ch.kind, ch.name)
		}
	}
	w.ix.notify(c.changes(w.ix.now()))
}

// note records a change made by the op being applied.
func (w *writer) note(kind byte, name string) {
	if w.track {
		w.changeLog = append(w.changeLog, change{op: len(w.ops), kind: kind, name: name})
	}
}

// replaceEntries makes the value-less entries old into new: it deletes what only old has and
// sets what only new has, so an update that keeps its references writes nothing but its record.
func (w *writer) replaceEntries(old, new [][]byte) error {
	inOld, inNew := membership(old), membership(new)
	for _, k := range old {
		if !inNew(k) {
			if err := w.del(k); err != nil {
				return err
			}
		}
	}
	for _, k := range new {
		if !inOld(k) {
			if err := w.set(k, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// membership returns a test for "k is one of keys": a scan for the few keys of an object, a
// map for the many of a stream or image.
func membership(keys [][]byte) func(k []byte) bool {
	if len(keys) <= 8 {
		return func(k []byte) bool {
			for _, x := range keys {
				if bytes.Equal(x, k) {
					return true
				}
			}
			return false
		}
	}
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		set[string(k)] = true
	}
	return func(k []byte) bool { return set[string(k)] }
}

// addCount adds delta to the counter at key, deleting it at zero. A counter that would go
// below zero means the index is inconsistent; it is clamped at zero and logged, and
// `pruneguard index verify` reports the difference.
func (w *writer) addCount(key []byte, delta int64) error {
	val, found, err := w.get(key)
	if err != nil {
		return err
	}
	var n uint64
	if found {
		if n, err = decodeCount(val); err != nil {
			return err
		}
	}
	next := int64(n) + delta
	if next < 0 {
		w.log.Error(nil, "index counter went negative, clamped", "counter", describeKey(key), "delta", delta)
		next = 0
	}
	if next == 0 {
		if !found {
			return nil
		}
		return w.del(key)
	}
	return w.set(key, encodeCount(uint64(next)))
}

func describeKey(key []byte) string {
	p, err := parseKey(key)
	if err != nil {
		return fmt.Sprintf("%x", key)
	}
	return p.String()
}
