package index

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// DefaultGCInterval is how often RunGC looks for value-log files to rewrite. Only stream
// records (the values above valueThreshold) live in the value log, so garbage accrues at the
// rate streams are updated; every few minutes keeps it a small fraction of the index.
const DefaultGCInterval = 5 * time.Minute

// RunGC rewrites value-log files whose garbage ratio exceeds one half, on every tick of
// interval, until ctx is done; it then returns nil. Each tick runs Badger's value-log GC until
// it reports ErrNoRewrite (nothing left worth rewriting). Errors of one tick are logged and
// the loop goes on: GC is housekeeping, never a reason to stop serving.
func (ix *Index) RunGC(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultGCInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			n, err := ix.GCOnce(ctx)
			if err != nil {
				ix.log.Error(err, "index value-log GC failed", "rewrites", n)
				continue
			}
			if n > 0 {
				ix.log.V(1).Info("index value-log GC", "rewrites", n)
			}
		}
	}
}

// GCOnce runs value-log GC until there is nothing to rewrite or ctx is done, and returns how
// many files it rewrote. ErrRejected (another GC running, or the index closing) ends it
// without error.
func (ix *Index) GCOnce(ctx context.Context) (int, error) {
	n := 0
	for ctx.Err() == nil {
		err := ix.db.RunValueLogGC(gcDiscardRatio)
		switch {
		case err == nil:
			n++
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			return n, nil
		default:
			return n, fmt.Errorf("failed to run value-log GC: %w", err)
		}
	}
	return n, nil
}
