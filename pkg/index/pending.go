package index

import (
	"context"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// PutPending records the references of an object being admitted, before any watch has seen
// it. It replaces an earlier pending record of the same key (keeping its Since) and moves the
// expiry to expires. Lookups return these references with Pending=true next to the confirmed
// ones, so an image is protected from the moment its first referrer is admitted.
func PutPending(o model.Object, expires time.Time) Op {
	return putPending{obj: o, expires: expires}
}

// Confirm makes the pending record of o.Key confirmed: o becomes the confirmed state (as with
// PutObject) and the pending record is removed whatever references it held. The tracker uses it
// when a watch delivers the very object that was admitted.
func Confirm(o model.Object) Op { return confirm{obj: o} }

// DeletePending removes the pending record of key, if any (the admission was denied later).
func DeletePending(key model.ObjectKey) Op { return deletePending{key: key} }

type putPending struct {
	obj     model.Object
	expires time.Time
}

func (op putPending) String() string { return "put pending object " + op.obj.Key.String() }

func (op putPending) apply(w *writer) error {
	if err := validateObject(op.obj); err != nil {
		return err
	}
	oldRec, had, err := w.loadPendingRecord(op.obj.Key)
	if err != nil {
		return err
	}
	var old storedObject
	if !had {
		oldRec = nil // writeObject's "no previous record"
	} else if old, err = decodeObject(op.obj.Key, oldRec); err != nil {
		return err
	}
	next := storedObject{Object: op.obj, Since: w.now, Expires: op.expires}
	w.notePending(op.obj.Key, true)
	if had {
		next.Since = old.Since
		if err := w.del(expiryKey(timeNanos(old.Expires), old.Key)); err != nil {
			return err
		}
	}
	if err := w.set(expiryKey(timeNanos(op.expires), op.obj.Key), nil); err != nil {
		return err
	}
	return w.writeObject(statePending, oldRec, next)
}

type confirm struct{ obj model.Object }

func (op confirm) String() string { return "confirm object " + op.obj.Key.String() }

func (op confirm) apply(w *writer) error {
	if err := putObject(op).apply(w); err != nil {
		return err
	}
	// putObject removed the pending record when the references matched; else remove it now.
	pending, still, err := w.loadPending(op.obj.Key)
	if err != nil || !still {
		return err
	}
	return w.removePending(pending)
}

type deletePending struct{ key model.ObjectKey }

func (op deletePending) String() string { return "delete pending object " + op.key.String() }

func (op deletePending) apply(w *writer) error {
	old, had, err := w.loadPending(op.key)
	if err != nil || !had {
		return err
	}
	return w.removePending(old)
}

// removePending deletes a pending record with its expiry and reverse entries.
func (w *writer) removePending(p storedObject) error {
	if err := w.dropRefEntries(statePending, p.Object); err != nil {
		return err
	}
	if err := w.del(expiryKey(timeNanos(p.Expires), p.Key)); err != nil {
		return err
	}
	w.notePending(p.Key, false)
	return w.del(pendingKey(p.Key))
}

// loadPendingKeys fills ix.pending from the pending records on disk.
func (ix *Index) loadPendingKeys() error {
	ix.pending = map[string]bool{}
	return ix.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixPending}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			ix.pending[string(it.Item().Key()[1:])] = true
		}
		return nil
	})
}

// loadPending reads and decodes the pending record of k (see loadPendingRecord).
func (w *writer) loadPending(k model.ObjectKey) (storedObject, bool, error) {
	rec, found, err := w.loadPendingRecord(k)
	if err != nil || !found {
		return storedObject{}, false, err
	}
	o, err := decodeObject(k, rec)
	return o, err == nil, err
}

// loadPendingRecord reads the encoded pending record of k, skipping the read when the index
// knows there is none: the batches not yet published say so first, then ix.pending.
func (w *writer) loadPendingRecord(k model.ObjectKey) ([]byte, bool, error) {
	var buf [128]byte // the object key of a pod fits: no allocation for the common miss
	objKey := appendObjKey(buf[:0], k)
	present, known := false, false
	for b := w; b != nil && !known; b = b.prev {
		present, known = b.pending[string(objKey)]
	}
	if !known {
		present = w.ix.pending[string(objKey)]
	}
	if !present {
		return nil, false, nil
	}
	return w.loadRecord(pendingKey(k))
}

// notePending journals that k's pending record now exists or not; the commit publishes it.
func (w *writer) notePending(k model.ObjectKey, present bool) {
	key := string(appendObjKey(nil, k))
	w.pending[key] = present
	w.pendingLog = append(w.pendingLog, pendingNote{op: len(w.ops), key: key, present: present})
}

// expireBatch bounds the pending records removed per transaction by ExpirePending.
const expireBatch = 1000

// ExpirePending removes the pending records whose expiry is at or before now (objects that
// were admitted and never appeared in a watch, e.g. because a later admission plugin denied
// them) and returns how many it removed.
func (ix *Index) ExpirePending(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		var ops []Op
		err := ix.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixExpiry}})
			defer it.Close()
			for it.Rewind(); it.Valid() && len(ops) < expireBatch; it.Next() {
				p, err := parseKey(it.Item().Key())
				if err != nil {
					return err
				}
				if p.At > timeNanos(now) {
					break
				}
				ops = append(ops, expirePending{key: p.Object, at: p.At})
			}
			return nil
		})
		if err == nil && len(ops) > 0 {
			err = ix.Apply(ctx, ops...)
		}
		if err != nil {
			return total, fmt.Errorf("failed to expire pending references: %w", err)
		}
		total += len(ops)
		if len(ops) < expireBatch {
			ix.log.V(1).Info("expired pending references", "count", total, "until", now)
			return total, nil
		}
	}
}

// expirePending removes a pending record only if it still has the expiry that was found, so a
// record re-announced in between survives.
type expirePending struct {
	key model.ObjectKey
	at  uint64
}

func (op expirePending) String() string { return "expire pending object " + op.key.String() }

func (op expirePending) apply(w *writer) error {
	old, had, err := w.loadPending(op.key)
	if err != nil {
		return err
	}
	if !had || timeNanos(old.Expires) != op.at {
		// Stale expiry entry of a record that was re-announced or removed.
		return w.del(expiryKey(op.at, op.key))
	}
	return w.removePending(old)
}

// PendingObject is a pending record: the admitted object, when it was first recorded and
// when it expires.
type PendingObject struct {
	Object  model.Object
	Since   time.Time
	Expires time.Time
}

// PendingObjects calls fn for every pending record, in key order.
func (ix *Index) PendingObjects(ctx context.Context, fn func(PendingObject) error) error {
	return ix.eachObject(ctx, prefixPending, func(o storedObject) error {
		return fn(PendingObject{Object: o.Object, Since: o.Since, Expires: o.Expires})
	})
}
