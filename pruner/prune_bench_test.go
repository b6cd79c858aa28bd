package pruner_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/bench/report"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/pruner"
)

// pruneRuns is how many images one iteration of BenchmarkTimeToPrune waits for.
const pruneRuns = 10

// BenchmarkTimeToPrune measures the continuous mode's time to prune through serve's own
// path: a replica started with server.Options.Pruning (the leader's Continuous over the
// replica's live index, fed by the index's change feed, deleting through the fence protocol,
// API objects only, --keep-younger-than=0). An Image whose only referrer is a pod; the pod
// deleted; the time until the Image object is gone from the API server, pruneRuns times.
// The pod's delete reaches the index through the tracker's watch, the index reports the
// Image as a candidate, and the pruner's next pass (rate limit 100 ms) fences and deletes
// it. The full round's interval plays no part; it is left at its default of 10 minutes.
//
// It reports the wall-clock figures (time-to-prune-s) and the pruner's own observation of
// pruneguard_time_to_prune_seconds (from the index commit that made the Image prunable to
// its deletion) as observed-s/mean.
func BenchmarkTimeToPrune(b *testing.B) {
	b.Run("path=serve", func(b *testing.B) { benchTimeToPrune(b) })
}

func benchTimeToPrune(b *testing.B) {
	opts := pruner.NewOptions()
	younger := time.Duration(0)
	opts.KeepYoungerThan, opts.Confirm, opts.PruneRegistry = &younger, true, false
	r := startRig(b, rigOptions{pruning: &server.Pruning{Options: opts, Namespace: probeNamespace}})
	b.Cleanup(func() { liftAll(b, r.client) })
	ns := fenceNamespace(b, r, "time-to-prune")
	waitUntil(b, time.Minute, "the leader's pruner to start", func() bool {
		c := r.srv.Continuous()
		return c != nil && c.Stats().FullRounds > 0
	})

	var samples []time.Duration
	b.ResetTimer()
	for i := range b.N * pruneRuns {
		b.StopTimer()
		pod, digest := referencedImage(b, r, ns, i)
		b.StartTimer()
		samples = append(samples, untilPruned(b, r, pod, digest))
	}
	b.StopTimer()
	report.Latencies(b, "time-to-prune-s", time.Second, samples)
	h := &dto.Metric{}
	if err := r.srv.Metrics.TimeToPrune.Write(h); err != nil {
		b.Fatal(err)
	}
	if n := h.GetHistogram().GetSampleCount(); n > 0 {
		b.ReportMetric(h.GetHistogram().GetSampleSum()/float64(n), "observed-s/mean")
	} else {
		b.Fatal("pruneguard_time_to_prune_seconds observed nothing")
	}
}

// referencedImage creates a pod and the Image it references by digest, waits until the
// index holds both, and until the Image is older than the keep-younger-than cutoff of 0 (its
// creation time has a resolution of a second).
func referencedImage(b testing.TB, r *rig, ns string, i int) (*corev1.Pod, string) {
	ctx := context.Background()
	// The pod comes first: an unreferenced Image older than the cutoff of 0 is fair game for
	// the next round, and a round may come between two creates.
	seed := fmt.Sprintf("time-to-prune-%d-%d", time.Now().UnixNano(), i)
	d := seedDigest(seed)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("user-%d", i)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: pullSpec(d)}}}}
	if err := r.env.Client.Create(ctx, pod); err != nil {
		b.Fatal(err)
	}
	waitUntil(b, 30*time.Second, "the pod to be indexed", func() bool {
		_, ok, err := r.srv.Index().Object(ctx, model.ObjectKey{Kind: model.KindPod, Namespace: ns, Name: pod.Name})
		if err != nil {
			b.Fatal(err)
		}
		return ok
	})
	if _, err := createImage(ctx, r.env.Client, seed); err != nil {
		b.Fatalf("create image %s: %v", d, err)
	}
	waitIndexed(b, r, d)
	waitUntil(b, 30*time.Second, "the pod to be indexed as the image's referrer", func() bool {
		refs, err := r.srv.Index().ReferrersOfDigest(ctx, "", d)
		if err != nil {
			b.Fatal(err)
		}
		for _, ref := range refs {
			if ref.Object.Name == pod.Name && !ref.Pending {
				return true
			}
		}
		return false
	})
	// Past the second of the Image's creation time, plus a random wait, so that the deletes
	// fall at every phase of the pruner's passes rather than at one.
	time.Sleep(1100*time.Millisecond + rand.N(500*time.Millisecond))
	if ok, err := fencedImageExists(ctx, r.env.Client, d); err != nil || !ok {
		b.Fatalf("image %s was pruned while referenced (exists=%v, err=%v)", d, ok, err)
	}
	return pod, d
}

// untilPruned deletes the pod and returns the time until the Image object is gone.
func untilPruned(b testing.TB, r *rig, pod *corev1.Pod, digest string) time.Duration {
	ctx := context.Background()
	start := time.Now()
	if err := r.env.Client.Delete(ctx, pod, client.GracePeriodSeconds(0)); err != nil {
		b.Fatal(err)
	}
	for deadline := start.Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		ok, err := fencedImageExists(ctx, r.env.Client, digest)
		if err != nil {
			b.Fatal(err)
		}
		if !ok {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			b.Fatalf("image %s still exists a minute after its last referrer went", digest)
		}
	}
}
