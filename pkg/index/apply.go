package index

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Op is one atomic change of the index: the replace or delete of one object, image, stream,
// limit range or pending record. Build ops with PutObject, DeleteObject, PutImage, … and apply
// them with Apply. An op is never split: it is fully applied or not at all.
type Op interface {
	apply(w *writer) error
	// String names the op and its object, for errors.
	String() string
}

// Apply applies ops in order: this is the tracker's write path (a batch of watch events per
// call). Each op is atomic on its own and later ops see earlier ones; a call as a whole is not
// atomic. The ops are prepared in batches of applyBatch and each batch is committed as one
// Badger transaction while the next one is prepared, so that encoding and the LSM write of
// consecutive batches overlap on two cores. When a batch outgrows a Badger transaction
// (ErrTxnTooBig), it is committed in several, split between ops. On error, the ops before
// the failing one are committed and the error names the failing op; ops after it are not
// applied. Every commit is complete (visible to readers, reported to OnCommit) when Apply
// returns.
func (ix *Index) Apply(ctx context.Context, ops ...Op) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if ix.rebuilding.Load() {
		return ErrRebuilding
	}
	p := &pipeline{ix: ix}
	err := p.run(ctx, ops)
	if werr := p.wait(); err == nil {
		err = werr
	}
	for _, txn := range []*badger.Txn{p.snap, p.next} {
		if txn != nil {
			txn.Discard()
		}
	}
	return err
}

// applyBatch is the number of ops prepared per transaction. Smaller batches overlap more of
// the preparing with the committing (the last commit of a call overlaps nothing); larger ones
// pay less per transaction. In BenchmarkApply (1,000 ops per call) 128 did better than 64,
// 256 and 512.
const applyBatch = 128

// pipeline commits one batch while the next is prepared.
type pipeline struct {
	ix   *Index
	snap *badger.Txn
	// inflight is the batch being committed; done delivers its commit's error.
	inflight *writer
	done     chan error
	// spare is a published batch whose buffers the next one reuses.
	spare *writer
	// next is the write transaction of the next batch, opened before the batch in flight
	// was committed (see prefill).
	next *badger.Txn
}

func (p *pipeline) run(ctx context.Context, ops []Op) error {
	for len(ops) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("index apply cancelled with %d ops left: %w", len(ops), err)
		}
		if p.snap == nil {
			p.snap = p.ix.db.NewTransaction(false)
		}
		w := p.ix.newWriter(p.snap, p.inflight, p.spare, min(len(ops), applyBatch))
		p.spare = nil
		// Badger's NewTransaction waits for the commits in flight: a batch prepared while
		// one commits is filled into the transaction opened before that commit, if any.
		switch {
		case p.next != nil:
			w.txn, p.next = p.next, nil
		case p.inflight == nil:
			w.txn = p.ix.db.NewTransaction(true)
		}
		var opErr error
		for _, op := range ops[:min(len(ops), applyBatch)] {
			if opErr = op.apply(w); opErr != nil {
				opErr = fmt.Errorf("failed to apply %s: %w", op, opErr)
				w.truncate(len(w.ops))
				break
			}
			w.endOp(op)
			w.prefill()
		}
		if err := p.submit(w); err != nil {
			return err
		}
		if opErr != nil {
			return opErr
		}
		ops = ops[len(w.ops):]
	}
	return nil
}

// wait waits for the batch in flight, if any, and publishes it.
func (p *pipeline) wait() error {
	if p.inflight == nil {
		return nil
	}
	w := p.inflight
	p.inflight = nil
	if err := <-p.done; err != nil {
		w.failed()
		return fmt.Errorf("failed to commit %d index ops: %w", len(w.ops), err)
	}
	w.published(w.segment, len(w.ops))
	p.spare = w
	return nil
}

// submit waits for the batch in flight, then commits w: all but its last transaction
// synchronously (only a batch that outgrows one transaction has more than one), the last
// asynchronously, leaving w in flight.
func (p *pipeline) submit(w *writer) error {
	if err := p.wait(); err != nil {
		w.dropTxn()
		return err
	}
	if len(w.ops) == 0 {
		w.dropTxn()
		return nil
	}
	// Everything before w is committed: a new snapshot sees it all, and w's own writes are
	// read from w while it is in flight.
	p.snap.Discard()
	p.snap = p.ix.db.NewTransaction(false)
	for {
		txn, end, err := p.fill(w)
		if err != nil {
			return err
		}
		w.stage(end)
		if end == len(w.ops) {
			// Nothing is in flight: the next batch's transaction opens without waiting.
			if p.next == nil {
				p.next = p.ix.db.NewTransaction(true)
			}
			// w's predecessor is in the new snapshot: cut the chain so that reads stop at w.
			w.inflight = nil
			p.inflight, p.done = w, make(chan error, 1)
			txn.CommitWith(func(err error) { p.done <- err })
			return nil
		}
		err = txn.Commit()
		if err != nil {
			w.failed()
			return fmt.Errorf("failed to commit %d index ops: %w", end-w.segment, err)
		}
		w.published(w.segment, end)
		w.segment = end
	}
}

// fill puts the writes of w's ops from w.segment on into a new transaction, as many whole ops
// as fit, and returns it with the index of the first op left out. A batch prefilled whole is
// its own transaction.
func (p *pipeline) fill(w *writer) (*badger.Txn, int, error) {
	if w.txn != nil && w.segment == 0 {
		txn := w.txn
		w.txn = nil
		return txn, len(w.ops), nil
	}
	w.dropTxn()
	txn := p.ix.db.NewTransaction(true)
	for j := w.opStart(w.segment); j < len(w.writes); j++ {
		err := putWrite(txn, w.writes[j])
		if err == nil {
			continue
		}
		txn.Discard()
		op := w.opOf(j)
		switch {
		case !errors.Is(err, badger.ErrTxnTooBig):
			return nil, 0, fmt.Errorf("failed to write %s: %w", w.ops[op], err)
		case op == w.segment:
			return nil, 0, fmt.Errorf("failed to apply %s: it alone exceeds a transaction: %w", w.ops[op], err)
		}
		// Op op is half written: start again with the ops before it, which fit.
		txn = p.ix.db.NewTransaction(true)
		for _, wr := range w.writes[w.opStart(w.segment):w.opStart(op)] {
			if err := putWrite(txn, wr); err != nil {
				txn.Discard()
				return nil, 0, fmt.Errorf("failed to rewrite %d index ops: %w", op-w.segment, err)
			}
		}
		return txn, op, nil
	}
	return txn, len(w.ops), nil
}

func putWrite(txn *badger.Txn, wr write) error {
	if wr.del {
		return txn.Delete(wr.key)
	}
	return txn.Set(wr.key, wr.val)
}

// prefill puts the writes of the op just prepared into the batch's transaction, so that
// filling it does not wait until the batch in flight has committed: that wait is time
// Badger's writer spends idle. The first write that does not fit (ErrTxnTooBig) or fails
// drops the transaction, and fill starts over from the write log, splitting the batch
// between ops.
func (w *writer) prefill() {
	if w.txn == nil {
		return
	}
	for _, wr := range w.writes[w.opStart(len(w.ops)-1):] {
		if putWrite(w.txn, wr) != nil {
			w.dropTxn()
			return
		}
	}
}

// dropTxn discards the batch's transaction, if any.
func (w *writer) dropTxn() {
	if w.txn != nil {
		w.txn.Discard()
		w.txn = nil
	}
}
