package tracker

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/extract"
	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// startUp brings the index in line with the synced cache: a rebuild through a write batch
// when the index needs one (new, other schema, unfinished rebuild), otherwise a catch-up that
// writes only the differences. Index objects of unserved kinds are removed: the cluster has
// none of them.
func (t *Tracker) startUp(ctx context.Context, served, unserved []Kind) error {
	if !t.o.Index.Status().NeedsRebuild() {
		return t.catchUp(ctx, served, unserved)
	}
	start := time.Now()
	t.o.Logger.Info("building the index from the cluster", "reason", t.o.Index.Status().String())
	rb, err := t.o.Index.BeginRebuild(ctx)
	if err != nil {
		return fmt.Errorf("failed to start the index rebuild: %w", err)
	}
	n := 0
	for _, k := range served {
		objs, err := t.objects(ctx, k)
		if err != nil {
			rb.Abort()
			return err
		}
		for _, o := range objs {
			res, err := extractObject(k.Name, o)
			if err != nil {
				t.o.Logger.Error(err, "object not indexed")
				continue
			}
			if err := put(res, rb); err != nil {
				rb.Abort()
				return fmt.Errorf("failed to rebuild the index: %w", err)
			}
			n++
		}
	}
	if err := rb.Finish(ctx); err != nil {
		return err
	}
	t.o.Metrics.EventsApplied.Add(float64(n))
	t.o.Logger.Info("index built", "objects", n, "took", time.Since(start).String())
	return nil
}

// present records which objects the cluster holds, for the delete pass of a catch-up.
type present struct {
	objects    map[model.ObjectKey]bool
	images     map[string]bool
	streams    map[[2]string]bool
	limits     map[[2]string]bool
	namespaces map[string]bool
}

// catchUp compares the cached objects of kinds with the index and writes the differences;
// objects of kinds and gone that the index holds and the cluster does not are deleted.
func (t *Tracker) catchUp(ctx context.Context, kinds, gone []Kind) error {
	start := time.Now()
	p := present{objects: map[model.ObjectKey]bool{}, images: map[string]bool{}, streams: map[[2]string]bool{},
		limits: map[[2]string]bool{}, namespaces: map[string]bool{}}
	d := &differ{ix: t.o.Index, limits: map[string][]model.LimitRange{}}
	for _, k := range kinds {
		objs, err := t.objects(ctx, k)
		if err != nil {
			return err
		}
		for _, o := range objs {
			res, err := extractObject(k.Name, o)
			if err != nil {
				t.o.Logger.Error(err, "object not indexed")
				continue
			}
			p.add(res, o)
			if err := d.compare(ctx, res); err != nil {
				return err
			}
		}
	}
	covered := map[string]bool{}
	for _, k := range append(append([]Kind(nil), kinds...), gone...) {
		covered[k.Name] = true
	}
	if err := d.deletes(ctx, covered, p); err != nil {
		return err
	}
	if err := t.apply(ctx, d.ops); err != nil {
		return err
	}
	t.o.Logger.Info("index caught up with the cluster", "kinds", len(kinds), "writes", len(d.ops), "took", time.Since(start).String())
	return nil
}

func (p present) add(res extract.Result, o client.Object) {
	p.namespaces[o.GetNamespace()] = true
	if res.Referrer != nil {
		p.objects[res.Referrer.Key] = true
	}
	if res.Image != nil {
		p.images[res.Image.Digest] = true
	}
	if res.Stream != nil {
		p.streams[[2]string{res.Stream.Namespace, res.Stream.Name}] = true
	}
	if res.LimitRange != nil {
		p.limits[[2]string{res.LimitRange.Namespace, res.LimitRange.Name}] = true
	}
}

// differ collects the ops that turn the index into the cluster's state.
type differ struct {
	ix     *index.Index
	ops    []index.Op
	limits map[string][]model.LimitRange
}

// compare queues a put for each part of res that the index holds differently.
func (d *differ) compare(ctx context.Context, res extract.Result) error {
	if o := res.Referrer; o != nil {
		have, ok, err := d.ix.Object(ctx, o.Key)
		if err != nil {
			return err
		}
		if !ok || !sameObject(have, *o) {
			d.ops = append(d.ops, index.PutObject(*o))
		}
	}
	if img := res.Image; img != nil {
		have, ok, err := d.ix.Image(ctx, img.Digest)
		if err != nil {
			return err
		}
		if !ok || !sameImage(have, *img) {
			d.ops = append(d.ops, index.PutImage(*img))
		}
	}
	if s := res.Stream; s != nil {
		have, ok, err := d.ix.Stream(ctx, s.Namespace, s.Name)
		if err != nil {
			return err
		}
		if !ok || !sameStream(have, *s) {
			d.ops = append(d.ops, index.PutStream(*s))
		}
	}
	if l := res.LimitRange; l != nil {
		have, err := d.limitRanges(ctx, l.Namespace)
		if err != nil {
			return err
		}
		if !containsLimit(have, *l) {
			d.ops = append(d.ops, index.PutLimitRange(*l))
		}
	}
	return nil
}

func (d *differ) limitRanges(ctx context.Context, ns string) ([]model.LimitRange, error) {
	if have, ok := d.limits[ns]; ok {
		return have, nil
	}
	have, err := d.ix.LimitRanges(ctx, ns)
	d.limits[ns] = have
	return have, err
}

// deletes queues deletes for what the index holds of the covered kinds and p lacks.
func (d *differ) deletes(ctx context.Context, covered map[string]bool, p present) error {
	err := d.ix.Objects(ctx, func(o model.Object) error {
		p.namespaces[o.Key.Namespace] = true
		if covered[o.Key.Kind] && !p.objects[o.Key] {
			d.ops = append(d.ops, index.DeleteObject(o.Key))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("failed to read index objects: %w", err)
	}
	if covered[model.KindImage] {
		err := d.ix.Images(ctx, func(img model.Image) error {
			if !p.images[img.Digest] {
				d.ops = append(d.ops, index.DeleteImage(img.Digest))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("failed to read index images: %w", err)
		}
	}
	err = d.ix.Streams(ctx, "", func(s model.Stream) error {
		p.namespaces[s.Namespace] = true
		if covered[model.KindImageStream] && !p.streams[[2]string{s.Namespace, s.Name}] {
			d.ops = append(d.ops, index.DeleteStream(s.Namespace, s.Name))
		}
		return nil
	})
	if err != nil || !covered[model.KindLimitRange] {
		return err
	}
	// The index lists limit ranges by namespace only: look in every namespace known to the
	// cluster or the index.
	for ns := range p.namespaces {
		have, err := d.limitRanges(ctx, ns)
		if err != nil {
			return err
		}
		for _, l := range have {
			if !p.limits[[2]string{l.Namespace, l.Name}] {
				d.ops = append(d.ops, index.DeleteLimitRange(l.Namespace, l.Name))
			}
		}
	}
	return nil
}

// listObjects returns the items of a typed list as objects.
func listObjects(list client.ObjectList) ([]client.Object, error) {
	var out []client.Object
	err := meta.EachListItem(list, func(o runtime.Object) error {
		if co, ok := o.(client.Object); ok {
			out = append(out, co)
		}
		return nil
	})
	return out, err
}
