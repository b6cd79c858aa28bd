package index

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// objectStates holds, for each object and pending record, the fields a Referrer takes from
// its object rather than from the reference: Created, Since and Phase. They are not copied
// into the reverse entries, so an update that changes them (a pod's phase moves a few times
// in its life, each a watch event) rewrites only its record, and an update that moves one
// reference rewrites only that reference's entry; a lookup fills them in from here, without
// reading the records (a record read per referrer would take "who references D?" from ~17 to
// ~85 µs at 1,000,000 references).
//
// The table is loaded from the records when the index opens and kept by the write path.
// A lookup reads a Badger snapshot and this table, which moves on while the lookup runs, so
// each state carries the generation of the commit that wrote it and a lookup only uses the
// states that its snapshot is known to hold:
//
//   - the write path sets a commit's states, with a new generation, before the commit
//     starts, and publishes the generation (published) when the commit is visible;
//   - a lookup loads published before it opens its snapshot: a state of that generation or
//     older was committed before the snapshot, and a newer write of the same record would
//     have replaced the state before it committed;
//   - any other state, newer or missing (the record is new or deleted), is read from the
//     record in the lookup's own snapshot;
//   - a commit that fails, or a rebuild that is aborted, may have staged states that were
//     never written: the table is loaded again from the records under a new generation.
//
// So a lookup returns exactly what its snapshot holds, as it did when the entries carried
// these fields.
type objectStates struct {
	mu sync.RWMutex
	// t holds the states by record key (prefixObject or prefixPending); guarded by mu.
	t *stateTable
	// published is the newest generation whose commit is visible to new snapshots; next is
	// the generation of the next commit.
	published, next atomic.Uint64
	// recordReads counts the referrers whose state a lookup read from the record.
	recordReads atomic.Int64
}

// objectState is one record's Created, Since and Phase (unix nanoseconds, zeroTime for the
// zero time, as records.go stores them) and the generation of the commit that wrote it.
type objectState struct {
	created, since int64
	phase          string
	gen            uint64
}

func newObjectStates() *objectStates {
	return &objectStates{t: newStateTable()}
}

// reset empties the table (a wipe). Generations go on from where they were.
func (s *objectStates) reset() {
	s.mu.Lock()
	s.t = newStateTable()
	s.mu.Unlock()
}

// len is the number of states held.
func (s *objectStates) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.t.len()
}

// begin returns the generation of the next commit.
func (s *objectStates) begin() uint64 { return s.next.Add(1) }

// stage sets the states that writes (a commit's) leave, as generation gen: before the commit
// starts, see objectStates. A record delete removes the state.
func (s *objectStates) stage(writes []write, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range writes {
		s.stageLocked(&writes[i], gen)
	}
}

func (s *objectStates) stageLocked(wr *write, gen uint64) {
	if p := wr.key[0]; p != prefixObject && p != prefixPending {
		return
	}
	st, ok := recordState(wr.val)
	if wr.del || !ok {
		// A record that is not one this package wrote is left to lookups to read (and fail on).
		s.t.remove(wr.key)
		return
	}
	st.gen = gen
	s.t.set(wr.key, st)
}

// publish makes generation gen's states usable: its commit is visible.
func (s *objectStates) publish(gen uint64) {
	for {
		old := s.published.Load()
		if old >= gen || s.published.CompareAndSwap(old, gen) {
			return
		}
	}
}

// check compares the table with the object and pending records of db and describes each
// difference: a record without a state, a state without a record, a state that differs from
// its record. The caller holds Index.wmu, so that no commit runs meanwhile.
func (s *objectStates) check(db *badger.DB) ([]string, error) {
	fresh := &objectStates{}
	if err := db.View(func(txn *badger.Txn) error { return fresh.load(txn, 0) }); err != nil {
		return nil, fmt.Errorf("failed to read object states: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	fresh.t.each(func(key []byte, want objectState) {
		got, ok := s.t.get(key)
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("object state of %s: missing from memory", describeKey(key)))
		case got.created != want.created || got.since != want.since || got.phase != want.phase:
			out = append(out, fmt.Sprintf("object state of %s: memory has created %s since %s phase %q, the record %s %s %q",
				describeKey(key), storedTime(got.created), storedTime(got.since), got.phase,
				storedTime(want.created), storedTime(want.since), want.phase))
		}
	})
	s.t.each(func(key []byte, _ objectState) {
		if _, ok := fresh.t.get(key); !ok {
			out = append(out, fmt.Sprintf("object state of %s: in memory, no record", describeKey(key)))
		}
	})
	slices.Sort(out)
	return out, nil
}

// reload loads the table from the records of db under a new generation, then publishes it:
// a lookup whose snapshot is older reads the records. The caller holds Index.wmu or is alone
// (Open), so that no commit runs meanwhile. When the records cannot be read, the table is left
// empty (lookups read every record) and the error returned.
func (s *objectStates) reload(db *badger.DB) error {
	gen := s.begin()
	err := db.View(func(txn *badger.Txn) error { return s.load(txn, gen) })
	if err != nil {
		s.reset()
		return fmt.Errorf("failed to load object states: %w", err)
	}
	s.publish(gen)
	return nil
}

// fill sets the Created, Since and Phase of each referrer from the table, for a lookup
// whose snapshot was opened after published was seen at seen, and returns the indexes of
// the referrers it could not fill (see objectStates).
func (s *objectStates) fill(refs []model.Referrer, seen uint64) (missing []int) {
	var buf [256]byte
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range refs {
		r := &refs[i]
		key := appendRecordKey(buf[:0], recordPrefix(r.Pending), r.Object)
		e, ok := s.t.get(key)
		if !ok || e.gen > seen {
			missing = append(missing, i)
			continue
		}
		r.Created, r.Since, r.Phase = storedTime(e.created), storedTime(e.since), e.phase
	}
	s.recordReads.Add(int64(len(missing)))
	return missing
}

// recordPrefix is the prefix of an object's record: pending or confirmed.
func recordPrefix(pending bool) byte {
	if pending {
		return prefixPending
	}
	return prefixObject
}

// load fills the table from the object and pending records of txn, as generation gen.
func (s *objectStates) load(txn *badger.Txn, gen uint64) error {
	t := newStateTable()
	for _, prefix := range []byte{prefixObject, prefixPending} {
		// Records are in the LSM tree (valueThreshold): reading each in place copies nothing.
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefix}})
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			var st objectState
			var ok bool
			if err := item.Value(func(v []byte) error { st, ok = recordState(v); return nil }); err != nil {
				it.Close()
				return err
			}
			if ok {
				st.gen = gen
				t.set(item.Key(), st)
			}
		}
		it.Close()
	}
	s.mu.Lock()
	s.t = t
	s.mu.Unlock()
	return nil
}

// recordState reads Created, Since and Phase from the head of an object record (appendObject)
// without decoding the rest; ok is false when the head is malformed.
func recordState(rec []byte) (st objectState, ok bool) {
	r := recordReader{b: rec}
	st = r.recordHead()
	return st, !r.bad
}

// recordHead reads the head of an object record (appendObject) up to its references, keeping
// Created, Since and Phase.
func (r *recordReader) recordHead() (st objectState) {
	st.since = r.i64()
	r.i64()                  // expires
	r.take(int(r.uvarint())) // uid
	r.take(int(r.uvarint())) // resource version
	st.created = r.i64()
	st.phase = internPhase(r.take(int(r.uvarint())))
	return st
}

// same reports whether st has next's Created, Since and Phase as stored.
func (st objectState) same(next *storedObject) bool {
	return st.phase == next.Phase && st.created == storedNanos(next.Created) && st.since == storedNanos(next.Since)
}

// storedNanos is how recordWriter.time stores t.
func storedNanos(t time.Time) int64 {
	if t.IsZero() {
		return zeroTime
	}
	return t.UnixNano()
}

// podPhases are the phases a pod reports; internPhase returns these strings instead of
// allocating one per record.
var podPhases = []string{"", "Pending", "Running", "Succeeded", "Failed", "Unknown"}

func internPhase(b []byte) string {
	for _, p := range podPhases {
		if string(b) == p {
			return p
		}
	}
	return string(b)
}

// storedTime is the time recordReader.time decodes from n.
func storedTime(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// fillFromRecords sets the Created, Since and Phase of refs[i], for each i in missing, from
// the records in txn.
func fillFromRecords(txn *badger.Txn, refs []model.Referrer, missing []int) error {
	var buf [256]byte
	for _, i := range missing {
		r := &refs[i]
		key := appendRecordKey(buf[:0], recordPrefix(r.Pending), r.Object)
		item, err := txn.Get(key)
		if err != nil {
			return fmt.Errorf("record of %s, which has a reverse entry: %w", r.Object, err)
		}
		var st objectState
		var ok bool
		if err := item.Value(func(v []byte) error { st, ok = recordState(v); return nil }); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("corrupt object %s record", r.Object)
		}
		r.Created, r.Since, r.Phase = storedTime(st.created), storedTime(st.since), st.phase
	}
	return nil
}

// ObjectStateStats describes the in-memory object states (objstates.go).
type ObjectStateStats struct {
	// Entries is the number of object and pending records whose state is held.
	Entries int64
	// RecordReads counts, since Open, the referrers whose Created, Since and Phase a lookup
	// read from the object's record, because the object changed while the lookup ran (or its
	// state could not be held). A few per update of a looked-up object is normal; a rate close
	// to the lookups' means lookups pay a record read per referrer.
	RecordReads int64
}

// ObjectStateStats returns the object states' figures; it is safe to call at any time.
func (ix *Index) ObjectStateStats() ObjectStateStats {
	return ObjectStateStats{Entries: int64(ix.states.len()), RecordReads: ix.states.recordReads.Load()}
}
