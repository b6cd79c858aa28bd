package pruner_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pruneguard/pruneguard/pruner"
)

// A pruner killed between any two steps of the protocol leaves nothing wrong behind: after
// a restart (Recover), no referenced image is deleted and no fence is left; a kill before
// Deleting deletes nothing, a kill from Deleting on finishes the deletion.
func TestFenceKilledAtEveryStepRecovers(t *testing.T) {
	r := startRig(t, rigOptions{})
	t.Cleanup(func() { liftAll(t, r.client) })
	ctx := context.Background()
	steps := []pruner.Step{pruner.StepFenced, pruner.StepPropagated, pruner.StepVerified, pruner.StepRechecked,
		pruner.StepDeleting, pruner.StepDeleted, pruner.StepTombstoned}
	type pair struct{ free, used string }
	images := map[pruner.Step]pair{}
	for _, s := range steps {
		free, err := createImage(ctx, r.env.Client, "crash-free-"+string(s))
		if err != nil {
			t.Fatal(err)
		}
		used, err := createImage(ctx, r.env.Client, "crash-used-"+string(s))
		if err != nil {
			t.Fatal(err)
		}
		images[s] = pair{free, used}
		waitIndexed(t, r, free, used)
	}
	time.Sleep(2 * time.Second)
	ns := fenceNamespace(t, r, "crash")
	killed := errors.New("killed")
	for i, step := range steps {
		t.Run(string(step), func(t *testing.T) {
			im := images[step]
			plan := r.planImages(ctx, t, []string{im.free, im.used})
			if len(plan.Images) != 2 {
				t.Fatalf("planned %d images, want 2", len(plan.Images))
			}
			// A referrer appears after the plan: the re-check must keep its image.
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("user-%d", i)},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: pullSpec(im.used)}}}}
			if err := r.env.Client.Create(ctx, pod); err != nil {
				t.Fatal(err)
			}
			o := r.opts
			o.Hook = func(s pruner.Step) error {
				if s == step {
					return killed
				}
				return nil
			}
			if _, err := pruner.NewFencedPruner(o).Prune(ctx, plan, policyNow()); !errors.Is(err, pruner.ErrKilled) {
				t.Fatalf("Prune returned %v, want it killed at %s", err, step)
			}
			if left := remainingFences(t, r.client); len(left) != 1 {
				t.Fatalf("after the kill, fences %v, want the one fence", left)
			}
			restarted := pruner.NewFencedPruner(r.opts)
			if _, err := restarted.Recover(ctx, policyNow()); err != nil {
				t.Fatalf("Recover: %v", err)
			}
			if left := remainingFences(t, r.client); len(left) > 0 {
				t.Fatalf("fences left after recovery: %v", left)
			}
			if ok, _ := fencedImageExists(ctx, r.env.Client, im.used); !ok {
				t.Fatal("the referenced image was deleted")
			}
			freeExists, _ := fencedImageExists(ctx, r.env.Client, im.free)
			if deleting := i >= 4; freeExists == deleting {
				t.Fatalf("unreferenced image exists=%v after a kill at %s", freeExists, step)
			}
		})
	}
}
