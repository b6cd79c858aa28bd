package pruner_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/pruner"
)

// liveOptions is the policy of the live continuous tests: everything old enough at once, API
// objects only (the fence env has no registry).
func liveOptions() pruner.Options {
	opts := pruner.NewOptions()
	younger := time.Duration(0)
	opts.KeepYoungerThan, opts.Confirm, opts.PruneRegistry = &younger, true, false
	return opts
}

// startPruningRig starts a replica that prunes continuously as serve does and waits until its
// pruner has made its first full round.
func startPruningRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	r := startRig(t, o)
	t.Cleanup(func() { liftAll(t, r.client) })
	waitUntil(t, time.Minute, "the leader's pruner to start", func() bool {
		c := r.srv.Continuous()
		return c != nil && c.Stats().FullRounds > 0
	})
	return r
}

func TestPauseSwitchStopsDeletionsAndUnpausingResumesThem(t *testing.T) {
	lease := fmt.Sprintf("pause-test-%d", time.Now().UnixNano())
	r := startPruningRig(t, rigOptions{pruning: &server.Pruning{Options: liveOptions(), Namespace: probeNamespace}, leaseID: lease})
	ns := fenceNamespace(t, r, "pause")
	ctx := context.Background()
	setPaused := func(v string) {
		t.Helper()
		var l coordinationv1.Lease
		if err := r.env.Client.Get(ctx, client.ObjectKey{Namespace: probeNamespace, Name: lease}, &l); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(l.DeepCopy())
		if l.Annotations == nil {
			l.Annotations = map[string]string{}
		}
		l.Annotations[server.PausedAnnotation] = v
		if err := r.env.Client.Patch(ctx, &l, patch); err != nil {
			t.Fatal(err)
		}
	}
	pod, digest := referencedImage(t, r, ns, 0)
	setPaused("true")
	passes := r.srv.Continuous().Stats().Passes
	if err := r.env.Client.Delete(ctx, pod, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the pod's delete to reach the index", func() bool {
		refs, err := r.srv.Index().ReferrersOfDigest(ctx, "", digest)
		if err != nil {
			t.Fatal(err)
		}
		return len(refs) == 0
	})
	time.Sleep(3 * time.Second)
	if ok, err := fencedImageExists(ctx, r.env.Client, digest); err != nil || !ok {
		t.Fatalf("image %s was pruned while the pruner was paused (exists=%v, err=%v)", digest, ok, err)
	}
	if got := r.srv.Continuous().Stats().Passes; got != passes {
		t.Errorf("the paused pruner ran %d passes", got-passes)
	}
	setPaused("false")
	waitUntil(t, 15*time.Second, "the unpaused pruner to delete the image", func() bool {
		ok, err := fencedImageExists(ctx, r.env.Client, digest)
		if err != nil {
			t.Fatal(err)
		}
		return !ok
	})
}

func TestLeaderRetriesSettingUpPruningUntilTheRegistryAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there yet: the registry is down
	opts := liveOptions()
	opts.PruneRegistry, opts.RegistryURL = true, "http://"+addr
	r := startRig(t, rigOptions{pruning: &server.Pruning{Options: opts, Namespace: probeNamespace, SetupRetry: 200 * time.Millisecond}})
	time.Sleep(2 * time.Second)
	if r.srv.Continuous() != nil {
		t.Fatal("the pruner started although its registry cannot be reached")
	}
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	waitUntil(t, 30*time.Second, "the leader to set pruning up once the registry answers", func() bool {
		c := r.srv.Continuous()
		return c != nil && c.Stats().FullRounds > 0
	})
}

func TestAChangePlansOnlyItsOwnCandidates(t *testing.T) {
	r := startPruningRig(t, rigOptions{pruning: &server.Pruning{Options: liveOptions(), Namespace: probeNamespace}})
	ns := fenceNamespace(t, r, "per-candidate")
	ctx := context.Background()
	var pods []clientObject
	for i := range 10 {
		pod, _ := referencedImage(t, r, ns, i)
		pods = append(pods, pod)
	}
	images := 0
	if err := r.srv.Index().Images(ctx, func(model.Image) error { images++; return nil }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // let the passes of the creates finish
	before := r.srv.Continuous().Stats()
	pod, digest := pods[3], ""
	refs, ok, err := r.srv.Index().Object(ctx, model.ObjectKey{Kind: model.KindPod, Namespace: ns, Name: pod.GetName()})
	if err != nil || !ok || len(refs.Refs) == 0 {
		t.Fatalf("pod %s not indexed (ok=%v): %v", pod.GetName(), ok, err)
	}
	digest = refs.Refs[0].Digest
	if d := untilPruned(t, r, pod.(*corev1.Pod), digest); d <= 0 {
		t.Fatal("no time measured")
	}
	time.Sleep(time.Second)
	after := r.srv.Continuous().Stats()
	planned := after.Images - before.Images
	if after.FullRounds != before.FullRounds {
		t.Fatalf("a full round ran (%d → %d)", before.FullRounds, after.FullRounds)
	}
	// The pod's delete and the Image's delete each bring up that one Image.
	if planned < 1 || planned > 3 || images < 10 {
		t.Fatalf("one pod's delete planned %d image candidates (index holds %d images); want 1–3", planned, images)
	}
	t.Logf("index holds %d images; one pod's delete planned %d image and %d stream candidates in %d passes",
		images, planned, after.Streams-before.Streams, after.Passes-before.Passes)
}
