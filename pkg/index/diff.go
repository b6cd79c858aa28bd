package index

import (
	"bytes"
	"context"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// DiffOptions tune Diff.
type DiffOptions struct {
	// IncludePending compares pending records and their entries too. Off for `pruneguard
	// index verify`, whose fresh index comes from a list that has no admissions in flight.
	IncludePending bool
	// Name and OtherName label the two sides in the output; default "index" and "fresh".
	Name, OtherName string
	// MaxLines caps the lines returned (0: no cap); a last line says how many were left out.
	MaxLines int
}

// Diff compares the index with other key by key and returns the differences as lines for
// people, empty when the two agree. It is what `pruneguard index verify` prints after building
// other from a fresh full list. Records are compared by content: Since (when a reference was
// first seen) and resource versions differ between any two indexes built at different times
// and are ignored; metadata keys (schema, complete marker) are not compared. Counters are
// compared by value, index entries by presence. Memory stays bounded: it is a merge of two
// sorted key scans.
func (ix *Index) Diff(ctx context.Context, other *Index, opts DiffOptions) ([]string, error) {
	if opts.Name == "" {
		opts.Name = "index"
	}
	if opts.OtherName == "" {
		opts.OtherName = "fresh"
	}
	d := &differ{opts: opts}
	err := ix.db.View(func(ta *badger.Txn) error {
		return other.db.View(func(tb *badger.Txn) error {
			a := ta.NewIterator(badger.IteratorOptions{})
			defer a.Close()
			b := tb.NewIterator(badger.IteratorOptions{})
			defer b.Close()
			return d.merge(ctx, a, b)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("failed to compare indexes: %w", err)
	}
	if d.dropped > 0 {
		d.lines = append(d.lines, fmt.Sprintf("... and %d more differences", d.dropped))
	}
	return d.lines, nil
}

type differ struct {
	opts    DiffOptions
	lines   []string
	dropped int
}

func (d *differ) add(line string) {
	if d.opts.MaxLines > 0 && len(d.lines) >= d.opts.MaxLines {
		d.dropped++
		return
	}
	d.lines = append(d.lines, line)
}

func (d *differ) merge(ctx context.Context, a, b *badger.Iterator) error {
	a.Rewind()
	b.Rewind()
	d.skip(a)
	d.skip(b)
	for a.Valid() || b.Valid() {
		if err := ctx.Err(); err != nil {
			return err
		}
		cmp := 0
		switch {
		case !a.Valid():
			cmp = 1
		case !b.Valid():
			cmp = -1
		default:
			cmp = bytes.Compare(a.Item().Key(), b.Item().Key())
		}
		switch {
		case cmp < 0:
			d.add(describeKey(a.Item().Key()) + ": only in " + d.opts.Name)
			a.Next()
		case cmp > 0:
			d.add(describeKey(b.Item().Key()) + ": only in " + d.opts.OtherName)
			b.Next()
		default:
			if err := d.compareValues(a.Item(), b.Item()); err != nil {
				return err
			}
			a.Next()
			b.Next()
		}
		d.skip(a)
		d.skip(b)
	}
	return nil
}

// skip advances past keys Diff does not compare.
func (d *differ) skip(it *badger.Iterator) {
	for ; it.Valid(); it.Next() {
		k := it.Item().Key()
		switch k[0] {
		case prefixMeta, prefixWatermark:
			// Metadata and the tracker's resume points are not derived from the cluster.
			continue
		case prefixPending, prefixExpiry:
			if !d.opts.IncludePending {
				continue
			}
		case prefixRefDigest, prefixRefTag:
			if p, err := parseKey(k); !d.opts.IncludePending && err == nil && p.State == statePending {
				continue
			}
		}
		return
	}
}

func (d *differ) compareValues(a, b *badger.Item) error {
	va, err := a.ValueCopy(nil)
	if err != nil {
		return err
	}
	vb, err := b.ValueCopy(nil)
	if err != nil {
		return err
	}
	if bytes.Equal(va, vb) {
		return nil
	}
	p, err := parseKey(a.Key())
	if err != nil {
		d.add(fmt.Sprintf("%x: undecodable key", a.Key()))
		return nil
	}
	diffs, err := recordDiffs(p, va, vb)
	if err != nil {
		d.add(p.String() + ": " + err.Error())
		return nil
	}
	for _, f := range diffs {
		d.add(fmt.Sprintf("%s: %s: %s %s, %s %s", p, f.field, d.opts.Name, f.a, d.opts.OtherName, f.b))
	}
	return nil
}
