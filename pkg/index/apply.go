package index

import (
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
	if err := w.txn.Commit(); err != nil {
		return 0, fmt.Errorf("failed to commit %d index ops: %w", len(ops), err)
	}
	ix.commits.Add(1)
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
	if err := w.txn.Commit(); err != nil {
		return fmt.Errorf("failed to commit %d index ops: %w", len(ops), err)
	}
	ix.commits.Add(1)
	return nil
}

// writer is one read-write transaction plus the helpers every op needs. Reads through it see
// the transaction's own earlier writes, so ops of one batch compose.
type writer struct {
	txn *badger.Txn
	now time.Time
	log logr.Logger
}

func (ix *Index) newWriter() *writer {
	return &writer{txn: ix.db.NewTransaction(true), now: ix.now(), log: ix.log}
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
	keep := make(map[string]bool, len(new))
	for _, k := range new {
		keep[string(k)] = true
	}
	had := make(map[string]bool, len(old))
	for _, k := range old {
		had[string(k)] = true
		if !keep[string(k)] {
			if err := w.del(k); err != nil {
				return err
			}
		}
	}
	for _, k := range new {
		if !had[string(k)] {
			if err := w.set(k, nil); err != nil {
				return err
			}
		}
	}
	return nil
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
