package tracker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/index"
)

// Defaults of Options.
const (
	// DefaultDiscoveryInterval is how often kinds whose API is not served are looked for
	// again (a CRD or an aggregated API installed after start-up).
	DefaultDiscoveryInterval = 30 * time.Second
	// DefaultSweepInterval is how often expired pending records are removed. It is a fraction
	// of the webhook's pending TTL (2 minutes), so a record outlives its expiry by little.
	DefaultSweepInterval = 15 * time.Second
	// applyBatch is how many queued objects one index Apply carries: enough to amortise a
	// transaction, few enough that one batch stays far below Badger's transaction limit.
	applyBatch = 1000
)

// Options configure a Tracker. Config, Scheme, Index and Metrics are required.
type Options struct {
	Config  *rest.Config
	Scheme  *runtime.Scheme
	Index   *index.Index
	Metrics *Metrics
	Logger  logr.Logger
	// Kinds are the kinds to watch; nil means Kinds().
	Kinds []Kind
	// DiscoveryInterval and SweepInterval default to DefaultDiscoveryInterval and
	// DefaultSweepInterval.
	DiscoveryInterval time.Duration
	SweepInterval     time.Duration
	// Now is the clock of pending expiry; nil means time.Now.
	Now func() time.Time
	// OnApplied, when set, is called after every batch of watch events is written: the
	// continuous pruner's kick, so a change that makes an image prunable starts a round at
	// once. It must not block.
	OnApplied func()
}

// Tracker keeps the index equal to the cluster from informers. See the package comment.
type Tracker struct {
	o     Options
	cache cache.Cache
	disc  discovery.DiscoveryInterface
	q     *queue

	mu      sync.Mutex
	watched map[string]bool
	// caughtUp receives kinds whose informers synced after start-up and need a catch-up.
	caughtUp chan []Kind
	synced   atomic.Bool
}

// New builds the tracker and its cache; nothing runs until Run.
func New(o Options) (*Tracker, error) {
	if o.Kinds == nil {
		o.Kinds = Kinds()
	}
	if o.DiscoveryInterval <= 0 {
		o.DiscoveryInterval = DefaultDiscoveryInterval
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c, err := cache.New(o.Config, cache.Options{
		Scheme:           o.Scheme,
		DefaultTransform: Strip,
		// The tracker only reads what it lists; copies would double the cache's memory.
		DefaultUnsafeDisableDeepCopy: ptr.To(true),
	})
	if err != nil {
		return nil, fmt.Errorf("failed to create the informer cache: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(o.Config)
	if err != nil {
		return nil, fmt.Errorf("failed to create a discovery client: %w", err)
	}
	return &Tracker{o: o, cache: c, disc: disc, q: newQueue(), watched: map[string]bool{}, caughtUp: make(chan []Kind, len(o.Kinds))}, nil
}

// Synced reports whether the index has caught up with the cluster since Run started: the
// start-up rebuild or catch-up is done and the events queued meanwhile are applied.
func (t *Tracker) Synced() bool { return t.synced.Load() }

// Ready is a readiness check (controller-runtime's healthz.Checker signature).
func (t *Tracker) Ready(*http.Request) error {
	if !t.Synced() {
		return errors.New("the index has not caught up with the cluster yet")
	}
	return nil
}

// Run starts the informers, brings the index in sync, and then applies events, sweeps expired
// pending records and looks for newly served kinds until ctx is done.
func (t *Tracker) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return t.cache.Start(ctx) })
	g.Go(func() error { return t.run(ctx) })
	return g.Wait()
}

func (t *Tracker) run(ctx context.Context) error {
	served, unserved := t.servedKinds(ctx)
	for _, k := range served {
		if err := t.watch(ctx, k); err != nil {
			return err
		}
	}
	if !t.cache.WaitForCacheSync(ctx) {
		return ctx.Err()
	}
	start := time.Now()
	if err := t.startUp(ctx, served, unserved); err != nil {
		return err
	}
	if err := t.drain(ctx); err != nil {
		return err
	}
	t.synced.Store(true)
	t.o.Metrics.Synced.Set(1)
	t.o.Logger.Info("index in sync with the cluster", "kinds", len(served), "took", time.Since(start).String())
	return t.loop(ctx)
}

// loop is the tracker's only writer after start-up.
func (t *Tracker) loop(ctx context.Context) error {
	sweep := time.NewTicker(t.o.SweepInterval)
	defer sweep.Stop()
	disc := time.NewTicker(t.o.DiscoveryInterval)
	defer disc.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.q.notify:
			if err := t.drain(ctx); err != nil {
				return err
			}
		case kinds := <-t.caughtUp:
			if err := t.catchUp(ctx, kinds, nil); err != nil {
				return err
			}
		case <-sweep.C:
			t.sweep(ctx)
		case <-disc.C:
			t.discover(ctx)
		}
	}
}

// watch starts the informer of kind with the tracker's handler.
func (t *Tracker) watch(ctx context.Context, k Kind) error {
	inf, err := t.cache.GetInformer(ctx, k.New(), cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("failed to start the informer of %s: %w", k.GVK, err)
	}
	if _, err := inf.AddEventHandler(handler{kind: k.Name, q: t.q}); err != nil {
		return fmt.Errorf("failed to watch %s: %w", k.GVK, err)
	}
	t.mu.Lock()
	t.watched[k.Name] = true
	t.mu.Unlock()
	return nil
}

// objects returns the cached objects of kind, without copying them.
func (t *Tracker) objects(ctx context.Context, k Kind) ([]client.Object, error) {
	inf, err := t.cache.GetInformer(ctx, k.New(), cache.BlockUntilSynced(false))
	if err != nil {
		return nil, fmt.Errorf("failed to get the informer of %s: %w", k.GVK, err)
	}
	if shared, ok := inf.(toolscache.SharedIndexInformer); ok {
		items := shared.GetStore().List()
		out := make([]client.Object, 0, len(items))
		for _, it := range items {
			if o, ok := it.(client.Object); ok {
				out = append(out, o)
			}
		}
		return out, nil
	}
	list := k.NewList()
	if err := t.cache.List(ctx, list); err != nil {
		return nil, fmt.Errorf("failed to list cached %s: %w", k.GVK, err)
	}
	return listObjects(list)
}

// drain applies every queued event, in batches.
func (t *Tracker) drain(ctx context.Context) error {
	for {
		evs := t.q.take(applyBatch)
		t.o.Metrics.Queued.Set(float64(t.q.len()))
		if len(evs) == 0 {
			return nil
		}
		var ops []index.Op
		for _, e := range evs {
			if e.deleted {
				ops = append(ops, deleteOps(e.kind, e.obj)...)
				continue
			}
			res, err := extractObject(e.kind, e.obj)
			if err != nil {
				t.o.Logger.Error(err, "object not indexed")
				continue
			}
			ops = append(ops, putOps(res)...)
		}
		if err := t.apply(ctx, ops); err != nil {
			return err
		}
	}
}

// apply writes ops. The tracker cannot leave a failed write behind: it retries one op at a
// time, logs and counts those the index refuses, and goes on. Only a cancelled ctx stops it.
func (t *Tracker) apply(ctx context.Context, ops []index.Op) error {
	if len(ops) == 0 {
		return nil
	}
	if t.o.OnApplied != nil {
		defer t.o.OnApplied()
	}
	err := t.o.Index.Apply(ctx, ops...)
	if err == nil {
		t.o.Metrics.EventsApplied.Add(float64(len(ops)))
		return nil
	}
	if ctx.Err() != nil {
		return nil
	}
	for _, op := range ops {
		if err := t.o.Index.Apply(ctx, op); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			t.o.Metrics.ApplyErrors.Inc()
			t.o.Logger.Error(err, "index write failed", "op", op.String())
			continue
		}
		t.o.Metrics.EventsApplied.Inc()
	}
	return nil
}

// sweep removes expired pending records.
func (t *Tracker) sweep(ctx context.Context) {
	n, err := t.o.Index.ExpirePending(ctx, t.o.Now())
	if err != nil && ctx.Err() == nil {
		t.o.Logger.Error(err, "failed to expire pending references")
	}
	if n > 0 {
		t.o.Metrics.Expired.Add(float64(n))
		t.o.Logger.V(1).Info("expired pending references", "count", n)
	}
}
