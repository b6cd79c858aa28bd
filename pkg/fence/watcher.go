package fence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// retryInterval is how often a failed observation write is tried again.
const retryInterval = time.Second

// FieldManagerPrefix prefixes the field manager of a replica's observation; the pruner
// applies the phase as FieldManagerPruner. Distinct managers own distinct fields, so the
// writes never conflict.
const (
	FieldManagerPrefix = "pruneguard-replica-"
	FieldManagerPruner = "pruneguard-pruner"
)

// WatcherOptions configure a Watcher. Config is required.
type WatcherOptions struct {
	Config *rest.Config
	// Replica is this replica's name (its pod name), recorded in status.observedBy. Empty
	// means enforce without recording (a process that serves no webhook).
	Replica string
	Logger  logr.Logger
	// Now stamps observations; nil means time.Now.
	Now func() time.Time
	// OnChange, when set, is called with each new Set (metrics).
	OnChange func(*Set)
}

// Watcher keeps the Set of fences this replica enforces and records its observations. It
// implements Source for the Checker.
type Watcher struct {
	o      WatcherOptions
	cache  cache.Cache
	client client.Client
	set    atomic.Pointer[Set]
	synced atomic.Bool
	kick   chan struct{}

	mu       sync.Mutex
	recorded map[types.UID]bool
}

// NewWatcher builds a Watcher; nothing runs until Run.
func NewWatcher(o WatcherOptions) (*Watcher, error) {
	if o.Config == nil {
		return nil, errors.New("fence: WatcherOptions.Config is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		return nil, err
	}
	c, err := cache.New(o.Config, cache.Options{Scheme: s})
	if err != nil {
		return nil, fmt.Errorf("failed to create the fence cache: %w", err)
	}
	cl, err := client.New(o.Config, client.Options{Scheme: s})
	if err != nil {
		return nil, fmt.Errorf("failed to create the fence client: %w", err)
	}
	w := &Watcher{o: o, cache: c, client: cl, kick: make(chan struct{}, 1), recorded: map[types.UID]bool{}}
	w.set.Store(NewSet(nil))
	return w, nil
}

// Fences implements Source: the fences enforced now.
func (w *Watcher) Fences() *Set { return w.set.Load() }

// Synced reports whether the first list of fences is enforced.
func (w *Watcher) Synced() bool { return w.synced.Load() }

// Ready is a readiness check: a replica must not serve admissions before it enforces the
// fences that already stand.
func (w *Watcher) Ready(*http.Request) error {
	if !w.Synced() {
		return errors.New("the fences have not been listed yet")
	}
	return nil
}

// Run watches fences until ctx is done.
func (w *Watcher) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- w.cache.Start(ctx) }()
	inf, err := w.cache.GetInformer(ctx, &Fence{})
	if err != nil {
		return fmt.Errorf("failed to watch fences: %w", err)
	}
	notify := func() {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { notify() }, UpdateFunc: func(any, any) { notify() }, DeleteFunc: func(any) { notify() },
	}); err != nil {
		return fmt.Errorf("failed to watch fences: %w", err)
	}
	if !w.cache.WaitForCacheSync(ctx) {
		return ctx.Err()
	}
	w.refresh(ctx)
	w.synced.Store(true)
	retry := time.NewTicker(retryInterval)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if err != nil {
				return fmt.Errorf("fence watch stopped: %w", err)
			}
			return nil
		case <-w.kick:
			w.refresh(ctx)
		case <-retry.C:
			w.refresh(ctx)
		}
	}
}

// refresh swaps in the Set of the cached fences, then records the observations not yet
// recorded. The order matters: a replica says it enforces a fence only once it does.
func (w *Watcher) refresh(ctx context.Context) {
	var list FenceList
	if err := w.cache.List(ctx, &list); err != nil {
		w.o.Logger.Error(err, "failed to list cached fences")
		return
	}
	s := NewSet(list.Items)
	w.set.Store(s)
	if w.o.OnChange != nil {
		w.o.OnChange(s)
	}
	if w.o.Replica == "" {
		return
	}
	for i := range list.Items {
		f := &list.Items[i]
		if !w.needsObservation(f) {
			continue
		}
		if err := w.observe(ctx, f.Name); err != nil {
			w.o.Logger.Error(err, "failed to record the observation of a fence", "fence", f.Name)
			continue
		}
		w.mu.Lock()
		w.recorded[f.UID] = true
		w.mu.Unlock()
	}
}

func (w *Watcher) needsObservation(f *Fence) bool {
	if f.CurrentPhase() == PhaseLifting || f.DeletionTimestamp != nil || f.ObservedByReplica(w.o.Replica) {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.recorded[f.UID]
}

// observe applies this replica's entry of status.observedBy.
func (w *Watcher) observe(ctx context.Context, name string) error {
	body, err := json.Marshal(map[string]any{
		"apiVersion": GroupVersion.String(), "kind": "Fence",
		"metadata": map[string]any{"name": name},
		"status": map[string]any{"observedBy": []Observation{
			{Replica: w.o.Replica, ObservedAt: metav1.NewTime(w.o.Now())},
		}},
	})
	if err != nil {
		return err
	}
	f := &Fence{ObjectMeta: metav1.ObjectMeta{Name: name}}
	err = w.client.Status().Patch(ctx, f, client.RawPatch(types.ApplyPatchType, body),
		client.FieldOwner(FieldManagerPrefix+w.o.Replica), client.ForceOwnership)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to record in fence %s that replica %s observed it: %w", name, w.o.Replica, err)
	}
	return nil
}
