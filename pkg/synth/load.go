package synth

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/testenv"
)

// LoadStats is what Load did and how fast.
type LoadStats struct {
	// Objects is the number of objects created, namespaces included.
	Objects int
	// StatusUpdates is the number of status subresource writes (image stream histories and
	// pod phases, which a create does not take).
	StatusUpdates int
	Duration      time.Duration
}

// ObjectsPerSecond is Objects over Duration.
func (s LoadStats) ObjectsPerSecond() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Objects) / s.Duration.Seconds()
}

// writeAttempts bounds the retries of one write that the API server answered with a
// retryable error (timeout, too many requests): a loaded 2-core machine throttles etcd now
// and then, which must not fail a load of hundreds of thousands of objects.
const writeAttempts = 5

// Load creates every object of cl in the API server behind c: the namespaces first, then
// everything else with parallelism concurrent writers. Image objects are named
// testenv.ImageObjectName(digest), since an API server that serves Images from a CRD cannot
// hold ':' in a name. ImageStream status (the tag histories) and pod phases are written
// through the status subresource after the create, as the API server drops status on
// create. The API server sets metadata.creationTimestamp and uid itself, so loaded objects
// are all as old as the load; the times that survive are the tag items' `created` and the
// images' dockerImageMetadata.Created. The first failed write stops the load and is
// returned; what was created stays. LoadEtcd loads the test environment much faster and
// keeps the creation times, at the price of skipping admission and validation.
func Load(ctx context.Context, c client.Client, cl *Cluster, parallelism int) (LoadStats, error) {
	start := time.Now()
	l := &loader{c: c}
	parallelism = max(1, parallelism)
	err := l.run(ctx, parallelism, func(send func(client.Object) error) error {
		for i := range cl.namespaces {
			if err := send(cl.namespaceObject(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = l.run(ctx, parallelism, func(send func(client.Object) error) error {
			return cl.Each(EachOptions{ImageName: testenv.ImageObjectName}, send)
		})
	}
	stats := LoadStats{Objects: int(l.objects.Load()), StatusUpdates: int(l.statuses.Load()), Duration: time.Since(start)}
	return stats, err
}

type loader struct {
	c        client.Client
	objects  atomic.Int64
	statuses atomic.Int64
}

// run feeds the objects produce sends to parallelism workers and waits for all of them.
func (l *loader) run(ctx context.Context, parallelism int, produce func(send func(client.Object) error) error) error {
	g, ctx := errgroup.WithContext(ctx)
	objs := make(chan client.Object, 4*parallelism)
	g.Go(func() error {
		defer close(objs)
		return produce(func(obj client.Object) error {
			select {
			case objs <- obj:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})
	for range parallelism {
		g.Go(func() error {
			for obj := range objs {
				if err := l.create(ctx, obj); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// create creates obj and writes the status a create drops.
func (l *loader) create(ctx context.Context, obj client.Object) error {
	obj.SetUID("")
	var streamStatus *imagev1.ImageStreamStatus
	var podPhase corev1.PodPhase
	switch o := obj.(type) {
	case *imagev1.ImageStream:
		s := o.Status
		streamStatus = &s
	case *corev1.Pod:
		podPhase = o.Status.Phase
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	if err := retry(ctx, func(attempt int) error {
		err := l.c.Create(ctx, obj)
		if attempt > 0 && apierrors.IsAlreadyExists(err) {
			// An earlier attempt succeeded and only its answer was lost.
			return l.c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		}
		return err
	}); err != nil {
		return fmt.Errorf("failed to create %s %s: %w", gvk.Kind, client.ObjectKeyFromObject(obj), err)
	}
	l.objects.Add(1)
	switch o := obj.(type) {
	case *imagev1.ImageStream:
		o.Status = *streamStatus
	case *corev1.Pod:
		if podPhase == "" || podPhase == o.Status.Phase {
			return nil
		}
		o.Status.Phase = podPhase
	default:
		return nil
	}
	if err := retry(ctx, func(int) error { return l.c.Status().Update(ctx, obj) }); err != nil {
		return fmt.Errorf("failed to update the status of %s %s: %w", gvk.Kind, client.ObjectKeyFromObject(obj), err)
	}
	l.statuses.Add(1)
	return nil
}

// retry calls fn until it succeeds, fails with an error that is not worth retrying, or has
// been called writeAttempts times.
func retry(ctx context.Context, fn func(attempt int) error) error {
	var err error
	for attempt := range writeAttempts {
		if err = fn(attempt); err == nil || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		}
	}
	return err
}

func retryable(err error) bool {
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err)
}
