package index

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// PutImage replaces the record of an image and, in the same transaction, its blob entries,
// the global blob counts, and the per-repository blob counts of every stream whose status
// items hold it.
func PutImage(img model.Image) Op { return putImage{img: img} }

// DeleteImage removes an image record and its contribution to every blob count.
func DeleteImage(digest string) Op { return deleteImage{digest: digest} }

type putImage struct{ img model.Image }

func (op putImage) String() string { return "put image " + op.img.Digest }

func (op putImage) apply(w *writer) error {
	if err := validateImage(op.img); err != nil {
		return err
	}
	old, had, err := w.loadImage(op.img.Digest)
	if err != nil {
		return err
	}
	if err := w.moveImageBlobs(op.img.Digest, imageBlobs(old), imageBlobs(op.img)); err != nil {
		return err
	}
	if !had || timeNanos(old.Created) != timeNanos(op.img.Created) {
		if err := w.moveImageCreated(op.img.Digest, old.Created, had, op.img.Created, true); err != nil {
			return err
		}
	}
	w.noteImage(op.img.Digest)
	return w.set(imageKey(op.img.Digest), encodeImage(op.img))
}

// moveImageCreated moves image's creation-order entry from old (when had) to next (when has).
func (w *writer) moveImageCreated(digest string, old time.Time, had bool, next time.Time, has bool) error {
	if had {
		if err := w.del(imageCreatedKey(timeNanos(old), digest)); err != nil {
			return err
		}
	}
	if has {
		return w.set(imageCreatedKey(timeNanos(next), digest), nil)
	}
	return nil
}

type deleteImage struct{ digest string }

func (op deleteImage) String() string { return "delete image " + op.digest }

func (op deleteImage) apply(w *writer) error {
	if tooLong(op.digest) {
		return nil
	}
	old, had, err := w.loadImage(op.digest)
	if err != nil || !had {
		return err
	}
	if err := w.moveImageBlobs(op.digest, imageBlobs(old), nil); err != nil {
		return err
	}
	if err := w.moveImageCreated(op.digest, old.Created, true, time.Time{}, false); err != nil {
		return err
	}
	w.noteImage(op.digest)
	return w.del(imageKey(op.digest))
}

func validateImage(img model.Image) error {
	values := []string{img.Digest, img.Config}
	for _, l := range img.Layers {
		values = append(values, l.Digest)
	}
	values = append(values, img.Children...)
	if img.Digest == "" {
		return fmt.Errorf("image without digest: %w", ErrInvalidKey)
	}
	return checkKeyStrings("image "+img.Digest, values...)
}

func (w *writer) loadImage(digest string) (model.Image, bool, error) {
	val, found, err := w.get(imageKey(digest))
	if err != nil || !found {
		return model.Image{}, false, err
	}
	img, err := decodeImage(digest, val)
	return img, err == nil, err
}

// imageBlobs is the set of blobs an image uses for counting: its layers and its config,
// each once however often it repeats (empty layers do repeat).
func imageBlobs(img model.Image) []string {
	seen := make(map[string]bool, len(img.Layers)+1)
	out := make([]string, 0, len(img.Layers)+1)
	add := func(d string) {
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, l := range img.Layers {
		add(l.Digest)
	}
	add(img.Config)
	return out
}

// Image implements model.Reader.
func (ix *Index) Image(ctx context.Context, digest string) (model.Image, bool, error) {
	if tooLong(digest) {
		return model.Image{}, false, nil
	}
	var img model.Image
	found := false
	err := ix.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(imageKey(digest))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return item.Value(func(v []byte) error {
			img, err = decodeImage(digest, v)
			return err
		})
	})
	if err != nil {
		return model.Image{}, false, fmt.Errorf("failed to read image %s: %w", digest, err)
	}
	return img, found, nil
}

// Images implements model.Reader: every image in digest-key order, in one read snapshot.
func (ix *Index) Images(ctx context.Context, fn func(model.Image) error) error {
	return ix.scanValues(ctx, []byte{prefixImage}, func(key, val []byte) error {
		p, err := parseKey(key)
		if err != nil {
			return err
		}
		img, err := decodeImage(p.Digest, val)
		if err != nil {
			return err
		}
		return fn(img)
	})
}

// PutLimitRange replaces the openshift.io/Image limit of one LimitRange object.
func PutLimitRange(l model.LimitRange) Op { return putLimitRange{l: l} }

// DeleteLimitRange removes a LimitRange object's limit.
func DeleteLimitRange(namespace, name string) Op {
	return deleteLimitRange{ns: namespace, name: name}
}

type putLimitRange struct{ l model.LimitRange }

func (op putLimitRange) String() string {
	return "put limit range " + op.l.Namespace + "/" + op.l.Name
}

func (op putLimitRange) apply(w *writer) error {
	if err := checkKeyStrings(op.String(), op.l.Namespace, op.l.Name); err != nil {
		return err
	}
	w.noteLimitRange(op.l.Namespace)
	return w.set(limitRangeKey(op.l.Namespace, op.l.Name), encodeLimitRange(op.l))
}

type deleteLimitRange struct{ ns, name string }

func (op deleteLimitRange) String() string { return "delete limit range " + op.ns + "/" + op.name }

func (op deleteLimitRange) apply(w *writer) error {
	if tooLong(op.ns, op.name) {
		return nil
	}
	key := limitRangeKey(op.ns, op.name)
	if w.track {
		// Only a limit range that existed changes its namespace; the read is made only when
		// someone listens.
		if _, found, err := w.get(key); err != nil || !found {
			return err
		}
		w.noteLimitRange(op.ns)
	}
	return w.del(key)
}

// LimitRanges implements model.Reader: the limits of one namespace, by name.
func (ix *Index) LimitRanges(ctx context.Context, namespace string) ([]model.LimitRange, error) {
	if tooLong(namespace) {
		return nil, nil
	}
	var out []model.LimitRange
	err := ix.scanValues(ctx, limitRangeNamespacePrefix(namespace), func(key, val []byte) error {
		p, err := parseKey(key)
		if err != nil {
			return err
		}
		l, err := decodeLimitRange(p.NS, p.Name, val)
		out = append(out, l)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("failed to read limit ranges of namespace %s: %w", namespace, err)
	}
	return out, nil
}

// AllLimitRanges calls fn for every limit range of every namespace, in namespace and name
// order, in one read snapshot: what a relist compares with the full list of LimitRanges to
// find the deleted ones. (The planner reads one namespace at a time, with LimitRanges.)
func (ix *Index) AllLimitRanges(ctx context.Context, fn func(model.LimitRange) error) error {
	return ix.scanValues(ctx, []byte{prefixLimitRange}, func(key, val []byte) error {
		p, err := parseKey(key)
		if err != nil {
			return err
		}
		l, err := decodeLimitRange(p.NS, p.Name, val)
		if err != nil {
			return err
		}
		return fn(l)
	})
}
