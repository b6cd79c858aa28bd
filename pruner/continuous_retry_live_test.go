package pruner_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/registry"
	"github.com/pruneguard/pruneguard/pkg/server"
)

// switchRegistry is an OpenShift-dialect registry that answers the ping, and answers deletes
// with 503 while down and 202 while up. It counts the deletes of one blob while down.
type switchRegistry struct {
	addr  string
	down  atomic.Bool
	watch atomic.Value // string: the blob whose failed deletes are counted
	fails atomic.Int64
}

func newSwitchRegistry(t *testing.T) *switchRegistry {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &switchRegistry{addr: l.Addr().String()}
	s.watch.Store("")
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		switch {
		case r.Method == http.MethodGet:
			w.WriteHeader(http.StatusOK)
		case s.down.Load():
			if d := s.watch.Load().(string); d != "" && strings.HasSuffix(r.URL.Path, "/admin/blobs/"+d) {
				s.fails.Add(1)
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// TestRegistryDownThenUpIsRetriedWithoutAFullRound runs serve's continuous pruner on the real
// rig (API server, webhook with the fence, tracker, Badger index). The registry is down when
// an image's last pod goes: the fenced delete fails and the Image stays. The candidate is
// tried again after a doubling backoff (1 s, 2 s, ...), not every pass and not only at the
// next full round (10 min); once the registry is up again, the image is pruned.
func TestRegistryDownThenUpIsRetriedWithoutAFullRound(t *testing.T) {
	reg := newSwitchRegistry(t)
	opts := liveOptions()
	opts.PruneRegistry, opts.RegistryURL = true, "http://"+reg.addr
	r := startPruningRig(t, rigOptions{pruning: &server.Pruning{
		Options: opts, Namespace: probeNamespace, Dialect: registry.DialectOpenShift,
	}})
	ns := fenceNamespace(t, r, "registry-down")
	ctx := context.Background()
	pod, digest := referencedImage(t, r, ns, 0)
	full := r.srv.Continuous().Stats().FullRounds
	reg.watch.Store(digest)
	reg.down.Store(true)
	if err := r.env.Client.Delete(ctx, pod, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the first failed delete of the image's manifest blob", func() bool { return reg.fails.Load() >= 1 })
	time.Sleep(4500 * time.Millisecond)
	// Attempts at about 0, 1 and 3 s after the first (plus the fence protocol's own time).
	if n := reg.fails.Load(); n < 2 || n > 4 {
		t.Fatalf("%d failed deletes of %s in 4.5 s: want 2-4 (retried after a backoff of 1 s, doubling)", n, digest)
	}
	if ok, err := fencedImageExists(ctx, r.env.Client, digest); err != nil || !ok {
		t.Fatalf("the Image went although its blobs could not be deleted (exists=%v, err=%v)", ok, err)
	}
	if st := r.srv.Continuous().Stats(); st.Retrying == 0 {
		t.Errorf("stats %+v: nothing is retrying", st)
	}
	reg.down.Store(false)
	up := time.Now()
	waitUntil(t, 30*time.Second, "the image to be pruned once the registry is up", func() bool {
		ok, err := fencedImageExists(ctx, r.env.Client, digest)
		if err != nil {
			t.Fatal(err)
		}
		return !ok
	})
	st := r.srv.Continuous().Stats()
	if st.FullRounds != full {
		t.Fatalf("a full round ran (%d → %d): the retry must come from the backoff", full, st.FullRounds)
	}
	t.Logf("%d failed attempts while down; pruned %s after the registry came back; stats %+v",
		reg.fails.Load(), time.Since(up).Round(10*time.Millisecond), st)
}
