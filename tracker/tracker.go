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
	// DefaultApplyBatch is how many queued objects one index Apply carries: enough to
	// amortise a transaction, few enough that one batch stays far below Badger's
	// transaction limit.
	DefaultApplyBatch = 1000
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
	// ApplyBatch defaults to DefaultApplyBatch; the crash test makes it 1, so that a
	// watermark written ahead of its changes would sit in an earlier transaction.
	ApplyBatch int
	// Now is the clock of pending expiry; nil means time.Now.
	Now func() time.Time
	// OnApplied, when set, is called after every batch of watch events is written: the
	// continuous pruner's kick, so a change that makes an image prunable starts a round at
	// once. It must not block.
	OnApplied func()
}

// Tracker keeps the index equal to the cluster from its own list and watch loop per kind.
// See the package comment.
type Tracker struct {
	o    Options
	disc discovery.DiscoveryInterface
	q    *queue

	// group runs the watch loops; set by Run.
	group *errgroup.Group

	mu      sync.Mutex
	watched map[string]bool
	// waiting counts the kinds served at start-up that have not caught up yet.
	waiting atomic.Int64
	synced  atomic.Bool
}

// New builds the tracker; nothing runs until Run.
func New(o Options) (*Tracker, error) {
	if o.Config == nil || o.Scheme == nil || o.Index == nil || o.Metrics == nil {
		return nil, errors.New("tracker: Config, Scheme, Index and Metrics are required")
	}
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
	if o.ApplyBatch <= 0 {
		o.ApplyBatch = DefaultApplyBatch
	}
	disc, err := discovery.NewDiscoveryClientForConfig(o.Config)
	if err != nil {
		return nil, fmt.Errorf("failed to create a discovery client: %w", err)
	}
	return &Tracker{o: o, disc: disc, q: newQueue(), watched: map[string]bool{}}, nil
}

// Synced reports whether the index has caught up with the cluster since Run started: every
// kind served at start-up has caught up (its rebuild list, resume or catch-up list is done
// and the API server has delivered the events that followed) and those events are applied.
func (t *Tracker) Synced() bool { return t.synced.Load() }

// Ready is a readiness check (controller-runtime's healthz.Checker signature).
func (t *Tracker) Ready(*http.Request) error {
	if !t.Synced() {
		return errors.New("the index has not caught up with the cluster yet")
	}
	return nil
}

// Run brings the index in sync and keeps it so: it starts a watch loop per served kind, and
// on its own goroutine applies their changes, sweeps expired pending records and looks for
// newly served kinds until ctx is done.
func (t *Tracker) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	t.group = g
	g.Go(func() error { return t.run(ctx) })
	err := g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (t *Tracker) run(ctx context.Context) error {
	start := time.Now()
	served, unserved := t.servedKinds(ctx)
	from, err := t.startUp(ctx, served, unserved)
	if err != nil {
		return err
	}
	t.waiting.Store(int64(len(served)))
	catchUp := time.Now()
	for _, k := range served {
		if err := t.startKind(ctx, k, from[k.Name], true); err != nil {
			return err
		}
	}
	t.q.wake() // with no kind served, nothing else would
	return t.loop(ctx, func() {
		t.o.Metrics.StartSeconds.WithLabelValues(phaseCatchUp).Set(time.Since(catchUp).Seconds())
		t.o.Logger.Info("index in sync with the cluster", "kinds", len(served), "took", time.Since(start).String())
	})
}

// startKind starts the watch loop of k from resourceVersion from ("" lists k first). A kind
// of the start-up counts towards Synced.
func (t *Tracker) startKind(ctx context.Context, k Kind, from string, startUp bool) error {
	a, err := newKindAPI(t.o.Config, t.o.Scheme, k, t.o.Metrics.ListRequests.Inc)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.watched[k.Name] = true
	t.mu.Unlock()
	caughtUp := func() {}
	if startUp {
		caughtUp = func() {
			t.waiting.Add(-1)
			t.q.wake()
		}
	}
	t.group.Go(func() error { return t.runKind(ctx, a, from, caughtUp) })
	return nil
}

// loop is the tracker's only writer after start-up; onSynced runs once, when it first finds
// every start-up kind caught up and the queue applied.
func (t *Tracker) loop(ctx context.Context, onSynced func()) error {
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
			if !t.synced.Load() && t.waiting.Load() == 0 && t.q.len() == 0 {
				t.synced.Store(true)
				t.o.Metrics.Synced.Set(1)
				onSynced()
			}
		case <-sweep.C:
			t.sweep(ctx)
		case <-disc.C:
			t.discover(ctx)
		}
	}
}

// drain applies every queued change, in batches, each followed by the watermarks it
// completes.
func (t *Tracker) drain(ctx context.Context) error {
	for {
		b := t.q.take(t.o.ApplyBatch)
		t.o.Metrics.Queued.Set(float64(t.q.len()))
		if b.empty() {
			return nil
		}
		var ops []index.Op
		for _, c := range b.changes {
			ops = append(ops, c.ops...)
		}
		n := len(ops)
		for kind, rv := range b.marks {
			ops = append(ops, index.SetWatermark(kind, rv))
		}
		written := t.apply(ctx, ops, n)
		t.q.done(b, written)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// apply writes ops, of which the first data are index data and the rest watermarks, and
// reports whether every op was attempted. The tracker cannot leave a failed write behind: it
// retries one op at a time, logs and counts those the index refuses, and goes on. Only a
// cancelled ctx stops it, and then the ops after the failure (the watermarks last) are not
// written.
func (t *Tracker) apply(ctx context.Context, ops []index.Op, data int) bool {
	if len(ops) == 0 {
		return true
	}
	if t.o.OnApplied != nil && data > 0 {
		defer t.o.OnApplied()
	}
	err := t.o.Index.Apply(ctx, ops...)
	if err == nil {
		t.o.Metrics.EventsApplied.Add(float64(data))
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	for i, op := range ops {
		if err := t.o.Index.Apply(ctx, op); err != nil {
			if ctx.Err() != nil {
				return false
			}
			t.o.Metrics.ApplyErrors.Inc()
			t.o.Logger.Error(err, "index write failed", "op", op.String())
			continue
		}
		if i < data {
			t.o.Metrics.EventsApplied.Inc()
		}
	}
	return true
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
