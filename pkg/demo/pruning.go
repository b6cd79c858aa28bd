package demo

import (
	"context"
	"fmt"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/pkg/testenv"
	"github.com/pruneguard/pruneguard/pruner"
)

// configurePruning turns on fences and continuous, confirmed pruning with the demo's policy,
// as serve runs it: a full round when the pruner starts (or is let go), then passes that plan
// only what the index's changes bring up, deleting through the fence, from the API and from
// the demo's registry. The full-round interval is serve's default, so the demo's prune is the
// event-driven one.
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
		Options: opts, Namespace: namespace, Tombstone: 10 * time.Minute,
		Paused: func(context.Context) bool { return s.paused.Load() },
	}
	return nil
}

// letGo unpauses the continuous pruner once the seeded cluster is indexed, waits for its first
// full round to end and checks that it kept every seeded image: each is in use, within
// --keep-tag-revisions, or the current item of its tag.
func (s *stack) letGo(ctx context.Context, cl *cluster) error {
	s.paused.Store(false)
	err := waitUntil(ctx, time.Minute, "the pruner's first full round", func() (bool, error) {
		c := s.srv.Continuous()
		return c != nil && c.Stats().FullRounds > 0 && c.Stats().Finished > 0, nil
	})
	if err != nil {
		return err
	}
	for _, p := range cl.images() {
		err := s.env.Client.Get(ctx, client.ObjectKey{Name: testenv.ImageObjectName(p.Digest)}, &imagev1.Image{})
		if err != nil {
			return &CheckError{Step: "first full round", Expect: "every seeded image kept", Got: fmt.Sprintf("%s: %v", p.Digest, err)}
		}
	}
	return nil
}
