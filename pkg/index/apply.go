package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/go-logr/logr"
)

// Op is one atomic change of the index: the replace or delete of one object, image, stream,
// limit range or pending record. Build ops with PutObject, DeleteObject, PutImage, … and apply
// them with Apply. An op is never split: it is fully applied or not at all.
type Op interface {
	apply(w *writer) error
	// String names the op and its object, for errors.
	String() string
}

// Apply applies ops in order, batching as many as fit into each Badger transaction: this is
// the tracker's write path (a batch of watch events per call). Each op is atomic on its own
// and later ops see earlier ones; a batch as a whole is not atomic. When a transaction
// outgrows Badger's limit (ErrTxnTooBig), the ops that fit are committed and the rest go on in
// a new transaction. On error, the ops before the failing one are committed and the error
// names the failing op; ops after it are not applied.
func (ix *Index) Apply(ctx context.Context, ops ...Op) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if ix.rebuilding.Load() {
		return ErrRebuilding
	}
	for len(ops) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("index apply cancelled with %d ops left: %w", len(ops), err)
		}
		n, err := ix.applyChunk(ops)
		if err != nil {
			return err
		}
		ops = ops[n:]
	}
	return nil
}

// applyChunk applies a prefix of ops in one transaction and returns its length.
func (ix *Index) applyChunk(ops []Op) (int, error) {
	w := ix.newWriter()
	defer w.txn.Discard()
	for i, op := range ops {
		err := op.apply(w)
		if err == nil {
			continue
		}
		if !errors.Is(err, badger.ErrTxnTooBig) {
			if cerr := ix.commitPrefix(ops[:i]); cerr != nil {
				return 0, cerr
			}
			return 0, fmt.Errorf("failed to apply %s: %w", op, err)
		}
		if i == 0 {
			return 0, fmt.Errorf("failed to apply %s: it alone exceeds a transaction: %w", op, err)
		}
		// Op i is half written into this transaction: drop it all and redo the ops before it,
		// which fitted once and so fit again.
		w.txn.Discard()
		return i, ix.commitPrefix(ops[:i])
	}
	if err := w.commit(); err != nil {
		return 0, fmt.Errorf("failed to commit %d index ops: %w", len(ops), err)
	}
	return len(ops), nil
}

func (ix *Index) commitPrefix(ops []Op) error {
	if len(ops) == 0 {
		return nil
	}
	w := ix.newWriter()
	defer w.txn.Discard()
	for _, op := range ops {
		if err := op.apply(w); err != nil {
			return fmt.Errorf("failed to reapply %s: %w", op, err)
		}
	}
	if err := w.commit(); err != nil {
		return fmt.Errorf("failed to commit %d index ops: %w", len(ops), err)
	}
	return nil
}

// writer is one read-write transaction plus the helpers every op needs. Reads through it see
// the transaction's own earlier writes, so ops of one batch compose.
type writer struct {
	ix  *Index
	txn *badger.Txn
	now time.Time
	log logr.Logger
	// pendingJournal records the pending records this transaction created (true) or removed
	// (false), by encoded object key, until commit publishes them to ix.pending.
	pendingJournal map[string]bool
}

func (ix *Index) newWriter() *writer {
	return &writer{ix: ix, txn: ix.db.NewTransaction(true), now: ix.now(), log: ix.log,
		pendingJournal: map[string]bool{}}
}

// commit commits the transaction and publishes what it did to the index's memory.
func (w *writer) commit() error {
	if err := w.txn.Commit(); err != nil {
		return err
	}
	w.publishPending()
	w.ix.commits.Add(1)
	return nil
}

// get returns a copy of key's value; found is false when the key is absent.
func (w *writer) get(key []byte) (val []byte, found bool, err error) {
	item, err := w.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	val, err = item.ValueCopy(nil)
	return val, err == nil, err
}

func (w *writer) set(key, val []byte) error { return w.txn.Set(key, val) }

func (w *writer) del(key []byte) error { return w.txn.Delete(key) }

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

// scanKeys returns copies of the keys under prefix, including this transaction's writes.
func (w *writer) scanKeys(prefix []byte) ([][]byte, error) {
	it := w.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var keys [][]byte
	for it.Rewind(); it.Valid(); it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	return keys, nil
}

func describeKey(key []byte) string {
	p, err := parseKey(key)
	if err != nil {
		return fmt.Sprintf("%x", key)
	}
	return p.String()
}
