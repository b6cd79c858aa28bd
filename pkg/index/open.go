package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/go-logr/logr"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// SchemaVersion is the version of the key layout (keys.go) and record encoding (records.go).
// Raise it with any change to either; Open then wipes an index of another version and reports
// StatusSchemaChanged, and the caller rebuilds it from the API server.
const SchemaVersion uint32 = 6

// Status says what Open found and whether the caller must rebuild the index before using it.
type Status int

const (
	// StatusReady means the index holds a completed rebuild plus every write since; use it.
	StatusReady Status = iota
	// StatusNew means the directory held no index; rebuild it.
	StatusNew
	// StatusSchemaChanged means the directory held an index of another SchemaVersion (or none
	// that pruneguard wrote); Open wiped it; rebuild it.
	StatusSchemaChanged
	// StatusIncomplete means a rebuild started and did not finish (the process died, or the
	// rebuild was aborted); rebuild it.
	StatusIncomplete
)

// String names the status for logs and `pruneguard index stats`.
func (s Status) String() string {
	switch s {
	case StatusReady:
		return "ready"
	case StatusNew:
		return "new"
	case StatusSchemaChanged:
		return "schema-changed"
	case StatusIncomplete:
		return "incomplete"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// NeedsRebuild is true for every status but StatusReady.
func (s Status) NeedsRebuild() bool { return s != StatusReady }

// Options configure Open. Only Dir is required.
type Options struct {
	// Dir is the Badger directory; it is created when missing.
	Dir string
	// Logger receives Badger's messages and the index's own; the zero value discards them.
	Logger logr.Logger
	// Now is the clock that stamps when a reference was first recorded (Referrer.Since);
	// nil means time.Now.
	Now func() time.Time
	// MemTableSize and ValueLogFileSize override memTableSize and valueLogFileSize (bytes);
	// tests use small ones to force flushes and value-log rotation.
	MemTableSize, ValueLogFileSize int64
	// RecordCacheBytes is the budget of the record cache, which spares an update of an
	// object the read of its previous record (reccache.go): 0 means
	// DefaultRecordCacheBytes, a negative value disables the cache.
	RecordCacheBytes int64
	// ReadOnly opens the index for reading only (no schema repair, no writes, no GC).
	ReadOnly bool
	// Temporary says the index is thrown away after one use (the one-shot prune,
	// --from-file): favour load speed and low memory over crash safety. It answers every
	// model.Reader call exactly like a normal index. What changes is how the tables are kept
	// (temporaryOptions): no compaction runs while the index is written, and a rebuild's
	// Finish merges everything it wrote in one pass instead. Apply still works, but its
	// writes pile up in level-0 tables that are never merged, so a Temporary index suits one
	// rebuild followed by reads, and no read may run while that rebuild's Finish runs (the
	// merge reopens Badger).
	Temporary bool
}

// Index is the Badger reference index. It is safe for concurrent use: reads run in parallel,
// writes are serialised (counters are read-modify-write, so Badger's conflict detection is off
// and a mutex orders writers instead).
type Index struct {
	db         *badger.DB
	opts       Options
	dir        string
	log        logr.Logger
	now        func() time.Time
	status     Status
	wmu        sync.Mutex
	rebuilding atomic.Bool
	// commits counts committed Apply transactions (tests check how batches split).
	commits atomic.Int64
	// pending holds the encoded object keys that have a pending record, guarded by wmu. Pending
	// records are few (admissions not yet seen by a watch), and knowing which objects have
	// one saves PutObject, the tracker's hot path, a Badger read per object.
	pending map[string]bool
	// objects filters the object-record keys (objfilter.go), guarded by wmu; nil when
	// read-only.
	objects *keyFilter
	// records caches confirmed object records for the write path (reccache.go).
	records *recordCache
	// states holds each record's Created, Since and Phase for lookups (objstates.go).
	states *objectStates
	// subs are the OnCommit subscribers.
	subs subscribers
}

// The pruner and the audit API read the index through model.Reader.
var _ model.Reader = (*Index)(nil)

// Tuning, chosen for the targets of issue 3 (≥ 50k updates/s on 2 cores, ≤ 50 µs median
// lookup at 1M references, ≤ 1 GiB on disk and ≤ 300 MiB RSS at 200k images + 100k pods);
// bench_test.go measures each.
const (
	// memTableSize: Badger allocates each memtable up front and NumMemtables of them can be
	// live, so this bounds write memory (default 64 MiB x 5). Smaller is not cheaper: at
	// 16 MiB, flushes and the extra level-0 tables every read must consult cost ~30% more CPU
	// per update in BenchmarkApply than at 32 MiB. A transaction may use 15% of it (~4.8 MiB).
	memTableSize = 32 << 20
	// numMemtables: one being written, one being flushed; more only buys write bursts.
	numMemtables = 2
	// valueThreshold: object, image and limit records (100 B–2 KiB) stay in the LSM tree so a
	// lookup is one read; only large stream records go to the value log, which is what GC
	// reclaims.
	valueThreshold = 4 << 10
	// valueLogFileSize: small files so GC rewrites little at a time and the mmapped
	// reservation stays small (default 1 GiB).
	valueLogFileSize = 64 << 20
	// numCompactors: the machine has two cores; Badger needs at least two.
	numCompactors = 2
	// gcDiscardRatio: rewrite a value-log file when at least half of it is garbage.
	gcDiscardRatio = 0.5
)

func badgerOptions(o Options) badger.Options {
	memtable := int64(memTableSize)
	if o.MemTableSize > 0 {
		memtable = o.MemTableSize
	}
	opts := badger.DefaultOptions(o.Dir)
	opts = opts.WithLogger(newBadgerLogger(o.Logger))
	// The index keeps no history: old versions only cost disk until compaction drops them.
	opts = opts.WithNumVersionsToKeep(1)
	opts = opts.WithMemTableSize(memtable)
	opts = opts.WithNumMemtables(numMemtables)
	opts = opts.WithValueThreshold(min(valueThreshold, memtable*15/100))
	opts = opts.WithValueLogFileSize(valueLogFileSize)
	if o.ValueLogFileSize > 0 {
		opts = opts.WithValueLogFileSize(o.ValueLogFileSize)
	}
	opts = opts.WithNumCompactors(numCompactors)
	// Keys share long prefixes, which Badger already delta-encodes within a block, and values
	// are compact binary; snappy saved little in bench_test.go's fixture and costs a
	// decompression per block read. Without compression Badger reads blocks straight from the
	// mmapped table, so no block cache is needed and none is allocated (default 256 MiB).
	opts = opts.WithCompression(options.None)
	opts = opts.WithBlockCacheSize(0)
	// Writers are serialised by Index.wmu; conflict tracking would only cost memory per txn.
	opts = opts.WithDetectConflicts(false)
	// Expvar metrics are process-global; pruneguard exports its own Prometheus metrics.
	opts = opts.WithMetricsEnabled(false)
	// The index is rebuilt from the API server when lost; committed writes survive a killed
	// process (they are in the page cache), only a power loss can drop the newest ones, and
	// Badger replays whole transactions or none. Syncing each commit would cap the write rate.
	opts = opts.WithSyncWrites(false)
	opts = opts.WithReadOnly(o.ReadOnly)
	if o.Temporary {
		opts = temporaryOptions(opts)
	}
	return opts
}

// ErrRebuilding is returned by writes made while a rebuild is in progress.
var ErrRebuilding = errors.New("index rebuild in progress")

// Open opens or creates the index in o.Dir. It never fails because of what the index holds:
// an index of another SchemaVersion is wiped and reported as StatusSchemaChanged, an
// unfinished rebuild as StatusIncomplete; check Status().NeedsRebuild() and rebuild (Rebuild)
// before serving lookups. A read-only open of such an index reports the status and wipes nothing.
func Open(o Options) (*Index, error) {
	if o.Dir == "" {
		return nil, errors.New("index directory is required")
	}
	if !o.ReadOnly {
		if err := removeEmptyMemtables(o.Dir); err != nil {
			return nil, err
		}
	}
	db, err := badger.Open(badgerOptions(o))
	if err != nil {
		return nil, fmt.Errorf("failed to open index in %s: %w", o.Dir, err)
	}
	cache := o.RecordCacheBytes
	if o.ReadOnly {
		cache = -1 // nothing to write, nothing to cache
	}
	ix := &Index{db: db, opts: o, dir: o.Dir, log: o.Logger, now: o.Now, records: newRecordCache(cache),
		states: newObjectStates()}
	if ix.now == nil {
		ix.now = time.Now
	}
	if ix.status, err = ix.checkSchema(o.ReadOnly); err == nil {
		err = ix.loadPendingKeys()
	}
	loadStart := time.Now()
	if err == nil {
		err = ix.states.reload(db)
	}
	loadTime := time.Since(loadStart)
	if err == nil && !o.ReadOnly {
		err = ix.loadObjectFilter()
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("failed to open index in %s: %w", o.Dir, err)
	}
	ix.log.V(1).Info("index opened", "dir", o.Dir, "status", ix.status.String(),
		"objectStates", ix.states.len(), "objectStatesLoadTime", loadTime.String())
	return ix, nil
}

// Status reports what Open found; it does not change after a rebuild (see NeedsRebuild).
func (ix *Index) Status() Status { return ix.status }

// Close flushes and closes the index.
func (ix *Index) Close() error {
	if err := ix.db.Close(); err != nil {
		return fmt.Errorf("failed to close index: %w", err)
	}
	return nil
}

func (ix *Index) checkSchema(readOnly bool) (Status, error) {
	version, found, err := ix.readMeta(metaSchema)
	if err != nil {
		return 0, err
	}
	switch {
	case found && len(version) == 4 && binary.BigEndian.Uint32(version) == SchemaVersion:
		_, complete, err := ix.readMeta(metaComplete)
		if err != nil || complete {
			return StatusReady, err
		}
		return StatusIncomplete, nil
	case readOnly:
		if !found {
			return StatusNew, nil
		}
		return StatusSchemaChanged, nil
	}
	empty, err := ix.isEmpty()
	if err != nil {
		return 0, err
	}
	if err := ix.wipe(); err != nil {
		return 0, err
	}
	if empty {
		return StatusNew, nil
	}
	ix.log.Info("index schema changed, wiped it", "wantSchema", SchemaVersion)
	return StatusSchemaChanged, nil
}

// wipe drops every key and writes the schema version, leaving an index without the complete
// marker.
func (ix *Index) wipe() error {
	if err := ix.db.DropAll(); err != nil {
		return fmt.Errorf("failed to wipe index: %w", err)
	}
	ix.pending = map[string]bool{}
	ix.objects = newKeyFilter(0)
	ix.records.reset()
	ix.states.reset()
	return ix.db.Update(func(txn *badger.Txn) error {
		return txn.Set(metaKey(metaSchema), binary.BigEndian.AppendUint32(nil, SchemaVersion))
	})
}

func (ix *Index) readMeta(name string) ([]byte, bool, error) {
	var val []byte
	err := ix.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaKey(name))
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("failed to read index meta %s: %w", name, err)
	}
	return val, true, nil
}

func (ix *Index) isEmpty() (bool, error) {
	empty := true
	err := ix.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		it.Rewind()
		empty = !it.Valid()
		return nil
	})
	return empty, err
}

// removeEmptyMemtables deletes the zero-length memtable logs (*.mem) of dir. Badger deletes
// the log of a flushed memtable by truncating it to zero, closing and then removing it; a
// process killed between the truncate and the remove leaves an empty log, which holds nothing
// (its memtable is in a table already) but on which badger.Open fails with "Create a new
// file". The crash test kills writers often enough to land there.
func removeEmptyMemtables(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to read index directory %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || filepath.Ext(e.Name()) != ".mem" {
			continue
		}
		info, err := e.Info()
		if err != nil || info.Size() != 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("failed to remove empty memtable log %s: %w", e.Name(), err)
		}
	}
	return nil
}
