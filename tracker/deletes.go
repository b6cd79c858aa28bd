package tracker

import (
	"context"
	"fmt"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// deletes returns the changes that delete what the index holds of the differ's kind and the
// list did not have: referrer objects of the kind, images for Image, streams (and their
// spec-tag referrer) for ImageStream, limit ranges for LimitRange. The index finds limit
// ranges by namespace only, so they are looked for in every namespace the index or the list
// knows of.
func (d *differ) deletes(ctx context.Context) ([]change, error) {
	byKey := map[string]*change{}
	var order []string
	del := func(ns, name string, op index.Op) {
		key := changeKey(d.kind, ns, name)
		c, ok := byKey[key]
		if !ok {
			c = &change{kind: d.kind, key: key}
			byKey[key] = c
			order = append(order, key)
		}
		c.ops = append(c.ops, op)
	}
	err := d.ix.Objects(ctx, func(o model.Object) error {
		d.namespaces[o.Key.Namespace] = true
		if o.Key.Kind == d.kind && !d.present[o.Key.Namespace+"/"+o.Key.Name] {
			del(o.Key.Namespace, o.Key.Name, index.DeleteObject(o.Key))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to read index objects: %w", err)
	}
	if err := d.deleteRecords(ctx, del); err != nil {
		return nil, err
	}
	out := make([]change, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out, nil
}

// deleteRecords finds the images, streams or limit ranges the list did not have.
func (d *differ) deleteRecords(ctx context.Context, del func(ns, name string, op index.Op)) error {
	switch d.kind {
	case model.KindImage:
		err := d.ix.Images(ctx, func(img model.Image) error {
			if !d.present[img.Digest] {
				del("", img.Digest, index.DeleteImage(img.Digest))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("failed to read index images: %w", err)
		}
	case model.KindImageStream:
		err := d.ix.Streams(ctx, "", func(s model.Stream) error {
			if !d.present[s.Namespace+"/"+s.Name] {
				del(s.Namespace, s.Name, index.DeleteStream(s.Namespace, s.Name))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("failed to read index image streams: %w", err)
		}
	case model.KindLimitRange:
		err := d.ix.Streams(ctx, "", func(s model.Stream) error {
			d.namespaces[s.Namespace] = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("failed to read index image streams: %w", err)
		}
		for ns := range d.namespaces {
			have, err := d.limitRanges(ctx, ns)
			if err != nil {
				return err
			}
			for _, l := range have {
				if !d.present[l.Namespace+"/"+l.Name] {
					del(l.Namespace, l.Name, index.DeleteLimitRange(l.Namespace, l.Name))
				}
			}
		}
	}
	return nil
}
