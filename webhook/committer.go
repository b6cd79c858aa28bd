package webhook

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"

	"github.com/pruneguard/pruneguard/pkg/index"
)

// Applier is the part of the index the webhook writes through. *index.Index implements it.
type Applier interface {
	Apply(ctx context.Context, ops ...index.Op) error
}

var _ Applier = (*index.Index)(nil)

// ErrQueueFull is returned by Committer.Submit when the write queue is full: the index is
// slower than the admission rate, and the request goes on without its pending record rather
// than wait.
var ErrQueueFull = errors.New("pending-reference write queue is full")

// ErrStopped is returned by Committer.Submit once the committer has stopped.
var ErrStopped = errors.New("pending-reference writer stopped")

// Queue bounds of the committer. A Badger commit of a few hundred small pending records takes
// well under a millisecond, so maxBatch keeps each commit short while amortising its fixed cost
// over every request that arrived meanwhile; queueSize absorbs a burst of that many concurrent
// admissions (the API server's webhook client rarely has more than a few hundred in flight).
const (
	maxBatch  = 512
	queueSize = 4096
)

// write is one queued op and where its outcome goes (buffered, so the committer never blocks
// on a request that gave up waiting).
type write struct {
	op   index.Op
	done chan error
}

// Committer is a group-commit writer: concurrent Submit calls queue their ops, and one loop
// applies everything queued so far in one index transaction and then wakes every submitter
// with its own op's outcome. Under load a commit carries many ops, so the rate of admissions is
// not bounded by the rate of transactions.
type Committer struct {
	ix    Applier
	log   logr.Logger
	queue chan write
	done  chan struct{}
	// onBatch, when set, observes the size of every committed batch (metrics).
	onBatch func(n int)
}

// NewCommitter returns a committer writing to ix. Run must be running for Submit to succeed.
func NewCommitter(ix Applier, log logr.Logger, onBatch func(int)) *Committer {
	return &Committer{ix: ix, log: log, queue: make(chan write, queueSize), done: make(chan struct{}), onBatch: onBatch}
}

// Submit queues op and waits until it is committed, ctx is done, or the committer stops. It
// never blocks on a full queue (ErrQueueFull). When ctx ends first the op stays queued and is
// still written.
func (c *Committer) Submit(ctx context.Context, op index.Op) error {
	w := write{op: op, done: make(chan error, 1)}
	select {
	case <-c.done:
		return ErrStopped
	default:
	}
	select {
	case c.queue <- w:
	default:
		return ErrQueueFull
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("waiting for the pending-reference commit: %w", ctx.Err())
	case <-c.done:
		return ErrStopped
	}
}

// Run commits queued ops until ctx is done, then fails what is still queued with ErrStopped.
func (c *Committer) Run(ctx context.Context) error {
	defer close(c.done)
	batch := make([]write, 0, maxBatch)
	for {
		select {
		case <-ctx.Done():
			c.drainStopped()
			return nil
		case w := <-c.queue:
			batch = append(batch[:0], w)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case w := <-c.queue:
				batch = append(batch, w)
			default:
				break fill
			}
		}
		c.commit(ctx, batch)
	}
}

// commit applies a batch in as few transactions as fit. Apply stops at the first failing op
// (the ops before it are committed), so on error the rest are retried one by one to give each
// submitter its own outcome.
func (c *Committer) commit(ctx context.Context, batch []write) {
	ops := make([]index.Op, len(batch))
	for i, w := range batch {
		ops[i] = w.op
	}
	err := c.ix.Apply(ctx, ops...)
	if c.onBatch != nil {
		c.onBatch(len(batch))
	}
	if err == nil {
		for _, w := range batch {
			w.done <- nil
		}
		return
	}
	c.log.V(1).Info("pending batch failed, retrying ops one by one", "ops", len(batch), "error", err.Error())
	for _, w := range batch {
		w.done <- c.ix.Apply(ctx, w.op)
	}
}

func (c *Committer) drainStopped() {
	for {
		select {
		case w := <-c.queue:
			w.done <- ErrStopped
		default:
			return
		}
	}
}
