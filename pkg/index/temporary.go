package index

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// A Temporary index (Options.Temporary) is loaded once by a rebuild, read by one plan and
// removed. For a durable index, Badger compacts while the rebuild writes: each time five
// level-0 tables have piled up it merges them into the base level, and because the rebuild's
// keys are spread over the whole key space every such merge rewrites the base level; Finish
// then flattens what is left. For a throw-away index that is wasted work: the one-shot prune
// at synth size L spent 14 s of 81 s in compactions. A Temporary index runs no compactor, lets
// level-0 tables pile up without stalling the writer, and merges them all in one pass when the
// rebuild finishes (mergeTemporary): every byte is rewritten once.
//
// The level-0 thresholds are far above any table count a load reaches (one table per
// memtable, 32 MiB each: 4,096 tables are 128 GiB), so no compaction is ever scheduled and no
// write ever stalls waiting for one.
const temporaryL0Tables = 1 << 12

// temporaryOptions turns a durable index's options into a Temporary one's.
func temporaryOptions(opts badger.Options) badger.Options {
	opts = opts.WithNumCompactors(0)
	opts = opts.WithNumLevelZeroTables(temporaryL0Tables)
	opts = opts.WithNumLevelZeroTablesStall(2 * temporaryL0Tables)
	// Close merges level 0 into one level: that is mergeTemporary's merge, and it keeps
	// the index readable if the caller closes it instead.
	opts = opts.WithCompactL0OnClose(true)
	return opts
}

// mergeTemporary merges the level-0 tables of a Temporary index into one level: Badger does
// that when it closes a database whose options ask for it, so the index is closed and opened
// again. The caller holds the index exclusively: Apply is refused during a rebuild, and reads
// must not run while it finishes (Options.Temporary).
func (ix *Index) mergeTemporary() error {
	if err := ix.db.Close(); err != nil {
		return fmt.Errorf("failed to merge the temporary index: %w", err)
	}
	// Merged once is enough: the final Close of a throw-away index need not merge again.
	db, err := badger.Open(badgerOptions(ix.opts).WithCompactL0OnClose(false))
	if err != nil {
		return fmt.Errorf("failed to reopen the temporary index in %s: %w", ix.dir, err)
	}
	ix.db = db
	return nil
}
