package demo

import (
	"context"
	"time"

	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/pruner"
)

// configurePruning turns on fences and continuous, confirmed pruning with the demo's policy:
// every second a round plans from the live index and deletes through the fence, from the API
// and from the demo's registry.
func configurePruning(o *server.Options, s *stack) error {
	if err := server.EnableFences(o); err != nil {
		return err
	}
	opts := pruner.NewOptions()
	revisions, younger := 3, time.Duration(0)
	opts.KeepTagRevisions, opts.KeepYoungerThan = &revisions, &younger
	opts.Confirm = true
	opts.RegistryURL = s.env.Registry.Host
	o.Pruning = &server.Pruning{
		Options: opts, Namespace: namespace, Interval: time.Second, Tombstone: 10 * time.Minute,
		Paused: func(context.Context) bool { return s.paused.Load() },
	}
	return nil
}
