package index

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Blob counts answer "how many images still use blob B?", globally and per repository, in
// one read. They are kept incrementally by the image and stream ops, which share these
// invariants (checked by Check and `pruneguard index verify`):
//
//	count(B)    = number of image records whose layers or config include B
//	count(R, B) = number of distinct images D held by a status item of stream R such that
//	              D has an image record whose layers or config include B
//
// An image written before the streams holding it, or after them, ends up counted the same.

// moveImageBlobs changes the blobs of image from old to new: blob entries, global counts, and
// the counts of every repository holding the image.
func (w *writer) moveImageBlobs(image string, old, new []string) error {
	added, removed := setDiff(old, new)
	if len(added)+len(removed) == 0 {
		return nil
	}
	var oldKeys, newKeys [][]byte
	for _, b := range old {
		oldKeys = append(oldKeys, blobImageKey(b, image))
	}
	for _, b := range new {
		newKeys = append(newKeys, blobImageKey(b, image))
	}
	if err := w.replaceEntries(oldKeys, newKeys); err != nil {
		return err
	}
	repos, err := w.reposHolding(image)
	if err != nil {
		return err
	}
	for _, delta := range []struct {
		blobs []string
		by    int64
	}{{added, 1}, {removed, -1}} {
		for _, b := range delta.blobs {
			if err := w.addCount(blobCountKey(b), delta.by); err != nil {
				return err
			}
			for _, repo := range repos {
				if err := w.addCount(repoBlobCountKey(repo, b), delta.by); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// reposHolding lists the repositories with a status item naming image, each once.
func (w *writer) reposHolding(image string) ([]string, error) {
	keys, err := w.scanKeys(streamItemPrefix(image))
	if err != nil {
		return nil, err
	}
	var repos []string
	for _, k := range keys {
		p, err := parseKey(k)
		if err != nil {
			return nil, err
		}
		if len(repos) == 0 || repos[len(repos)-1] != p.Repo { // keys are sorted by repo
			repos = append(repos, p.Repo)
		}
	}
	return repos, nil
}

// moveRepoImages changes the distinct images held by repo from old to new, adjusting the
// repository's blob counts by the blobs of each image that has a record.
func (w *writer) moveRepoImages(repo string, old, new []string) error {
	added, removed := setDiff(old, new)
	for _, delta := range []struct {
		images []string
		by     int64
	}{{added, 1}, {removed, -1}} {
		for _, d := range delta.images {
			img, found, err := w.loadImage(d)
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			for _, b := range imageBlobs(img) {
				if err := w.addCount(repoBlobCountKey(repo, b), delta.by); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// setDiff returns what new has and old lacks, and what old has and new lacks.
func setDiff(old, new []string) (added, removed []string) {
	inOld := make(map[string]bool, len(old))
	for _, s := range old {
		inOld[s] = true
	}
	inNew := make(map[string]bool, len(new))
	for _, s := range new {
		inNew[s] = true
		if !inOld[s] {
			added = append(added, s)
		}
	}
	for _, s := range old {
		if !inNew[s] {
			removed = append(removed, s)
		}
	}
	return added, removed
}

// BlobCount returns how many images use blob as a layer or config: in the whole index when
// repo is "", else among the distinct images held by the status items of stream repo
// ("ns/name"). The pruner deletes a blob when its global count reaches zero and a layer link
// when its count in the repository does.
func (ix *Index) BlobCount(ctx context.Context, repo, blob string) (int, error) {
	if tooLong(repo, blob) {
		return 0, nil
	}
	key := blobCountKey(blob)
	if repo != "" {
		key = repoBlobCountKey(repo, blob)
	}
	var n uint64
	err := ix.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			n, err = decodeCount(v)
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("failed to read count of blob %s in %q: %w", blob, repo, err)
	}
	return int(n), nil
}

// BlobImages returns the digests of the images using blob, in key order: the images a fence
// on blob must cover.
func (ix *Index) BlobImages(ctx context.Context, blob string) ([]string, error) {
	if tooLong(blob) {
		return nil, nil
	}
	var out []string
	err := ix.scanKeys(ctx, blobImagePrefix(blob), func(p parsedKey) error {
		out = append(out, p.Digest)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list images of blob %s: %w", blob, err)
	}
	return out, nil
}

// scanKeys calls fn with each parsed key under prefix, without reading values.
func (ix *Index) scanKeys(ctx context.Context, prefix []byte, fn func(parsedKey) error) error {
	return ix.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			p, err := parseKey(it.Item().Key())
			if err != nil {
				return err
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		return nil
	})
}
