package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// serviceAccountNamespace is where a pod finds its namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// runLeader runs OnLeader: directly without leader election, else while this replica holds
// the Lease. Losing the Lease cancels OnLeader's context and the replica campaigns again; the
// webhook and the tracker run on every replica whatever happens here.
func (s *Server) runLeader(ctx context.Context) error {
	work := s.o.OnLeader
	if work == nil {
		work = func(ctx context.Context) error { <-ctx.Done(); return nil }
	}
	if !s.o.LeaderElect {
		return work(ctx)
	}
	le, err := s.elector(work)
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		le.Run(ctx)
	}
	return nil
}

// withDefaults fills the zero fields of t with the defaults.
func (t LeaseTiming) withDefaults() LeaseTiming {
	if t.LeaseDuration <= 0 {
		t.LeaseDuration = DefaultLeaseDuration
	}
	if t.RenewDeadline <= 0 {
		t.RenewDeadline = DefaultRenewDeadline
	}
	if t.RetryPeriod <= 0 {
		t.RetryPeriod = DefaultRetryPeriod
	}
	return t
}

// Validate checks t, its zero fields taken as their defaults, as Run will.
func (t LeaseTiming) Validate() error {
	return t.withDefaults().validate()
}

// validate checks what client-go's elector requires, naming the fields: the leader must give
// up before candidates take over, and must be able to retry within its renew deadline
// (client-go jitters each retry by up to 1.2 retry periods).
func (t LeaseTiming) validate() error {
	if t.RenewDeadline >= t.LeaseDuration {
		return fmt.Errorf("lease timing: RenewDeadline %s must be shorter than LeaseDuration %s", t.RenewDeadline, t.LeaseDuration)
	}
	if float64(t.RenewDeadline) <= leaderelection.JitterFactor*float64(t.RetryPeriod) {
		return fmt.Errorf("lease timing: RenewDeadline %s must exceed %.1f times RetryPeriod %s", t.RenewDeadline, leaderelection.JitterFactor, t.RetryPeriod)
	}
	return nil
}

func (s *Server) elector(work func(context.Context) error) (*leaderelection.LeaderElector, error) {
	timing := s.o.Lease.withDefaults()
	if err := timing.validate(); err != nil {
		return nil, err
	}
	ns := s.o.LeaderElectionNamespace
	if ns == "" {
		data, err := os.ReadFile(serviceAccountNamespace)
		if err != nil {
			return nil, errors.New("leader election needs a namespace: pass --leader-election-namespace when running outside a pod")
		}
		ns = strings.TrimSpace(string(data))
	}
	cs, err := kubernetes.NewForConfig(s.o.Config)
	if err != nil {
		return nil, fmt.Errorf("failed to create a client for leader election: %w", err)
	}
	host, _ := os.Hostname()
	id := host + "_" + uuid.NewString()
	log := s.o.Logger.WithName("leader")
	return leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: ns, Name: s.o.LeaderElectionID},
			Client:     cs.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id},
		},
		LeaseDuration:   timing.LeaseDuration,
		RenewDeadline:   timing.RenewDeadline,
		RetryPeriod:     timing.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            s.o.LeaderElectionID,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				log.Info("became leader", "lease", ns+"/"+s.o.LeaderElectionID, "identity", id)
				if err := work(ctx); err != nil && ctx.Err() == nil {
					log.Error(err, "leader work failed")
				}
			},
			OnStoppedLeading: func() { log.Info("stopped leading", "identity", id) },
		},
	})
}
