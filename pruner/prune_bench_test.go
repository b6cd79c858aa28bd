package pruner_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/bench/report"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pruner"
)

// pruneRuns is how many images one iteration of BenchmarkTimeToPrune waits for.
const pruneRuns = 10

// BenchmarkTimeToPrune measures the continuous mode's time to prune: an Image whose only
// referrer is a pod, the pod deleted, and the time until the Image object is gone from the API
// server, pruneRuns times. The pruner is the leader's (Continuous over the replica's live index,
// deleting through the fence protocol, API objects only) with --prune-interval=1s and
// --keep-younger-than=0; rounds come at that interval (nothing kicks a round on an index change
// yet), so the interval bounds the wait before a round and the default of 10 s would add up to
// 10 s to every figure.
func BenchmarkTimeToPrune(b *testing.B) {
	b.Run("interval=1s", func(b *testing.B) { benchTimeToPrune(b, time.Second) })
}

func benchTimeToPrune(b *testing.B, interval time.Duration) {
	r := startRig(b, rigOptions{})
	b.Cleanup(func() { liftAll(b, r.client) })
	ns := fenceNamespace(b, r, "time-to-prune")
	opts := pruner.NewOptions()
	younger := time.Duration(0)
	opts.KeepYoungerThan, opts.Confirm, opts.PruneRegistry = &younger, true, false
	cont := pruner.NewContinuous(pruner.ContinuousOptions{
		Reader: r.srv.Index(), Fenced: r.pruner, Options: opts, Interval: interval, Logger: logr.Discard(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = cont.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	var samples []time.Duration
	b.ResetTimer()
	for i := range b.N * pruneRuns {
		b.StopTimer()
		pod, digest := referencedImage(b, r, ns, i, interval)
		b.StartTimer()
		samples = append(samples, untilPruned(b, r, pod, digest))
	}
	b.StopTimer()
	report.Latencies(b, "time-to-prune-s", time.Second, samples)
}

// referencedImage creates a pod and the Image it references by digest, waits until the
// index holds both, and until the Image is older than the keep-younger-than cutoff of 0 (its
// creation time has a resolution of a second).
func referencedImage(b *testing.B, r *rig, ns string, i int, interval time.Duration) (*corev1.Pod, string) {
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
	// A random extra wait of up to the interval, so that the deletes fall at every phase of
	// the rounds rather than at one.
	time.Sleep(1100*time.Millisecond + rand.N(interval))
	if ok, err := fencedImageExists(ctx, r.env.Client, d); err != nil || !ok {
		b.Fatalf("image %s was pruned while referenced (exists=%v, err=%v)", d, ok, err)
	}
	return pod, d
}

// untilPruned deletes the pod and returns the time until the Image object is gone.
func untilPruned(b *testing.B, r *rig, pod *corev1.Pod, digest string) time.Duration {
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
