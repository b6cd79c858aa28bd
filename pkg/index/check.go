package index

import (
	"context"
	"fmt"
)

// Check verifies the index against itself: it rebuilds every derived key (reverse entries,
// expiry entries, blob entries, stream items, blob counts) from the records into a scratch
// index in scratchDir, which must be empty or absent and is left for the caller to remove, and
// returns Diff's lines, pending state included, then the differences between the in-memory
// object states (objstates.go) and the records. An index whose every op was atomic has none.
// The rebuild reads one record at a time; the state check holds a second copy of the states
// and blocks Apply while it reads the records (~0.3 s at 100,000 objects).
func (ix *Index) Check(ctx context.Context, scratchDir string) ([]string, error) {
	scratch, err := Open(Options{Dir: scratchDir, Logger: ix.log, Now: ix.now})
	if err != nil {
		return nil, err
	}
	defer func() { _ = scratch.Close() }()
	rb, err := scratch.BeginRebuild(ctx)
	if err != nil {
		return nil, err
	}
	if err := ix.copyRecords(ctx, rb); err != nil {
		rb.Abort()
		return nil, fmt.Errorf("failed to copy index records for check: %w", err)
	}
	if err := rb.Finish(ctx); err != nil {
		return nil, err
	}
	lines, err := ix.Diff(ctx, scratch, DiffOptions{IncludePending: true, OtherName: "recomputed"})
	if err != nil {
		return nil, err
	}
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	states, err := ix.states.check(ix.db)
	return append(lines, states...), err
}

// copyRecords puts every record of ix into a rebuild.
func (ix *Index) copyRecords(ctx context.Context, rb *Rebuild) error {
	if err := ix.Objects(ctx, rb.PutObject); err != nil {
		return err
	}
	if err := ix.PendingObjects(ctx, rb.PutPending); err != nil {
		return err
	}
	if err := ix.Images(ctx, rb.PutImage); err != nil {
		return err
	}
	if err := ix.Streams(ctx, "", rb.PutStream); err != nil {
		return err
	}
	return ix.AllLimitRanges(ctx, rb.PutLimitRange)
}
