package index

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// PutStream replaces an image stream's record (its status tag histories) and, in the same
// transaction, its stream-item entries and its repository's blob counts.
func PutStream(s model.Stream) Op { return putStream{s: s} }

// DeleteStream removes an image stream with its stream items and repository blob counts.
func DeleteStream(namespace, name string) Op { return deleteStream{ns: namespace, name: name} }

type putStream struct{ s model.Stream }

func (op putStream) String() string { return "put image stream " + op.s.Repo() }

func (op putStream) apply(w *writer) error {
	if err := validateStream(op.s); err != nil {
		return err
	}
	old, _, err := w.loadStream(op.s.Namespace, op.s.Name)
	if err != nil {
		return err
	}
	if err := w.moveStream(old, op.s); err != nil {
		return err
	}
	w.noteStream(op.s.Namespace, op.s.Name)
	return w.set(streamKey(op.s.Namespace, op.s.Name), encodeStream(op.s))
}

type deleteStream struct{ ns, name string }

func (op deleteStream) String() string { return "delete image stream " + op.ns + "/" + op.name }

func (op deleteStream) apply(w *writer) error {
	if tooLong(op.ns, op.name) {
		return nil
	}
	old, had, err := w.loadStream(op.ns, op.name)
	if err != nil || !had {
		return err
	}
	if err := w.moveStream(old, model.Stream{Namespace: op.ns, Name: op.name}); err != nil {
		return err
	}
	w.noteStream(op.ns, op.name)
	return w.del(streamKey(op.ns, op.name))
}

// moveStream replaces old's stream-item entries and repository counts with next's.
func (w *writer) moveStream(old, next model.Stream) error {
	repo := next.Repo()
	if err := w.replaceEntries(streamItemEntries(old), streamItemEntries(next)); err != nil {
		return err
	}
	if err := w.replaceEntries(itemCreatedEntries(old), itemCreatedEntries(next)); err != nil {
		return err
	}
	return w.moveRepoImages(repo, streamImages(old), streamImages(next))
}

func validateStream(s model.Stream) error {
	values := []string{s.Namespace, s.Name, s.Repo()}
	for _, t := range s.Tags {
		if len(t.Items) > math.MaxUint32 {
			return fmt.Errorf("image stream %s tag %s has too many items: %w", s.Repo(), t.Name, ErrInvalidKey)
		}
		values = append(values, t.Name)
		for _, it := range t.Items {
			values = append(values, it.Image)
		}
	}
	return checkKeyStrings("image stream "+s.Repo(), values...)
}

func (w *writer) loadStream(ns, name string) (model.Stream, bool, error) {
	val, found, err := w.get(streamKey(ns, name))
	if err != nil || !found {
		return model.Stream{Namespace: ns, Name: name}, false, err
	}
	s, err := decodeStream(ns, name, val)
	return s, err == nil, err
}

// streamItemEntries lists an entry per status item that names an image.
func streamItemEntries(s model.Stream) [][]byte {
	var keys [][]byte
	for _, t := range s.Tags {
		for pos, it := range t.Items {
			if it.Image != "" {
				keys = append(keys, streamItemKey(it.Image, s.Repo(), t.Name, uint32(pos)))
			}
		}
	}
	return keys
}

// itemCreatedEntries lists an entry per distinct creation time of s's status items.
func itemCreatedEntries(s model.Stream) [][]byte {
	seen := map[uint64]bool{}
	var keys [][]byte
	for _, t := range s.Tags {
		for _, it := range t.Items {
			if at := timeNanos(it.Created); !seen[at] {
				seen[at] = true
				keys = append(keys, itemCreatedKey(at, s.Namespace, s.Name))
			}
		}
	}
	return keys
}

// streamImages lists the distinct images a stream's status items hold.
func streamImages(s model.Stream) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range s.Tags {
		for _, it := range t.Items {
			if it.Image != "" && !seen[it.Image] {
				seen[it.Image] = true
				out = append(out, it.Image)
			}
		}
	}
	return out
}

// Stream implements model.Reader.
func (ix *Index) Stream(ctx context.Context, namespace, name string) (model.Stream, bool, error) {
	if tooLong(namespace, name) {
		return model.Stream{}, false, nil
	}
	var s model.Stream
	found := false
	err := ix.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(streamKey(namespace, name))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return item.Value(func(v []byte) error {
			s, err = decodeStream(namespace, name, v)
			return err
		})
	})
	if err != nil {
		return model.Stream{}, false, fmt.Errorf("failed to read image stream %s/%s: %w", namespace, name, err)
	}
	return s, found, nil
}

// Streams implements model.Reader: the streams of one namespace, or of all when namespace
// is "", in key order and one read snapshot.
func (ix *Index) Streams(ctx context.Context, namespace string, fn func(model.Stream) error) error {
	prefix := []byte{prefixStream}
	if namespace != "" {
		if tooLong(namespace) {
			return nil
		}
		prefix = streamNamespacePrefix(namespace)
	}
	return ix.scanValues(ctx, prefix, func(key, val []byte) error {
		p, err := parseKey(key)
		if err != nil {
			return err
		}
		s, err := decodeStream(p.NS, p.Name, val)
		if err != nil {
			return err
		}
		return fn(s)
	})
}

// StreamItemsOfImage implements model.Reader: the status items naming image, in any stream
// when repo is "", else in stream repo only. Items are ordered by repository, tag and position.
func (ix *Index) StreamItemsOfImage(ctx context.Context, repo, image string) ([]model.StreamItem, error) {
	if tooLong(repo, image) {
		return nil, nil
	}
	prefix := streamItemPrefix(image)
	if repo != "" {
		prefix = streamItemRepoPrefix(image, repo)
	}
	var out []model.StreamItem
	err := ix.scanKeys(ctx, prefix, func(p parsedKey) error {
		out = append(out, model.StreamItem{Repo: p.Repo, Tag: p.Tag, Position: int(p.Pos)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list stream items of image %s: %w", image, err)
	}
	return out, nil
}
