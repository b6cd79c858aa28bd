package tracker

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// listPageSize is the page size of every list: large enough that a big cluster takes few
// round trips, small enough that one page of pods stays a few megabytes.
const listPageSize = 500

// listPages lists a's kind page by page, calls fn with each page's objects, and returns the
// list's resourceVersion (every page of one list is served at the first page's version).
// It adds the time spent waiting for pages to *waited.
func listPages(ctx context.Context, a *kindAPI, waited *time.Duration, fn func([]client.Object) error) (string, error) {
	cont, rv := "", ""
	for {
		start := time.Now()
		list, err := a.list(ctx, cont, listPageSize)
		*waited += time.Since(start)
		if err != nil {
			return "", err
		}
		if rv == "" {
			rv = list.GetResourceVersion()
		}
		objs, err := listObjects(list)
		if err != nil {
			return "", fmt.Errorf("failed to read the list of %s: %w", a.kind.Resource, err)
		}
		if err := fn(objs); err != nil {
			return "", err
		}
		if cont = list.GetContinue(); cont == "" {
			return rv, nil
		}
	}
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

// relist is the catch-up of one kind when its watch cannot resume: it waits until the
// kind's queued changes are written, lists the kind in pages, compares each object with the
// index and queues the puts that differ, then queues the deletes of what the index holds of
// the kind and the list lacks. The kind's watermark moves to the list's resourceVersion once
// those changes are written; the returned version is where its watch continues.
func (t *Tracker) relist(ctx context.Context, a *kindAPI, reason string) (string, error) {
	if err := t.q.waitIdle(ctx, a.kind.Name); err != nil {
		return "", err
	}
	start := time.Now()
	t.o.Metrics.Relists.WithLabelValues(reason).Inc()
	d := newDiffer(t.o.Index, a.kind.Name, t.o.Logger)
	var waited time.Duration
	queued := 0
	rv, err := listPages(ctx, a, &waited, func(objs []client.Object) error {
		for _, o := range objs {
			c, err := d.compare(ctx, o)
			if err != nil {
				return err
			}
			if len(c.ops) > 0 {
				t.q.add(c, "")
				queued++
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	gone, err := d.deletes(ctx)
	if err != nil {
		return "", err
	}
	for _, c := range gone {
		t.q.add(c, "")
	}
	t.q.mark(a.kind.Name, rv)
	t.o.Logger.Info("kind listed and compared with the index", "kind", a.kind.Name, "reason", reason,
		"listed", len(d.present), "puts", queued, "deletes", len(gone), "resourceVersion", rv, "took", time.Since(start).String())
	return rv, nil
}

// forget deletes from the index everything of kinds (whose API is not served: the cluster
// holds none of them) and their watermarks. It runs before the writer starts.
func (t *Tracker) forget(ctx context.Context, kinds []Kind) error {
	var ops, marks []index.Op
	for _, k := range kinds {
		gone, err := newDiffer(t.o.Index, k.Name, t.o.Logger).deletes(ctx)
		if err != nil {
			return err
		}
		for _, c := range gone {
			ops = append(ops, c.ops...)
		}
		marks = append(marks, index.DeleteWatermark(k.Name))
	}
	if len(ops) > 0 {
		t.o.Logger.Info("removed index objects of kinds the API server does not serve", "ops", len(ops))
	}
	t.apply(ctx, append(ops, marks...), len(ops))
	return ctx.Err()
}

// differ compares the listed objects of one kind with the index.
type differ struct {
	ix   *index.Index
	kind string
	log  logr.Logger
	// present holds what the list had: "namespace/name" of objects, streams and limit
	// ranges, digests of images.
	present map[string]bool
	// namespaces are those of listed limit ranges, where deleted ones are looked for too.
	namespaces map[string]bool
	limits     map[string][]model.LimitRange
}

func newDiffer(ix *index.Index, kind string, log logr.Logger) *differ {
	return &differ{ix: ix, kind: kind, log: log, present: map[string]bool{}, namespaces: map[string]bool{},
		limits: map[string][]model.LimitRange{}}
}

// compare records obj as present and returns the change that writes the parts of it the
// index holds differently (no ops when none). An object that does not extract is logged and
// returns no change; it counts as present, so its old entry stays, as a watch event would
// leave it.
func (d *differ) compare(ctx context.Context, obj client.Object) (change, error) {
	c := change{kind: d.kind, key: changeKey(d.kind, obj.GetNamespace(), obj.GetName())}
	d.present[obj.GetNamespace()+"/"+obj.GetName()] = true
	res, err := extractObject(d.kind, obj)
	if err != nil {
		d.log.Error(err, "object not indexed")
		return c, nil
	}
	if o := res.Referrer; o != nil {
		have, ok, err := d.ix.Object(ctx, o.Key)
		if err != nil {
			return c, err
		}
		if !ok || !sameObject(have, *o) {
			c.ops = append(c.ops, index.PutObject(*o))
		}
	}
	if img := res.Image; img != nil {
		d.present[img.Digest] = true
		have, ok, err := d.ix.Image(ctx, img.Digest)
		if err != nil {
			return c, err
		}
		if !ok || !sameImage(have, *img) {
			c.ops = append(c.ops, index.PutImage(*img))
		}
	}
	if s := res.Stream; s != nil {
		have, ok, err := d.ix.Stream(ctx, s.Namespace, s.Name)
		if err != nil {
			return c, err
		}
		if !ok || !sameStream(have, *s) {
			c.ops = append(c.ops, index.PutStream(*s))
		}
	}
	if l := res.LimitRange; l != nil {
		d.namespaces[l.Namespace] = true
		have, err := d.limitRanges(ctx, l.Namespace)
		if err != nil {
			return c, err
		}
		if !containsLimit(have, *l) {
			c.ops = append(c.ops, index.PutLimitRange(*l))
		}
	}
	return c, nil
}

func (d *differ) limitRanges(ctx context.Context, ns string) ([]model.LimitRange, error) {
	if have, ok := d.limits[ns]; ok {
		return have, nil
	}
	have, err := d.ix.LimitRanges(ctx, ns)
	d.limits[ns] = have
	return have, err
}
