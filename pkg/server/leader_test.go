package server_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/pruneguard/pruneguard/pkg/server"
)

// Lease timing of pkg/server (leader.go): a replica holds the Lease for leaseDuration after
// its last renewal, and candidates look again every retryPeriod (with up to 20% jitter).
const (
	leaseDuration = 15 * time.Second
	retryPeriod   = 2 * time.Second
)

// replica is one serve instance campaigning for the Lease, reaching the API server through
// its own proxy so that the test can cut it off.
type replica struct {
	proxy   *apiProxy
	stop    func()
	leading atomic.Bool
	terms   atomic.Int32
}

func startReplica(t *testing.T, ns, leaseName string) *replica {
	r := &replica{proxy: startAPIProxy(t)}
	_, r.stop = launch(t, server.Options{
		Config: r.proxy.config(), WebhookPort: -1,
		LeaderElect: true, LeaderElectionNamespace: ns, LeaderElectionID: leaseName,
		OnLeader: func(ctx context.Context) error {
			r.terms.Add(1)
			r.leading.Store(true)
			<-ctx.Done()
			r.leading.Store(false)
			return nil
		},
	})
	return r
}

func leaders(rs ...*replica) (n int, leader *replica) {
	for _, r := range rs {
		if r.leading.Load() {
			n++
			leader = r
		}
	}
	return n, leader
}

func TestOneReplicaLeadsAndAnotherTakesOverWhenItDies(t *testing.T) {
	const ns, leaseName = "leader-election", "pruneguard-leader-test"
	createNamespace(t, ns)
	a, b := startReplica(t, ns, leaseName), startReplica(t, ns, leaseName)

	waitFor(t, time.Minute, "a replica to lead", func() (bool, error) {
		n, _ := leaders(a, b)
		return n == 1, nil
	})
	// Two full retry periods later the other has tried to acquire at least once: still one.
	for end := time.Now().Add(2*retryPeriod + time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if n, _ := leaders(a, b); n != 1 {
			t.Fatalf("%d replicas lead at once, want exactly 1", n)
		}
	}
	_, leader := leaders(a, b)
	other := a
	if leader == a {
		other = b
	}
	holder := leaseHolder(t, ns, leaseName)

	// The leader loses the API server without releasing the Lease: its connection is cut, so
	// it can neither renew nor release. It stops leading after its renew deadline, before the
	// Lease expires for the other: at no moment may both lead.
	died := time.Now()
	leader.proxy.cutOff()
	var took time.Duration
	waitFor(t, leaseDuration+6*retryPeriod, "the other replica to take over", func() (bool, error) {
		if leader.leading.Load() && other.leading.Load() {
			return false, errors.New("both replicas lead at once")
		}
		if other.leading.Load() {
			took = time.Since(died)
			return true, nil
		}
		return false, nil
	})
	if leader.leading.Load() {
		t.Error("the cut-off replica still leads after the other took over")
	}
	leader.stop()
	// The dead leader renewed at most retryPeriod before it was cut off, so the Lease cannot
	// be free sooner than leaseDuration-retryPeriod later. The other counts leaseDuration from
	// when it last saw the Lease change and looks again every retryPeriod plus a jitter of up
	// to 1.2 times as much (client-go's JitterFactor): two such waits bound the lateness.
	if earliest := leaseDuration - retryPeriod; took < earliest {
		t.Errorf("took over after %s, before the Lease could have expired (%s)", took, earliest)
	}
	if latest := leaseDuration + 2*retryPeriod*22/10; took > latest {
		t.Errorf("took over after %s, want within %s", took, latest)
	}
	if got := leaseHolder(t, ns, leaseName); got == holder || got == "" {
		t.Errorf("Lease holder %q after the takeover, want another than %q", got, holder)
	}
	if leader.terms.Load() != 1 || other.terms.Load() != 1 {
		t.Errorf("terms led: dead %d, other %d; want 1 each", leader.terms.Load(), other.terms.Load())
	}
	t.Logf("takeover %s after the leader died", took.Round(time.Millisecond))
}

func leaseHolder(t *testing.T, ns, name string) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	l, err := cs.CoordinationV1().Leases(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}
