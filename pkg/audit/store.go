package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/go-logr/logr"
)

// TrailDirName is the trail's directory under serve's --data-dir. Badger only touches its own
// files (*.sst, *.vlog, MANIFEST, ...), so the trail can live inside the index directory and
// share its volume; trail_test.go proves that a rebuild of the index leaves it intact.
const TrailDirName = "audit-trail"

// TrailDir returns the trail directory of a data directory.
func TrailDir(dataDir string) string { return filepath.Join(dataDir, TrailDirName) }

// Key layout of the trail database:
//
//	str     uint16 big-endian length, then the bytes
//	u64     fixed-width big-endian
const (
	// KEY: h str(image digest) u64(time unix nanoseconds) u64(seq) -> JSON Record. The
	// history of an image in time order: one prefix scan per `pruneguard history`.
	prefixHistory byte = 'h'
	// KEY: a u64(time unix nanoseconds) u64(seq) str(image digest) -> no value. Every record
	// in time order, so that Expire finds the old ones without reading the others.
	prefixAge byte = 'a'
	// cursorLen is the length of the time and seq part of a history key, which is what a
	// cursor names.
	cursorLen = 16
)

// valueThreshold must stay below 15% of the memtable size (Badger's batch limit).
const valueThreshold = 64 << 10

// TrailOptions configure OpenTrail.
type TrailOptions struct {
	// Dir is the Badger directory; it is created when missing.
	Dir string
	// ReadOnly opens an existing trail for reading (`pruneguard history --data-dir`). Badger
	// then needs the directory not to be open by a running serve.
	ReadOnly bool
	Logger   logr.Logger
}

// Trail is the audit trail store: a small Badger database of Records, separate from the
// index because the index is a cache that a rebuild wipes and the trail is not. It is safe
// for concurrent use.
type Trail struct {
	db  *badger.DB
	seq atomic.Uint64
}

// OpenTrail opens or creates the trail in o.Dir.
func OpenTrail(o TrailOptions) (*Trail, error) {
	if o.Dir == "" {
		return nil, errors.New("audit trail directory is required")
	}
	opts := badger.DefaultOptions(o.Dir)
	opts = opts.WithLogger(badgerLogger{o.Logger})
	opts = opts.WithNumVersionsToKeep(1)
	// Records are a few hundred bytes and arrive at most a few per second: small memtables
	// keep the trail's memory far below the index's. Records stay in the LSM tree up to
	// valueThreshold; only those naming hundreds of referrers go to the value log, which
	// RunRetention garbage-collects after expiring records.
	opts = opts.WithMemTableSize(4 << 20)
	opts = opts.WithValueThreshold(valueThreshold)
	opts = opts.WithNumMemtables(2)
	opts = opts.WithValueLogFileSize(16 << 20)
	opts = opts.WithCompression(options.None)
	opts = opts.WithBlockCacheSize(0)
	opts = opts.WithMetricsEnabled(false)
	// As for the index: a killed process keeps committed records; only a power loss can drop
	// the newest ones, which were also logged and sent as Events.
	opts = opts.WithSyncWrites(false)
	opts = opts.WithReadOnly(o.ReadOnly)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("failed to open the audit trail in %s: %w", o.Dir, err)
	}
	t := &Trail{db: db}
	// Records written in the same nanosecond stay distinct and ordered by the sequence,
	// which starts above anything an earlier process can have used.
	t.seq.Store(uint64(time.Now().UnixNano()))
	return t, nil
}

// Close closes the trail.
func (t *Trail) Close() error {
	if err := t.db.Close(); err != nil {
		return fmt.Errorf("failed to close the audit trail: %w", err)
	}
	return nil
}

func appendKeyStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func historyPrefix(image string) []byte { return appendKeyStr([]byte{prefixHistory}, image) }

// maxImageKey bounds the digest stored in keys (the uint16 length and Badger's key limit).
const maxImageKey = 1024

// Append stores rec. It fails for an invalid record (ErrInvalidRecord).
func (t *Trail) Append(ctx context.Context, rec Record) error {
	if err := rec.validate(); err != nil {
		return err
	}
	if len(rec.Image) > maxImageKey {
		return fmt.Errorf("record of image %.64s...: digest too long: %w", rec.Image, ErrInvalidRecord)
	}
	val, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("failed to encode the audit record of image %s: %w", rec.Image, err)
	}
	stamp := binary.BigEndian.AppendUint64(nil, uint64(rec.Time.UnixNano()))
	stamp = binary.BigEndian.AppendUint64(stamp, t.seq.Add(1))
	err = t.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(append(historyPrefix(rec.Image), stamp...), val); err != nil {
			return err
		}
		return txn.Set(appendKeyStr(append([]byte{prefixAge}, stamp...), rec.Image), nil)
	})
	if err != nil {
		return fmt.Errorf("failed to store the audit record of image %s: %w", rec.Image, err)
	}
	return nil
}

// Records implements TrailReader: the records of image after cursor ("" from the first), in
// time order, that keep accepts (nil accepts all), at most limit of them when limit > 0. The
// returned cursor is set when more records may follow.
func (t *Trail) Records(ctx context.Context, image, cursor string, limit int, keep func(Record) bool) ([]Record, string, error) {
	prefix := historyPrefix(image)
	start := prefix
	if cursor != "" {
		c, err := hex.DecodeString(cursor)
		if err != nil || len(c) != cursorLen {
			return nil, "", fmt.Errorf("history cursor %q is not one this server issued: %w", cursor, ErrInvalidArgument)
		}
		start = append(append([]byte(nil), prefix...), c...)
	}
	out := []Record{}
	next := ""
	err := t.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Seek(start); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			key := it.Item().Key()
			if cursor != "" && bytes.Equal(key, start) {
				continue
			}
			var rec Record
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &rec) }); err != nil {
				return fmt.Errorf("corrupt audit record %x: %w", key, err)
			}
			if keep != nil && !keep(rec) {
				continue
			}
			if limit > 0 && len(out) == limit {
				return nil
			}
			out = append(out, rec)
			next = hex.EncodeToString(key[len(prefix):])
		}
		next = ""
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("failed to read the audit trail of image %s: %w", image, err)
	}
	return out, next, nil
}

// expireBatch bounds the records removed per transaction by Expire.
const expireBatch = 1000

// Expire removes the records older than before and returns how many it removed.
func (t *Trail) Expire(ctx context.Context, before time.Time) (int, error) {
	limit := binary.BigEndian.AppendUint64([]byte{prefixAge}, uint64(max(before.UnixNano(), 0)))
	total := 0
	for {
		var keys [][]byte
		err := t.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixAge}})
			defer it.Close()
			for it.Rewind(); it.Valid() && len(keys) < expireBatch; it.Next() {
				k := it.Item().KeyCopy(nil)
				if bytes.Compare(k[:1+8], limit) >= 0 {
					break
				}
				keys = append(keys, k)
			}
			return nil
		})
		if err == nil && len(keys) > 0 {
			err = t.db.Update(func(txn *badger.Txn) error { return deleteAged(txn, keys) })
		}
		if err != nil {
			return total, fmt.Errorf("failed to expire audit records: %w", err)
		}
		total += len(keys)
		if len(keys) < expireBatch || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// deleteAged deletes age keys and the history records they point at.
func deleteAged(txn *badger.Txn, keys [][]byte) error {
	for _, k := range keys {
		stamp, rest := k[1:1+cursorLen], k[1+cursorLen:]
		if len(rest) < 2 {
			return fmt.Errorf("corrupt audit age key %x", k)
		}
		image := string(rest[2:])
		if err := txn.Delete(append(historyPrefix(image), stamp...)); err != nil {
			return err
		}
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// RunRetention removes records older than maxAge every interval until ctx is done.
func (t *Trail) RunRetention(ctx context.Context, maxAge, interval time.Duration, log logr.Logger) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		n, err := t.Expire(ctx, time.Now().Add(-maxAge))
		if err != nil && ctx.Err() == nil {
			log.Error(err, "audit trail retention failed")
		} else if n > 0 {
			log.V(1).Info("expired audit records", "count", n)
			t.collectGarbage()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// collectGarbage rewrites value-log files that are at least half garbage, until none is.
func (t *Trail) collectGarbage() {
	for t.db.RunValueLogGC(0.5) == nil {
	}
}

// badgerLogger sends Badger's messages to logr: errors as errors, warnings as info, the rest
// at debug verbosity.
type badgerLogger struct{ log logr.Logger }

func (l badgerLogger) Errorf(f string, a ...any) {
	l.log.Error(fmt.Errorf(f, a...), "badger error", "db", "audit-trail")
}
func (l badgerLogger) Warningf(f string, a ...any) {
	l.log.Info("badger warning", "db", "audit-trail", "message", fmt.Sprintf(f, a...))
}
func (l badgerLogger) Infof(f string, a ...any) {
	l.log.V(1).Info("badger", "db", "audit-trail", "message", fmt.Sprintf(f, a...))
}
func (l badgerLogger) Debugf(f string, a ...any) {
	l.log.V(2).Info("badger", "db", "audit-trail", "message", fmt.Sprintf(f, a...))
}
