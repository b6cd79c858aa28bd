package tracker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/extract"
	"github.com/pruneguard/pruneguard/pkg/index"
)

// listParallelism is how many kinds are listed at once. The API server encodes pages while
// the tracker decodes, extracts and writes earlier ones; more parallel lists than this only
// queue on a small control plane's cores.
const listParallelism = 4

// pageBuffer is how many extracted pages wait for the rebuild writer; it bounds memory.
const pageBuffer = 2 * listParallelism

// rebuild fills the emptied index from paged lists of every served kind, listed in parallel
// and streamed into one write batch, then writes each kind's watermark at the version its
// list was served at. A failed list aborts the rebuild, which starts over after a pause: a
// half-listed kind cannot be completed in a batch that never reads.
func (t *Tracker) rebuild(ctx context.Context, served []Kind) (map[string]string, error) {
	t.o.Logger.Info("building the index from the cluster", "reason", t.o.Index.Status().String(), "kinds", len(served))
	backoff := newBackoff()
	for {
		rvs, err := t.rebuildOnce(ctx, served)
		if err == nil {
			return rvs, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		t.o.Logger.Error(err, "index rebuild failed, starting over")
		backoff.wait(ctx)
	}
}

// fillStats is where a rebuild's list time went, summed over the kinds listed in parallel.
type fillStats struct {
	mu               sync.Mutex
	waited, extracts time.Duration
	objects          int
}

func (t *Tracker) rebuildOnce(ctx context.Context, served []Kind) (map[string]string, error) {
	start := time.Now()
	rb, err := t.o.Index.BeginRebuild(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to start the index rebuild: %w", err)
	}
	var stats fillStats
	var written time.Duration
	rvs, err := t.fill(ctx, served, rb, &stats, &written)
	if err != nil {
		rb.Abort()
		return nil, err
	}
	listed := time.Since(start)
	if err := rb.Finish(ctx); err != nil {
		return nil, err
	}
	finished := time.Since(start) - listed
	var marks []index.Op
	for kind, rv := range rvs {
		marks = append(marks, index.SetWatermark(kind, rv))
	}
	if err := t.o.Index.Apply(ctx, marks...); err != nil {
		return nil, fmt.Errorf("failed to write the watermarks of the rebuilt index: %w", err)
	}
	t.o.Metrics.Relists.WithLabelValues(relistRebuild).Add(float64(len(served)))
	t.o.Metrics.EventsApplied.Add(float64(stats.objects))
	for phase, d := range map[string]time.Duration{phaseList: listed, phaseRequests: stats.waited,
		phaseExtract: stats.extracts, phaseWrite: written, phaseFinish: finished} {
		t.o.Metrics.StartSeconds.WithLabelValues(phase).Set(d.Seconds())
	}
	t.o.Logger.Info("index built", "objects", stats.objects, "took", time.Since(start).String(),
		"list", listed.String(), "listRequests", stats.waited.String(), "extract", stats.extracts.String(),
		"write", written.String(), "finish", finished.String())
	return rvs, nil
}

// fill lists kinds in parallel (at most listParallelism at once) and puts every object into
// rb from one goroutine, the rebuild's only writer. It returns each kind's list version.
func (t *Tracker) fill(ctx context.Context, kinds []Kind, rb *index.Rebuild, stats *fillStats, written *time.Duration) (map[string]string, error) {
	pages := make(chan []extract.Result, pageBuffer)
	rvs := map[string]string{}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(pages)
		lists, ctx := errgroup.WithContext(ctx)
		lists.SetLimit(listParallelism)
		for _, k := range kinds {
			lists.Go(func() error {
				rv, err := t.listKind(ctx, k, pages, stats)
				stats.mu.Lock()
				rvs[k.Name] = rv
				stats.mu.Unlock()
				return err
			})
		}
		return lists.Wait()
	})
	g.Go(func() error {
		for page := range pages {
			start := time.Now()
			for _, res := range page {
				if err := put(res, rb); err != nil {
					return fmt.Errorf("failed to rebuild the index: %w", err)
				}
			}
			*written += time.Since(start)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return rvs, nil
}

// listKind lists k page by page and sends each page's extractions to pages.
func (t *Tracker) listKind(ctx context.Context, k Kind, pages chan<- []extract.Result, stats *fillStats) (string, error) {
	a, err := newKindAPI(t.o.Config, t.o.Scheme, k, t.o.Metrics.ListRequests.Inc)
	if err != nil {
		return "", err
	}
	var waited, extracting time.Duration
	n := 0
	rv, err := listPages(ctx, a, &waited, func(objs []client.Object) error {
		start := time.Now()
		page := make([]extract.Result, 0, len(objs))
		for _, o := range objs {
			res, err := extractObject(k.Name, o)
			if err != nil {
				t.o.Logger.Error(err, "object not indexed")
				continue
			}
			page = append(page, res)
		}
		extracting += time.Since(start)
		n += len(page)
		select {
		case pages <- page:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	stats.mu.Lock()
	stats.waited += waited
	stats.extracts += extracting
	stats.objects += n
	stats.mu.Unlock()
	t.o.Logger.V(1).Info("kind listed", "kind", k.Name, "objects", n, "resourceVersion", rv, "requests", waited.String())
	return rv, err
}
