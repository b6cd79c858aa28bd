package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// PutObject replaces the confirmed state of a referrer (a watch event or a full list): its
// record and reverse entries become exactly o's, in one transaction. Since is kept from the
// previous confirmed or pending record of the same key. A pending record of the same key is
// removed when o carries every reference it announced (the watch has caught up with the
// admission); otherwise it stays until it is confirmed or expires, because an older watch
// event must not cancel a newer admission.
func PutObject(o model.Object) Op { return putObject{obj: o} }

// DeleteObject removes the confirmed state of a referrer. A pending record of the same key
// stays: it may announce a re-creation under the same name.
func DeleteObject(key model.ObjectKey) Op { return deleteObject{key: key} }

type putObject struct{ obj model.Object }

func (op putObject) String() string { return "put object " + op.obj.Key.String() }

func (op putObject) apply(w *writer) error {
	if err := validateObject(op.obj); err != nil {
		return err
	}
	old, had, err := w.loadRecord(w.recordKey(stateConfirmed, op.obj.Key))
	if err != nil {
		return err
	}
	pending, hasPending, err := w.loadPending(op.obj.Key)
	if err != nil {
		return err
	}
	next := storedObject{Object: op.obj, Since: w.now}
	switch {
	case !had:
		old = nil // writeObject's "no previous record"
		if hasPending {
			next.Since = pending.Since
		}
	default:
		st, ok := recordState(old)
		if !ok {
			return fmt.Errorf("corrupt object %s record", op.obj.Key)
		}
		next.Since = storedTime(st.since)
	}
	if hasPending && coversRefs(op.obj.Refs, pending.Refs) {
		if err := w.removePending(pending); err != nil {
			return err
		}
	}
	return w.writeObject(stateConfirmed, old, next)
}

type deleteObject struct{ key model.ObjectKey }

func (op deleteObject) String() string { return "delete object " + op.key.String() }

func (op deleteObject) apply(w *writer) error {
	key := w.recordKey(stateConfirmed, op.key)
	old, had, err := w.loadObject(key, op.key)
	if err != nil || !had {
		return err
	}
	if err := w.dropRefEntries(stateConfirmed, old.Object); err != nil {
		return err
	}
	return w.del(key)
}

// dropRefEntries deletes the reverse entries of o's references in state.
func (w *writer) dropRefEntries(state byte, o model.Object) error {
	for i, ref := range o.Refs {
		if e := w.refEntry(state, o.Key, i, &o.Refs[i]); e != nil {
			if err := w.del(e); err != nil {
				return err
			}
			w.noteRef(ref)
		}
	}
	return nil
}

// writeObject writes next as the record of its state, moving reverse entries from old (the
// encoded record of the same state; nil when there is none).
func (w *writer) writeObject(state byte, old []byte, next storedObject) error {
	val := w.arena.finish(appendObject(w.arena.start(objectCap(&next)), &next))
	if err := w.moveRefEntries(state, old, &next, val); err != nil {
		return err
	}
	return w.set(w.recordKey(state, next.Key), val)
}

// moveRefEntries replaces the reverse entries of the refs of old (an encoded record, nil when
// there is none) with those of next's (encoded as val). An entry's key is fixed by the ref's
// position and match keys and its value by the ref alone, so a position where neither changed
// keeps its entry untouched: an update that changes only the resource version or the object's
// Created, Since and Phase (objectStates) writes no entry at all. A position whose encoded
// reference is the same in both records is not even decoded. An entry whose key or value
// changes is a change for OnCommit; so is every entry of an object whose Created, Since or
// Phase changes (a pod's phase decides whether it protects its images).
func (w *writer) moveRefEntries(state byte, old []byte, next *storedObject, val []byte) error {
	k := next.Key
	var ok bool
	var oldState objectState
	w.oldSegs, w.newSegs = w.oldSegs[:0], w.newSegs[:0]
	if old != nil {
		if oldState, w.oldSegs, ok = recordRefs(old, w.oldSegs); !ok {
			return fmt.Errorf("corrupt object %s record", k)
		}
	}
	if _, w.newSegs, ok = recordRefs(val, w.newSegs); !ok {
		return fmt.Errorf("object %s encodes to a record that does not decode", k)
	}
	if w.track && old != nil && !oldState.same(next) {
		for i := range next.Refs {
			w.noteRef(next.Refs[i])
		}
	}
	for i := range max(len(w.oldSegs), len(next.Refs)) {
		if i < len(w.oldSegs) && i < len(next.Refs) && bytes.Equal(w.oldSegs[i], w.newSegs[i]) {
			continue
		}
		var a, b *model.Ref
		if i < len(w.oldSegs) {
			ref, err := decodeRefSegment(w.oldSegs[i])
			if err != nil {
				return fmt.Errorf("corrupt object %s record: %w", k, err)
			}
			a = &ref
		}
		if i < len(next.Refs) {
			b = &next.Refs[i]
		}
		sameKey := a != nil && b != nil && sameMatchKeys(*a, *b)
		if sameKey && (a.Invalid != "" || sameRefValue(a, b)) {
			continue
		}
		if a != nil && !sameKey {
			if before := w.refEntry(state, k, i, a); before != nil {
				if err := w.del(before); err != nil {
					return err
				}
				w.noteRef(*a)
			}
		}
		if b != nil {
			if after := w.refEntry(state, k, i, b); after != nil {
				val := w.arena.finish(appendRefValue(w.arena.start(refValueCap(b)), b))
				if err := w.set(after, val); err != nil {
					return err
				}
				w.noteRef(*b)
			}
		}
	}
	return nil
}

func sameMatchKeys(a, b model.Ref) bool {
	return a.Repo == b.Repo && a.Tag == b.Tag && a.Digest == b.Digest && (a.Invalid == "") == (b.Invalid == "")
}

// loadObject reads and decodes the record at key, of object k (see loadRecord).
func (w *writer) loadObject(key []byte, k model.ObjectKey) (storedObject, bool, error) {
	rec, found, err := w.loadRecord(key)
	if err != nil || !found {
		return storedObject{}, false, err
	}
	o, err := decodeObject(k, rec) // copies every string out of rec
	return o, err == nil, err
}

// loadRecord reads the encoded record at key: from the write logs, the record cache
// (confirmed records) or the snapshot, in that order (see recordCache). The record is valid
// until the batch is published; callers must not modify it.
func (w *writer) loadRecord(key []byte) ([]byte, bool, error) {
	confirmed := key[0] == prefixObject
	if confirmed && !w.ix.objects.mayContain(key) {
		return nil, false, nil // never written: no read
	}
	if wr, inLog := w.logged(key); inLog {
		return wr.val, !wr.del, nil
	}
	if confirmed {
		if rec, ok := w.ix.records.get(key); ok {
			return rec, true, nil
		}
	}
	rec, found, err := w.snapGet(key)
	if err == nil && found && confirmed {
		w.ix.records.put(key, rec)
	}
	return rec, found, err
}

// refEntries lists the reverse entries of o's references with their values (see refEntry).
func refEntries(state byte, o *storedObject) []write {
	out := make([]write, 0, len(o.Refs))
	for i := range o.Refs {
		if e := refEntry(state, o.Key, i, o.Refs[i]); e != nil {
			out = append(out, write{key: e, val: encodeRefValue(&o.Refs[i])})
		}
	}
	return out
}

// refEntry is the reverse entry of reference i of object k: a digest entry when it names a
// digest (under its repo, possibly ""), a tag entry when it names repo:tag without one, nil
// for an invalid reference or one that can protect nothing.
func refEntry(state byte, k model.ObjectKey, i int, ref model.Ref) []byte {
	return appendRefEntry(make([]byte, 0, refEntryCap(k, &ref)), state, k, i, &ref)
}

// appendRefEntry appends refEntry's key to b, or returns nil when there is none.
func appendRefEntry(b []byte, state byte, k model.ObjectKey, i int, ref *model.Ref) []byte {
	switch {
	case ref.Invalid != "":
		return nil
	case ref.Digest != "":
		return appendRefDigestKey(b, ref.Digest, ref.Repo, state, k, uint16(i))
	case ref.Repo != "" && ref.Tag != "":
		return appendRefTagKey(b, ref.Repo, ref.Tag, state, k, uint16(i))
	}
	return nil
}

// refEntryCap bounds the length of a reverse-entry key of ref, a reference of k.
func refEntryCap(k model.ObjectKey, ref *model.Ref) int {
	return keyCap(ref.Digest, ref.Repo, ref.Tag, k.Kind, k.Namespace, k.Name)
}

// refEntry is refEntry built in the batch's arena.
func (w *writer) refEntry(state byte, k model.ObjectKey, i int, ref *model.Ref) []byte {
	if b := appendRefEntry(w.arena.start(refEntryCap(k, ref)), state, k, i, ref); b != nil {
		return w.arena.finish(b)
	}
	return nil
}

// recordKey is the object (stateConfirmed) or pending (statePending) record key of k, built
// in the batch's arena.
func (w *writer) recordKey(state byte, k model.ObjectKey) []byte {
	prefix := prefixObject
	if state == statePending {
		prefix = prefixPending
	}
	return w.arena.finish(appendRecordKey(w.arena.start(keyCap(k.Kind, k.Namespace, k.Name)), prefix, k))
}

// coversRefs reports whether every match key of want appears in have.
func coversRefs(have, want []model.Ref) bool {
	seen := make(map[[3]string]bool, len(have))
	for _, r := range have {
		seen[[3]string{r.Repo, r.Tag, r.Digest}] = true
	}
	for _, r := range want {
		if r.Invalid == "" && !seen[[3]string{r.Repo, r.Tag, r.Digest}] {
			return false
		}
	}
	return true
}

// ErrInvalidKey is returned for a write whose names cannot be indexed (too long or too many).
var ErrInvalidKey = errors.New("value cannot be indexed")

func validateObject(o model.Object) error {
	if len(o.Refs) > math.MaxUint16+1 {
		return fmt.Errorf("%s has %d references, more than %d: %w", o.Key, len(o.Refs), math.MaxUint16+1, ErrInvalidKey)
	}
	if tooLong(o.Key.Kind, o.Key.Namespace, o.Key.Name) {
		return checkKeyStrings(o.Key.String(), o.Key.Kind, o.Key.Namespace, o.Key.Name)
	}
	for _, r := range o.Refs {
		if tooLong(r.Repo, r.Tag, r.Digest) {
			return checkKeyStrings(o.Key.String()+" "+r.FieldPath, r.Repo, r.Tag, r.Digest)
		}
	}
	return nil
}

func checkKeyStrings(what string, values ...string) error {
	for _, v := range values {
		if len(v) > maxKeyString {
			return fmt.Errorf("%s: name of %d bytes exceeds %d: %w", what, len(v), maxKeyString, ErrInvalidKey)
		}
	}
	return nil
}

func tooLong(values ...string) bool {
	for _, v := range values {
		if len(v) > maxKeyString {
			return true
		}
	}
	return false
}

// ReferrersOfDigest implements model.Reader. It returns confirmed references first, then
// pending ones (Pending=true), each with its object's Created, Phase and Since as of the same
// snapshot. An object with confirmed and pending state may appear in both.
func (ix *Index) ReferrersOfDigest(ctx context.Context, repo, digest string) ([]model.Referrer, error) {
	if tooLong(repo, digest) {
		return nil, nil
	}
	prefix := refDigestPrefix(digest)
	if repo != "" {
		prefix = refDigestRepoPrefix(digest, repo)
	}
	out, err := ix.referrers(prefix)
	if err != nil {
		return nil, fmt.Errorf("failed to look up referrers of %s %s: %w", repo, digest, err)
	}
	return out, nil
}

// ReferrersOfTag implements model.Reader: references naming repo:tag without a digest,
// confirmed first, then pending ones.
func (ix *Index) ReferrersOfTag(ctx context.Context, repo, tag string) ([]model.Referrer, error) {
	if tooLong(repo, tag) {
		return nil, nil
	}
	out, err := ix.referrers(refTagPrefix(repo, tag))
	if err != nil {
		return nil, fmt.Errorf("failed to look up referrers of %s:%s: %w", repo, tag, err)
	}
	return out, nil
}

// referrers decodes the reverse entries under prefix: their keys and values hold every field
// of a Referrer but its object's Created, Since and Phase, which come from the object states
// (objstates.go). So this is one prefix scan and no other read, unless an object changed
// since the scan's snapshot was taken: its record is then read from that snapshot.
func (ix *Index) referrers(prefix []byte) ([]model.Referrer, error) {
	var out []model.Referrer
	seen := ix.states.published.Load() // before the snapshot: see objectStates
	err := ix.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			p, err := parseKey(item.Key())
			if err != nil {
				return err
			}
			err = item.Value(func(v []byte) error {
				r, err := decodeRefValue(&p, v) // copies every string out of v
				out = append(out, r)
				return err
			})
			if err != nil {
				return err
			}
		}
		return fillFromRecords(txn, out, ix.states.fill(out, seen))
	})
	return out, err
}

func cachedRecord(txn *badger.Txn, cache map[string]storedObject, state byte, k model.ObjectKey) (storedObject, error) {
	key := objectKey(k)
	if state == statePending {
		key = pendingKey(k)
	}
	if o, ok := cache[string(key)]; ok {
		return o, nil
	}
	item, err := txn.Get(key)
	if err != nil {
		return storedObject{}, fmt.Errorf("record of %s: %w", k, err)
	}
	var o storedObject
	err = item.Value(func(v []byte) error {
		o, err = decodeObject(k, v) // decodeObject copies every string out of v
		return err
	})
	cache[string(key)] = o
	return o, err
}

// Object implements model.Reader: the confirmed state of a referrer.
func (ix *Index) Object(ctx context.Context, key model.ObjectKey) (model.Object, bool, error) {
	if validateObject(model.Object{Key: key}) != nil {
		return model.Object{}, false, nil
	}
	var o storedObject
	found := false
	err := ix.db.View(func(txn *badger.Txn) error {
		var err error
		o, err = cachedRecord(txn, map[string]storedObject{}, stateConfirmed, key)
		found = err == nil
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return model.Object{}, false, fmt.Errorf("failed to read object %s: %w", key, err)
	}
	return o.Object, found, nil
}

// Objects implements model.Reader: every confirmed referrer, in key order. Pending records
// are not included (see PendingObjects). fn runs inside one read snapshot.
func (ix *Index) Objects(ctx context.Context, fn func(model.Object) error) error {
	return ix.eachObject(ctx, prefixObject, func(o storedObject) error { return fn(o.Object) })
}

func (ix *Index) eachObject(ctx context.Context, prefix byte, fn func(storedObject) error) error {
	return ix.scanValues(ctx, []byte{prefix}, func(key, val []byte) error {
		p, err := parseKey(key)
		if err != nil {
			return err
		}
		o, err := decodeObject(p.Object, val)
		if err != nil {
			return err
		}
		return fn(o)
	})
}

// scanValues calls fn with each key and value under prefix; both are valid only during fn.
// It checks ctx between items.
func (ix *Index) scanValues(ctx context.Context, prefix []byte, fn func(key, val []byte) error) error {
	return ix.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			if err := item.Value(func(v []byte) error { return fn(item.Key(), v) }); err != nil {
				return err
			}
		}
		return nil
	})
}
