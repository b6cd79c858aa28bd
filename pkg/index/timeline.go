package index

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// ImagesCreatedBetween calls fn for every image whose creation time is in (from, to], in
// creation order (digest order within one time), reading the time-ordered 'a' entries: the
// cost is that of the images in range, not of all images. Images whose creation time is zero
// or before 1970 are ordered at 1970-01-01 and so are in no range that starts at or after it.
// fn runs inside one read snapshot; an error from fn stops the scan and is returned.
func (ix *Index) ImagesCreatedBetween(ctx context.Context, from, to time.Time, fn func(digest string) error) error {
	err := ix.scanTimeRange(ctx, prefixImageCreated, from, to, func(p parsedKey) error { return fn(p.Digest) })
	if err != nil {
		return fmt.Errorf("failed to list images created in (%s, %s]: %w", showTime(from), showTime(to), err)
	}
	return nil
}

// StreamsWithItemsCreatedBetween calls fn once for every image stream ("NAMESPACE/STREAM")
// that has a status tag-history item created in (from, to], in the order of its first such
// item, reading the time-ordered 'e' entries. It remembers the streams it has reported, so its
// memory grows with the number of streams in range. Times are ordered as in
// ImagesCreatedBetween.
func (ix *Index) StreamsWithItemsCreatedBetween(ctx context.Context, from, to time.Time, fn func(stream string) error) error {
	seen := map[string]bool{}
	err := ix.scanTimeRange(ctx, prefixItemCreated, from, to, func(p parsedKey) error {
		repo := p.NS + "/" + p.Name
		if seen[repo] {
			return nil
		}
		seen[repo] = true
		return fn(repo)
	})
	if err != nil {
		return fmt.Errorf("failed to list image streams with items created in (%s, %s]: %w", showTime(from), showTime(to), err)
	}
	return nil
}

// scanTimeRange calls fn with each key under prefix (whose first component is a u64 time)
// whose time is in (from, to], in key order, without reading values.
func (ix *Index) scanTimeRange(ctx context.Context, prefix byte, from, to time.Time, fn func(parsedKey) error) error {
	lo, hi := timeNanos(from), timeNanos(to)
	if hi <= lo || lo == math.MaxUint64 {
		return nil
	}
	start := binary.BigEndian.AppendUint64([]byte{prefix}, lo+1)
	return ix.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefix}})
		defer it.Close()
		for it.Seek(start); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			p, err := parseKey(it.Item().Key())
			if err != nil {
				return err
			}
			if p.At > hi {
				return nil
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		return nil
	})
}
