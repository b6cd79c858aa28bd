package index

import "sync/atomic"

// recordCache holds the latest committed record of the objects Apply has read or written
// since Open, so that the next update of the same object does not read it from Badger. That
// read is a walk of both memtable skiplists and a probe of every level: without it, an update
// that moves a pod's references costs about a third less CPU (BenchmarkApply, 49–54 → 33–37
// cpu-µs on the 2-core machine); the tracker updates the same objects again and again (a
// pod's every status change is a watch event).
//
// The cache holds committed state only: writes enter it when their transaction has committed
// (writer.published), records read from the batch's snapshot enter it as read, and a batch's
// own writes and those of its round's earlier batches are read from their write logs first, so a
// cached record is never newer or older than what a read of Badger would return. Only
// confirmed object records are cached; pending records are few and read through the pending
// set. It is guarded by Index.wmu, like every other part of the write path.
//
// Its size is bounded by a byte budget: each entry counts its key, its record and
// cacheEntryOverhead. When a new record would exceed the budget, entries are dropped in map
// order, which Go randomises, until it fits; a dropped record is read from Badger on its next
// update, as if there were no cache.
type recordCache struct {
	// records holds each entry's record behind a pointer, so that replacing a record
	// updates the entry in place (a map assignment would copy the key again).
	records map[string]*[]byte
	limit   int64
	// size is what the entries count (entrySize); hits and misses count the lookups of
	// PutObject and DeleteObject. Atomic because RecordCacheStats reads them without the
	// write lock.
	size, hits, misses atomic.Int64
}

const (
	// DefaultRecordCacheBytes is the record cache's budget when Options.RecordCacheBytes is 0:
	// about 110,000 pod records of two containers each (a pod record is ~200 bytes, its key
	// ~35). Full, it is ~30 of the ~370 MiB a replica that tracks 100,000 pods uses
	// (BenchmarkServeTrackRSS).
	DefaultRecordCacheBytes = 32 << 20
	// cacheEntryOverhead is what an entry costs beyond its key and record bytes: the map slot
	// (a string and a slice header, its control byte and the map's spare slots) and the size
	// classes the two allocations are rounded up to.
	cacheEntryOverhead = 64
)

// newRecordCache returns a cache of limit bytes; limit < 0 disables it (every lookup
// misses), 0 means DefaultRecordCacheBytes.
func newRecordCache(limit int64) *recordCache {
	if limit == 0 {
		limit = DefaultRecordCacheBytes
	}
	c := &recordCache{limit: max(limit, 0)}
	if c.limit > 0 {
		c.records = map[string]*[]byte{}
	}
	return c
}

func entrySize(key string, rec []byte) int64 { return entrySizeOf(len(key), len(rec)) }

func entrySizeOf(keyLen, recLen int) int64 { return int64(keyLen + recLen + cacheEntryOverhead) }

// get returns key's cached record. The record is the cache's own: callers must not modify
// it, and it is valid until the next put or drop of key.
func (c *recordCache) get(key []byte) ([]byte, bool) {
	if c.limit == 0 {
		return nil, false
	}
	rec := c.records[string(key)]
	if rec == nil {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return *rec, true
}

// put caches a copy of rec as key's committed record, dropping other entries when it would
// not fit; a record larger than the whole budget is not cached. A record replaced in place
// reuses the entry and, when it fits, its buffer: the tracker replaces the same records again
// and again.
func (c *recordCache) put(key, rec []byte) {
	if c.limit == 0 {
		return
	}
	size := entrySizeOf(len(key), len(rec))
	if size > c.limit {
		c.drop(key)
		return
	}
	e := c.records[string(key)]
	if e != nil {
		c.size.Add(-entrySizeOf(len(key), len(*e)))
	}
	if c.size.Load()+size > c.limit {
		for drop, old := range c.records {
			if c.size.Load()+size <= c.limit {
				break
			}
			if old != e {
				c.forget(drop, old)
			}
		}
	}
	if e == nil {
		e = new([]byte)
		c.records[string(key)] = e
	}
	*e = append((*e)[:0], rec...)
	c.size.Add(size)
}

// forget removes the entry of k, whose record is old.
func (c *recordCache) forget(k string, old *[]byte) {
	c.size.Add(-entrySize(k, *old))
	delete(c.records, k)
}

// drop forgets key (its object was deleted).
func (c *recordCache) drop(key []byte) {
	if c.limit == 0 {
		return
	}
	if old := c.records[string(key)]; old != nil {
		c.forget(string(key), old)
	}
}

// reset empties the cache (the index was wiped).
func (c *recordCache) reset() {
	if c.limit == 0 {
		return
	}
	clear(c.records)
	c.size.Store(0)
}

// RecordCacheStats describes the record cache (Options.RecordCacheBytes).
type RecordCacheStats struct {
	// Entries and Bytes are what it holds now (Bytes as it counts them: keys, records and a
	// fixed overhead per entry); Limit is its budget, 0 when it is disabled. Entries is read
	// under the write lock, so it waits for an Apply in progress.
	Entries, Bytes, Limit int64
	// Hits and Misses count the record lookups of object updates and deletes since Open.
	Hits, Misses int64
}

// RecordCacheStats returns the record cache's figures; it is safe to call at any time.
func (ix *Index) RecordCacheStats() RecordCacheStats {
	c := ix.records
	if c == nil {
		return RecordCacheStats{}
	}
	ix.wmu.Lock()
	entries := len(c.records)
	ix.wmu.Unlock()
	return RecordCacheStats{Entries: int64(entries), Bytes: c.size.Load(), Limit: c.limit,
		Hits: c.hits.Load(), Misses: c.misses.Load()}
}
