package index

import (
	"context"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Rebuild fills an emptied index from a full list of the cluster, through Badger's WriteBatch
// (no reads, no per-object transactions; a batch that outgrows a transaction is committed and
// continued by WriteBatch itself). Until Finish returns, the index has no complete marker, so a
// process that dies mid-rebuild reopens with StatusIncomplete and rebuilds again; Apply
// returns ErrRebuilding meanwhile. Put each object, image, stream and limit range once: the
// batch does not look for an earlier version to replace.
type Rebuild struct {
	ix  *Index
	wb  *badger.WriteBatch
	now time.Time
	n   int
	// gen is the objectStates generation of everything the rebuild writes, published by
	// Finish.
	gen uint64
}

// BeginRebuild wipes the index and starts a rebuild. Pending records are wiped too: the full
// list that follows contains every object whose admission had completed.
func (ix *Index) BeginRebuild(ctx context.Context) (*Rebuild, error) {
	if !ix.rebuilding.CompareAndSwap(false, true) {
		return nil, ErrRebuilding
	}
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if err := ix.wipe(); err != nil {
		ix.rebuilding.Store(false)
		return nil, err
	}
	ix.log.Info("index rebuild started")
	return &Rebuild{ix: ix, wb: ix.db.NewWriteBatch(), now: ix.now(), gen: ix.states.begin()}, nil
}

// PutObject adds a confirmed referrer.
func (r *Rebuild) PutObject(o model.Object) error {
	if err := validateObject(o); err != nil {
		return err
	}
	rec := storedObject{Object: o, Since: r.now}
	key := objectKey(o.Key)
	r.ix.wmu.Lock()
	r.ix.objects.add(key)
	r.ix.wmu.Unlock()
	return r.record(o.Key.String(), key, encodeObject(rec), refEntries(stateConfirmed, &rec)...)
}

// PutPending adds a pending record (Check copies pending state this way).
func (r *Rebuild) PutPending(p PendingObject) error {
	if err := validateObject(p.Object); err != nil {
		return err
	}
	rec := storedObject{Object: p.Object, Since: p.Since, Expires: p.Expires}
	entries := append(refEntries(statePending, &rec), write{key: expiryKey(timeNanos(p.Expires), p.Object.Key)})
	r.ix.wmu.Lock()
	r.ix.pending[string(appendObjKey(nil, p.Object.Key))] = true
	r.ix.wmu.Unlock()
	return r.record(p.Object.Key.String(), pendingKey(p.Object.Key), encodeObject(rec), entries...)
}

// PutImage adds an image and its blob entries; counts are computed by Finish.
func (r *Rebuild) PutImage(img model.Image) error {
	if err := validateImage(img); err != nil {
		return err
	}
	entries := []write{{key: imageCreatedKey(timeNanos(img.Created), img.Digest)}}
	for _, b := range imageBlobs(img) {
		entries = append(entries, write{key: blobImageKey(b, img.Digest)})
	}
	return r.record("image "+img.Digest, imageKey(img.Digest), encodeImage(img), entries...)
}

// PutStream adds an image stream and its stream items; counts are computed by Finish.
func (r *Rebuild) PutStream(s model.Stream) error {
	if err := validateStream(s); err != nil {
		return err
	}
	var entries []write
	for _, k := range append(streamItemEntries(s), itemCreatedEntries(s)...) {
		entries = append(entries, write{key: k})
	}
	return r.record("image stream "+s.Repo(), streamKey(s.Namespace, s.Name), encodeStream(s), entries...)
}

// PutLimitRange adds a limit range.
func (r *Rebuild) PutLimitRange(l model.LimitRange) error {
	if err := checkKeyStrings("limit range "+l.Namespace+"/"+l.Name, l.Namespace, l.Name); err != nil {
		return err
	}
	return r.record("limit range", limitRangeKey(l.Namespace, l.Name), encodeLimitRange(l))
}

func (r *Rebuild) record(what string, key, val []byte, entries ...write) error {
	// WriteBatch commits as it goes: the state is staged before the record can be visible.
	r.ix.states.stage([]write{{key: key, val: val}}, r.gen)
	if err := r.wb.Set(key, val); err != nil {
		return fmt.Errorf("failed to write %s during rebuild: %w", what, err)
	}
	for _, e := range entries {
		if err := r.wb.Set(e.key, e.val); err != nil {
			return fmt.Errorf("failed to write %s during rebuild: %w", what, err)
		}
	}
	r.n++
	return nil
}

// Abort stops the rebuild; the index stays incomplete until the next rebuild finishes.
func (r *Rebuild) Abort() {
	r.wb.Cancel()
	// Some of what was staged may never have been written.
	if err := r.ix.states.reload(r.ix.db); err != nil {
		r.ix.log.Error(err, "lookups read object records until the index is reopened")
	}
	r.ix.rebuilding.Store(false)
}

// Finish flushes the batch, computes the blob counts, compacts the tables, and marks the
// index complete.
func (r *Rebuild) Finish(ctx context.Context) error {
	defer r.ix.rebuilding.Store(false)
	if err := r.wb.Flush(); err != nil {
		return fmt.Errorf("failed to flush rebuild: %w", err)
	}
	r.ix.states.publish(r.gen)
	// A Temporary index merges what the rebuild wrote before counting, so that the count's
	// reads (a scan of every blob entry and a read of every stream's images) meet one level
	// instead of every level-0 table; the counts themselves stay in a few small level-0
	// tables. A durable index counts first and flattens everything after.
	if r.ix.opts.Temporary {
		if err := r.ix.mergeTemporary(); err != nil {
			return err
		}
	}
	if err := r.ix.recount(ctx); err != nil {
		return fmt.Errorf("failed to count blobs after rebuild: %w", err)
	}
	// A rebuild lands as a pile of overlapping level-0 tables that every read would consult
	// until background compaction catches up; compact them now, before serving lookups.
	if !r.ix.opts.Temporary {
		if err := r.ix.db.Flatten(numCompactors); err != nil {
			return fmt.Errorf("failed to compact index after rebuild: %w", err)
		}
	}
	err := r.ix.db.Update(func(txn *badger.Txn) error {
		return txn.Set(metaKey(metaComplete), encodeCount(uint64(r.now.Unix())))
	})
	if err != nil {
		return fmt.Errorf("failed to mark rebuild complete: %w", err)
	}
	r.ix.log.Info("index rebuild finished", "records", r.n)
	return r.ix.reportRebuild(ctx)
}

// recount writes every blob count from the blob and stream-item entries, in bounded memory:
// global counts from runs of b keys (sorted by blob), repository counts one stream at a time.
func (ix *Index) recount(ctx context.Context) error {
	wb := ix.db.NewWriteBatch()
	defer wb.Cancel()
	var blob string
	var n uint64
	flush := func() error {
		if n == 0 {
			return nil
		}
		return wb.Set(blobCountKey(blob), encodeCount(n))
	}
	err := ix.scanKeys(ctx, []byte{prefixBlobImage}, func(p parsedKey) error {
		if p.Blob != blob {
			if err := flush(); err != nil {
				return err
			}
			blob, n = p.Blob, 0
		}
		n++
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = ix.Streams(ctx, "", func(s model.Stream) error { return ix.recountRepo(wb, s) })
	}
	if err != nil {
		return err
	}
	return wb.Flush()
}

func (ix *Index) recountRepo(wb *badger.WriteBatch, s model.Stream) error {
	counts := map[string]uint64{}
	for _, d := range streamImages(s) {
		img, found, err := ix.Image(context.Background(), d)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		for _, b := range imageBlobs(img) {
			counts[b]++
		}
	}
	for b, n := range counts {
		if err := wb.Set(repoBlobCountKey(s.Repo(), b), encodeCount(n)); err != nil {
			return err
		}
	}
	return nil
}
