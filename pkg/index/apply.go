package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

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
// atomic. The ops are prepared in batches of applyBatch, each committed as one Badger
// transaction as soon as it is prepared, while the next ones are prepared (see pipeline).
// When a batch outgrows a Badger transaction (ErrTxnTooBig), it is committed in several,
// split between ops. On error, the ops before the failing one are committed and the error
// names the failing op; ops after it are not applied (a batch that commits after one that
// failed is undone, see pipeline.fail). Every commit is complete (visible to readers,
// reported to OnCommit) when Apply returns.
func (ix *Index) Apply(ctx context.Context, ops ...Op) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if ix.rebuilding.Load() {
		return ErrRebuilding
	}
	p := &pipeline{ix: ix}
	err := errors.Join(p.run(ctx, ops), p.drain())
	p.endRound()
	return err
}

// applyBatch is the number of ops prepared per transaction. Smaller batches overlap more of
// the preparing with the committing (a call's first batch is prepared while Badger's writer
// waits); larger ones pay less per transaction. In BenchmarkApply/moving-refs (1,000 ops per
// call, runs alternating on the 2-core machine) 64 did 58.2k updates/s (median of 11), 32
// 55.7k (6), 128 56.1k (11) and 256 53.1k (5).
const applyBatch = 64

// applyRound is the number of batches a round prepares on one snapshot (see pipeline): 1,024
// ops, so that the tracker's calls of up to 1,000 take one round.
const applyRound = 16

// pipeline commits batches while the next ones are prepared, so that Badger's single writer
// goroutine goes from one commit to the next without waiting for Apply, and Apply's goroutine
// prepares on the other core meanwhile. Badger's NewTransaction waits for every commit in
// flight, so the batches are prepared in rounds: a round starts when nothing is in flight,
// opens a read snapshot and the write transactions of up to applyRound batches, and then
// commits each batch as soon as it is prepared. A batch reads its own writes, then those of
// the round's earlier batches (committed or not), then the snapshot. Commits are published
// in order (writer.published): the first without waiting once it is done, all of them before
// the next round starts and before Apply returns.
type pipeline struct {
	ix *Index
	// snap is the round's read snapshot; txns are the write transactions of the batches it
	// has not prepared yet. Both are nil between rounds.
	snap *badger.Txn
	txns []*badger.Txn
	// round lists the round's batches in order; flight those committing, oldest first.
	round, flight []*writer
	// spares are batches of earlier rounds, whose buffers new batches reuse.
	spares []*writer
}

func (p *pipeline) run(ctx context.Context, ops []Op) error {
	for len(ops) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("index apply cancelled with %d ops left: %w", len(ops), err)
		}
		if len(p.txns) == 0 {
			if err := p.newRound((len(ops) + applyBatch - 1) / applyBatch); err != nil {
				return err
			}
		}
		w := p.ix.newWriter(p.snap, p.last(), p.spare(), min(len(ops), applyBatch))
		w.txn, p.txns = p.txns[0], p.txns[1:]
		p.round = append(p.round, w)
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

// last is the round's newest batch, nil at its start.
func (p *pipeline) last() *writer {
	if len(p.round) == 0 {
		return nil
	}
	return p.round[len(p.round)-1]
}

// spare returns a batch of an earlier round to reuse, or nil.
func (p *pipeline) spare() *writer {
	n := len(p.spares)
	if n == 0 {
		return nil
	}
	w := p.spares[n-1]
	p.spares = p.spares[:n-1]
	return w
}

// newRound waits for the commits in flight and opens a new snapshot and the write
// transactions of up to batches batches.
func (p *pipeline) newRound(batches int) error {
	if err := p.drain(); err != nil {
		return err
	}
	p.endRound()
	p.snap = p.ix.db.NewTransaction(false)
	for range min(batches, applyRound) {
		p.txns = append(p.txns, p.ix.db.NewTransaction(true))
	}
	return nil
}

// endRound discards the round's transactions; its batches become spares. Nothing of the
// round may be in flight.
func (p *pipeline) endRound() {
	for _, txn := range p.txns {
		txn.Discard()
	}
	p.txns = p.txns[:0]
	if p.snap != nil {
		p.snap.Discard()
		p.snap = nil
	}
	for _, w := range p.round {
		w.dropTxn()
	}
	p.spares = append(p.spares, p.round...)
	p.round = p.round[:0]
}

// drain waits for every commit in flight and publishes each.
func (p *pipeline) drain() error {
	for len(p.flight) > 0 {
		if err := p.settle(<-p.flight[0].done); err != nil {
			return err
		}
	}
	return nil
}

// harvest publishes the commits that are done, oldest first, without waiting.
func (p *pipeline) harvest() error {
	for len(p.flight) > 0 {
		select {
		case err := <-p.flight[0].done:
			if err := p.settle(err); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// settle takes the oldest batch in flight, whose commit reported err, off the flight and
// publishes it, or handles its failure.
func (p *pipeline) settle(err error) error {
	w := p.flight[0]
	p.flight = p.flight[1:]
	if err != nil {
		return p.fail(w, err)
	}
	w.published(w.segment, len(w.ops))
	return nil
}

// fail handles the failed commit of batch f. The batches after it were prepared reading its
// writes and may have committed (Badger's writer takes them independently): then the index
// holds their writes on top of a state without f's, which can lose a reverse entry that a
// referenced image depends on. So when any of them committed, every key that f or a later
// batch wrote is written back to what it was before f (undo), and none of those ops is
// applied. Either way the object states are reloaded, since f and later batches staged
// theirs.
func (p *pipeline) fail(f *writer, cause error) error {
	later := p.flight
	p.flight = nil
	committed := 0
	n := len(f.ops) - f.segment
	for _, w := range later {
		if <-w.done == nil {
			committed++
		}
		n += len(w.ops)
	}
	err := fmt.Errorf("failed to commit %d index ops: %w", n, cause)
	if committed > 0 {
		if uerr := p.undo(f); uerr != nil {
			err = fmt.Errorf("%w; %d later batches committed and could not be undone (%v): the index may be inconsistent, run pruneguard index verify or rebuild it", err, committed, uerr)
		}
	}
	f.failed()
	return err
}

// undo writes every key that batch f (from its segment in flight on) or a later batch of the
// round wrote back to its value before f, as f's committed segments, the round's earlier
// batches and the snapshot give it. Nothing is in flight.
func (p *pipeline) undo(f *writer) error {
	i := slices.Index(p.round, f)
	done := map[string]bool{}
	var restore []write
	for k, w := range p.round[i:] {
		from := 0
		if k == 0 {
			from = w.opStart(w.segment)
		}
		for _, wr := range w.writes[from:] {
			if done[string(wr.key)] {
				continue
			}
			done[string(wr.key)] = true
			old, err := p.before(f, wr.key)
			if err != nil {
				return err
			}
			restore = append(restore, old)
		}
	}
	txn := p.ix.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	for _, wr := range restore {
		err := putWrite(txn, wr)
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err = txn.Commit(); err != nil {
				return err
			}
			txn = p.ix.db.NewTransaction(true)
			err = putWrite(txn, wr)
		}
		if err != nil {
			return err
		}
	}
	return txn.Commit()
}

// before returns key's value before batch f's segment in flight: the last write of f's
// committed segments, of the round's batches before f, or the snapshot's value.
func (p *pipeline) before(f *writer, key []byte) (write, error) {
	for j := f.opStart(f.segment) - 1; j >= 0; j-- {
		if bytes.Equal(f.writes[j].key, key) {
			return f.writes[j], nil
		}
	}
	if f.prev != nil {
		if wr, ok := f.prev.logged(key); ok {
			return wr, nil
		}
	}
	val, found, err := f.snapGet(key)
	return write{key: key, val: val, del: !found}, err
}

// submit commits w: all but its last transaction synchronously (only a batch that outgrows
// one transaction has more than one, and it first waits for every commit in flight), the
// last asynchronously, leaving w in flight.
func (p *pipeline) submit(w *writer) error {
	if len(w.ops) == 0 {
		w.dropTxn()
		return nil
	}
	if w.txn == nil {
		// Not prefilled whole: committed in segments, each published before the next, after
		// everything before it.
		if err := p.drain(); err != nil {
			return err
		}
	}
	for {
		txn, end, err := p.fill(w)
		if err != nil {
			return err
		}
		w.stage(end)
		if end == len(w.ops) {
			p.flight = append(p.flight, w)
			p.commit(w, txn)
			return p.harvest()
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

// testHookCommit, when set (by tests only), is offered each asynchronous commit of a batch:
// the ops it commits, its transaction and the channel for its result. When it returns true
// it has taken the commit over.
var testHookCommit func(ops []Op, txn *badger.Txn, done chan<- error) bool

// commit commits txn, w's last, asynchronously: w.done receives the result.
func (p *pipeline) commit(w *writer, txn *badger.Txn) {
	if testHookCommit != nil && testHookCommit(w.ops[w.segment:], txn, w.done) {
		return
	}
	txn.CommitWith(func(err error) { w.done <- err })
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

// prefill puts the writes of the op just prepared into the batch's transaction (opened at
// the start of its round, see pipeline), so that the batch is ready to commit the moment its
// last op is prepared. The first write that does not fit (ErrTxnTooBig) or fails
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
