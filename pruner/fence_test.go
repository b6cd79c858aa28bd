package pruner_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pruneguard/pruneguard/pruner"
)

// policyNow prunes every Image older than a second that nothing references.
func policyNow() pruner.Policy {
	return pruner.Policy{Now: time.Now(), KeepTagRevisions: 3, KeepYoungerThan: time.Second, AllImages: true}
}

// planImages plans the given images from the rig's index, as the continuous pruner does.
func (r *rig) planImages(ctx context.Context, t testing.TB, digests []string) *pruner.Plan {
	t.Helper()
	pl := pruner.NewPlanner(r.srv.Index(), policyNow())
	plan := &pruner.Plan{}
	for _, d := range digests {
		ip, del, err := pl.PlanImage(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if del {
			plan.Images = append(plan.Images, ip)
		}
	}
	return plan
}

func waitIndexed(t testing.TB, r *rig, digests ...string) {
	waitUntil(t, 30*time.Second, "the images to be indexed", func() bool {
		for _, d := range digests {
			if _, ok, _ := r.srv.Index().Image(context.Background(), d); !ok {
				return false
			}
		}
		return true
	})
}

// A referrer created after the plan but before the fence is found by the re-check: its image
// is kept, the unreferenced one deleted, and no fence is left.
func TestFenceKeepsWhatTheRecheckFindsReferenced(t *testing.T) {
	r := startRig(t, rigOptions{})
	t.Cleanup(func() { liftAll(t, r.client) })
	ctx := context.Background()
	a, err := createImage(ctx, r.env.Client, "recheck-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := createImage(ctx, r.env.Client, "recheck-b")
	if err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, r, a, b)
	time.Sleep(2 * time.Second) // past keep-younger-than
	plan := r.planImages(ctx, t, []string{a, b})
	if len(plan.Images) != 2 {
		t.Fatalf("planned %d images, want both", len(plan.Images))
	}
	ns := fenceNamespace(t, r, "recheck")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "late"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: pullSpec(a)}}}}
	if err := r.env.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	out, err := r.pruner.Prune(ctx, plan, policyNow())
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Plan.Images; len(got) != 1 || got[0].Digest != b {
		t.Fatalf("deleted %v, want only %s", out.Plan.Images, b)
	}
	if ok, _ := fencedImageExists(ctx, r.env.Client, a); !ok {
		t.Fatal("the referenced image was deleted")
	}
	if ok, _ := fencedImageExists(ctx, r.env.Client, b); ok {
		t.Fatal("the unreferenced image was not deleted")
	}
	if left := remainingFences(t, r.client); len(left) > 0 {
		t.Fatalf("fences left: %v", left)
	}
}

// With the webhook unregistered, the probe is admitted: the verify step refuses to delete and
// lifts the fence.
func TestFenceVerifyRefusesWithoutTheWebhook(t *testing.T) {
	r := startRig(t, rigOptions{})
	ctx := context.Background()
	a, err := createImage(ctx, r.env.Client, "unregistered-a")
	if err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, r, a)
	time.Sleep(2 * time.Second)
	plan := r.planImages(ctx, t, []string{a})
	if len(plan.Images) != 1 {
		t.Fatalf("planned %d images, want 1", len(plan.Images))
	}
	vwc := fenceEnv.vwc.DeepCopyObject().(interface{ GetName() string })
	if err := r.env.Client.Delete(ctx, fenceEnv.vwc.DeepCopyObject().(clientObject)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		reg := fenceEnv.vwc.DeepCopyObject().(clientObject)
		reg.SetResourceVersion("")
		if err := r.env.Client.Create(ctx, reg); err != nil {
			t.Errorf("failed to register webhook %s again: %v", vwc.GetName(), err)
		}
	})
	time.Sleep(time.Second) // the API server's webhook configuration informer
	_, err = r.pruner.Prune(ctx, plan, policyNow())
	if !errors.Is(err, pruner.ErrNotEnforced) {
		t.Fatalf("Prune returned %v, want ErrNotEnforced", err)
	}
	if !strings.Contains(err.Error(), "admitted") {
		t.Errorf("the error does not say the probe was admitted: %v", err)
	}
	if ok, _ := fencedImageExists(ctx, r.env.Client, a); !ok {
		t.Fatal("an image was deleted although the fence was not enforced")
	}
	if left := remainingFences(t, r.client); len(left) > 0 {
		t.Fatalf("fences left: %v", left)
	}
}
