package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/pruneguard/pruneguard/pkg/server"
)

// testLease is the Lease timing of the replicas of these tests: short, so that a takeover
// takes seconds, with the margin LeaseDuration-RenewDeadline (2 s) that keeps a cut-off leader
// from leading when the other takes over still far above the API round trips of a loaded
// machine. A replica holds the Lease for LeaseDuration after its last renewal, and candidates
// look again every RetryPeriod (with up to 1.2 times as much jitter).
var testLease = server.LeaseTiming{LeaseDuration: 4 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 500 * time.Millisecond}

// apiSlack bounds the API round trips of the candidate's last attempts on a loaded machine.
const apiSlack = time.Second

// replica is one serve instance campaigning for the Lease, reaching the API server through
// its own proxy so that the test can cut it off.
type replica struct {
	proxy   *apiProxy
	stop    func()
	leading atomic.Bool
	terms   atomic.Int32
	// mu guards led: when each term began and ended (zero end while it lasts).
	mu  sync.Mutex
	led []term
}

type term struct{ from, to time.Time }

// record notes the start (begin) or the end of a term.
func (r *replica) record(begin bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if begin {
		r.led = append(r.led, term{from: time.Now()})
	} else {
		r.led[len(r.led)-1].to = time.Now()
	}
}

// overlap is how long a's and b's terms overlapped, a term still running counting until now.
func overlap(a, b *replica) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	var total time.Duration
	for _, x := range a.led {
		for _, y := range b.led {
			from, to := later(x.from, y.from), earlier(orNow(x.to), orNow(y.to))
			if to.After(from) {
				total += to.Sub(from)
			}
		}
	}
	return total
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func startReplica(t *testing.T, ns, leaseName string) *replica {
	r := &replica{proxy: startAPIProxy(t)}
	_, r.stop = launch(t, server.Options{
		Config: r.proxy.config(), WebhookPort: -1,
		LeaderElect: true, LeaderElectionNamespace: ns, LeaderElectionID: leaseName, Lease: testLease,
		OnLeader: func(ctx context.Context) error {
			r.terms.Add(1)
			r.record(true)
			r.leading.Store(true)
			<-ctx.Done()
			r.leading.Store(false)
			r.record(false)
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

// leaderRuns numbers the runs of the takeover test.
var leaderRuns atomic.Int32

func TestOneReplicaLeadsAndAnotherTakesOverWhenItDies(t *testing.T) {
	// A Lease of its own per run, so that -count repeats start from no holder.
	const ns = "leader-election"
	leaseName := fmt.Sprintf("pruneguard-leader-test-%d", leaderRuns.Add(1))
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	a, b := startReplica(t, ns, leaseName), startReplica(t, ns, leaseName)

	waitFor(t, time.Minute, "a replica to lead", func() (bool, error) {
		n, _ := leaders(a, b)
		return n == 1, nil
	})
	// Two full retry periods later the other has tried to acquire at least once: still one.
	for end := time.Now().Add(2*testLease.RetryPeriod + time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
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
	waitFor(t, testLease.LeaseDuration+6*testLease.RetryPeriod+apiSlack, "the other replica to take over", func() (bool, error) {
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
	// The dead leader renewed at most RetryPeriod before it was cut off, so the Lease cannot
	// be free sooner than LeaseDuration-RetryPeriod later. The other counts LeaseDuration from
	// when it last saw the Lease change and looks again every RetryPeriod plus a jitter of up
	// to 1.2 times as much (client-go's JitterFactor): two such waits and the round trips of
	// its attempts bound the lateness.
	lease, retry := testLease.LeaseDuration, testLease.RetryPeriod
	if earliest := lease - retry; took < earliest {
		t.Errorf("took over after %s, before the Lease could have expired (%s)", took, earliest)
	}
	if latest := lease + 2*retry*22/10 + apiSlack; took > latest {
		t.Errorf("took over after %s, want within %s", took, latest)
	}
	if got := leaseHolder(t, ns, leaseName); got == holder || got == "" {
		t.Errorf("Lease holder %q after the takeover, want another than %q", got, holder)
	}
	if leader.terms.Load() != 1 || other.terms.Load() != 1 {
		t.Errorf("terms led: dead %d, other %d; want 1 each", leader.terms.Load(), other.terms.Load())
	}
	// The polls above sample; the recorded terms show any overlap, however short.
	if d := overlap(a, b); d > 0 {
		t.Errorf("the replicas led at once for %s", d)
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

func TestLeaseTimingThatCouldLetTwoLeadIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lease server.LeaseTiming
		want  string
	}{
		{"a renew deadline not shorter than the lease duration is refused",
			server.LeaseTiming{LeaseDuration: 2 * time.Second, RenewDeadline: 2 * time.Second},
			"RenewDeadline 2s must be shorter than LeaseDuration 2s"},
		{"a renew deadline with no room for one jittered retry is refused (LeaseDuration defaulted)",
			server.LeaseTiming{RenewDeadline: 2 * time.Second, RetryPeriod: 2 * time.Second},
			"RenewDeadline 2s must exceed 1.2 times RetryPeriod 2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := build(t, server.Options{
				Config: env.Config, WebhookPort: -1,
				LeaderElect: true, LeaderElectionNamespace: "lease-timing", Lease: tc.lease,
			})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := srv.Run(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run returned %v, want an error containing %q", err, tc.want)
			}
			if ctx.Err() != nil {
				t.Fatal("Run returned only when the test gave up, not at once")
			}
		})
	}
}
