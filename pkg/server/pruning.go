package server

import (
	"context"
	"fmt"
	"time"

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
	// Interval is the longest time between rounds (default 10 s).
	Interval time.Duration
	// Tombstone is how long a pruned image's fence refuses late references (default 5 m).
	Tombstone time.Duration
	// Dialect of the registry; auto-detected when empty.
	Dialect registry.Dialect
	// Paused, when set, is the pause switch instead of the Lease annotation (the demo pauses
	// the pruner to show a dry run first).
	Paused func(context.Context) bool
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
	var fenced *pruner.FencedPruner
	for {
		if fenced, err = s.fencedPruner(ctx, c); err == nil {
			break
		}
		s.o.Logger.Error(err, "continuous pruning cannot start yet; retrying", "in", pruningRetry.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pruningRetry):
		}
	}
	paused := p.Paused
	if paused == nil {
		paused = s.paused(c)
	}
	cont := pruner.NewContinuous(pruner.ContinuousOptions{
		Reader: s.ix, Fenced: fenced, Options: p.Options, Interval: p.Interval,
		Paused: paused, Audit: s.Recorder, Metrics: s.Metrics, Logger: s.o.Logger.WithName("pruner"),
	})
	s.continuous.Store(cont)
	defer s.continuous.Store(nil)
	return cont.Run(ctx)
}

// kickPruner starts a prune round soon after the tracker wrote changes, when this replica
// leads; the pruner's own rate limit (MinGap) bounds how often rounds run.
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
func (s *Server) fencedPruner(ctx context.Context, c client.Client) (*pruner.FencedPruner, error) {
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
		Reader:    s.ix,
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
