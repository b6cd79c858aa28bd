package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/fence"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/registry"
	"github.com/pruneguard/pruneguard/pkg/scheme"
	"github.com/pruneguard/pruneguard/pruner"
	"github.com/pruneguard/pruneguard/tracker"
)

// PausedAnnotation on the leader's Lease pauses continuous pruning while it is "true":
//
//	kubectl -n pruneguard annotate lease pruneguard-leader pruneguard.io/paused=true
const PausedAnnotation = "pruneguard.io/paused"

// pruningRetry is how long the leader waits before it tries again to set up pruning.
const pruningRetry = 30 * time.Second

// Pruning configures the continuous pruner that the leader runs.
type Pruning struct {
	// Options is the policy, with the flags of `prune images`.
	Options pruner.Options
	// Namespace is pruneguard's own namespace: where the verify step's probe pods are
	// dry-run (the chart's webhook lets them through) and where the webhook Service is.
	Namespace string
	// Service is the webhook Service whose EndpointSlices list the serving replicas; empty
	// means this process is the only replica (a local run, the demo).
	Service string
	// Interval is the time between two full rounds, the safety net of the candidates that
	// the index's change feed and the cutoff timers bring up (default
	// pruner.DefaultFullRoundInterval).
	Interval time.Duration
	// Tombstone is how long a pruned image's fence refuses late references (default 5 m).
	Tombstone time.Duration
	// Dialect of the registry; auto-detected when empty.
	Dialect registry.Dialect
	// Paused, when set, is the pause switch instead of the Lease annotation (the demo pauses
	// the pruner to show a dry run first).
	Paused func(context.Context) bool
	// SetupRetry is how long the leader waits before it tries again to set up pruning
	// (default 30 s).
	SetupRetry time.Duration
	// Now, when set, is the clock of the policy (tests replay a state at a fixed time, as
	// `prune images --now` does).
	Now func() time.Time
}

// runPruning is the leader's work: recover, then prune continuously until ctx is done.
func (s *Server) runPruning(ctx context.Context) error {
	p := s.o.Pruning
	c, err := client.New(s.o.Config, client.Options{Scheme: fenceScheme()})
	if err != nil {
		return fmt.Errorf("failed to create the pruner's client: %w", err)
	}
	// The leader keeps its Lease while this runs, so a registry that cannot be reached yet
	// (or an index that has no image to find it from) is retried, not returned: returning
	// would leave a leader that holds the Lease and prunes nothing.
	lists := pruner.NewListReader(s.ix)
	retry := p.SetupRetry
	if retry <= 0 {
		retry = pruningRetry
	}
	var fenced *pruner.FencedPruner
	for {
		if fenced, err = s.fencedPruner(ctx, c, lists); err == nil {
			break
		}
		s.o.Logger.Error(err, "continuous pruning cannot start yet; retrying", "in", retry.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retry):
		}
	}
	paused := p.Paused
	if paused == nil {
		paused = s.paused(c)
	}
	cont := pruner.NewContinuous(pruner.ContinuousOptions{
		Reader: lists, Feed: s.ix, Fenced: fenced, Options: p.Options, Interval: p.Interval,
		Paused: paused, Audit: s.Recorder, Metrics: s.Metrics, Logger: s.o.Logger.WithName("pruner"), Now: p.Now,
	})
	if err := s.registerCandidateMetrics(); err != nil {
		s.o.Logger.Error(err, "failed to register the candidate metrics")
	}
	s.continuous.Store(cont)
	defer s.continuous.Store(nil)
	return cont.Run(ctx)
}

// Continuous returns the running continuous pruner while this replica leads, else nil.
func (s *Server) Continuous() *pruner.Continuous { return s.continuous.Load() }

// registerCandidateMetrics exposes what the leader's pruner planned:
// pruneguard_prune_candidates_total{kind="stream"|"image"} counts the candidates planned one by
// one, pruneguard_prune_full_rounds_total the full plans, and
// pruneguard_prune_candidates_retrying the candidates waiting in the retry backoff (a value
// that stays above zero means deletions keep failing). They read the running pruner, so a
// new leadership starts them at zero again (a counter reset, as after a restart).
func (s *Server) registerCandidateMetrics() error {
	stat := func(f func(pruner.CandidateStats) int64) func() float64 {
		return func() float64 {
			if c := s.continuous.Load(); c != nil {
				return float64(f(c.Stats()))
			}
			return 0
		}
	}
	cs := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pruneguard_prune_candidates_total", Help: "Prune candidates planned one by one.", ConstLabels: prometheus.Labels{"kind": "stream"}},
			stat(func(st pruner.CandidateStats) int64 { return st.Streams })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pruneguard_prune_candidates_total", Help: "Prune candidates planned one by one.", ConstLabels: prometheus.Labels{"kind": "image"}},
			stat(func(st pruner.CandidateStats) int64 { return st.Images })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pruneguard_prune_full_rounds_total", Help: "Full prune plans of the whole index (the continuous mode's safety net)."},
			stat(func(st pruner.CandidateStats) int64 { return st.FullRounds })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pruneguard_prune_candidates_retrying", Help: "Prune candidates waiting for a retry after a failed deletion (registry or API server down)."},
			stat(func(st pruner.CandidateStats) int64 { return st.Retrying })),
	}
	var errs []error
	for _, c := range cs {
		if err := s.o.Registry.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// kickPruner wakes the leader's pruner after the tracker wrote changes; the change feed has
// queued the candidates already, and the pruner's rate limit (MinGap) bounds its passes.
func (s *Server) kickPruner() {
	if c := s.continuous.Load(); c != nil {
		c.Kick()
	}
}

func fenceScheme() *runtime.Scheme {
	sc := scheme.New()
	if err := fence.AddToScheme(sc); err != nil {
		panic(err)
	}
	return sc
}

// fencedPruner builds the fence protocol's parts: who serves the webhook, the probe, the
// barrier over every referrer kind, and the deleters of the image API and the registry.
func (s *Server) fencedPruner(ctx context.Context, c client.Client, lists *pruner.ListReader) (*pruner.FencedPruner, error) {
	p := s.o.Pruning
	cfg := rest.CopyConfig(s.o.Config)
	cfg.QPS, cfg.Burst = 100, 200
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	var kinds []pruner.BarrierKind
	for _, k := range tracker.Kinds() {
		if k.Name != model.KindImage && k.Name != model.KindLimitRange {
			kinds = append(kinds, pruner.BarrierKind{Kind: k.Name, GVK: k.GVK})
		}
	}
	var replicas pruner.ReplicaLister = pruner.StaticReplicas{s.o.Identity}
	if p.Service != "" {
		replicas = pruner.EndpointSliceReplicas{Client: c, Namespace: p.Namespace, Service: p.Service}
	}
	api := &pruner.ImageAPI{Client: c, Reader: s.ix}
	deleters := pruner.Deleters{Streams: api, Images: api}
	if p.Options.PruneRegistry {
		rc, err := pruner.ConnectRegistry(ctx, s.o.Config, s.ix, p.Options, p.Dialect)
		if err != nil {
			return nil, err
		}
		deleters = deleters.WithRegistry(rc)
	}
	tombstone := p.Tombstone
	if tombstone == 0 {
		tombstone = 5 * time.Minute
	}
	return pruner.NewFencedPruner(pruner.FencedOptions{
		Client: c, Replicas: replicas,
		Prober:    pruner.PodProbe{Client: c, Namespace: p.Namespace},
		Barrier:   &pruner.WatchBarrier{Metadata: md, Mapper: c.RESTMapper(), Index: s.ix, Kinds: kinds},
		Reader:    lists,
		Executor:  &pruner.Executor{Workers: p.Options.Workers(), Reader: s.ix, Deleters: deleters},
		Tombstone: tombstone, Audit: s.Recorder, Logger: s.o.Logger.WithName("fence"),
	}), nil
}

// paused reads the pause switch from the leader's Lease.
func (s *Server) paused(c client.Client) func(context.Context) bool {
	return func(ctx context.Context) bool {
		if !s.o.LeaderElect {
			return false
		}
		lease := &coordinationv1.Lease{}
		key := client.ObjectKey{Namespace: s.o.LeaderElectionNamespace, Name: s.o.LeaderElectionID}
		if err := c.Get(ctx, key, lease); err != nil {
			return false
		}
		return lease.Annotations[PausedAnnotation] == "true"
	}
}

// EnableFences makes this replica enforce fences: the webhook asks the checker, which reads
// the set the watcher keeps, and the watcher records in each fence that this replica observed
// it. Every replica of serve runs it, leader or not; o.Config and o.Identity must be set.
func EnableFences(o *Options) error {
	w, err := fence.NewWatcher(fence.WatcherOptions{Config: o.Config, Replica: o.Identity, Logger: o.Logger.WithName("fence")})
	if err != nil {
		return err
	}
	o.Fence, o.Fences = &fence.Checker{Source: w}, w
	return nil
}
