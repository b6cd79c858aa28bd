package pruner_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pruneguard/pruneguard/pkg/testenv"
	"github.com/pruneguard/pruneguard/pruner"
)

// listPolicy prunes every unreferenced Image: its Now is an hour ahead.
func listPolicy() pruner.Policy {
	return pruner.Policy{Now: time.Now().Add(time.Hour), KeepTagRevisions: 1, KeepYoungerThan: time.Minute, AllImages: true}
}

// createList creates a managed manifest list Image whose only child is child.
func createList(ctx context.Context, t *testing.T, r *rig, seed, child string) string {
	t.Helper()
	d := seedDigest(seed)
	img := &imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: testenv.ImageObjectName(d), Annotations: map[string]string{testenv.ManagedAnnotation: "true"}},
		DockerImageReference:         pullSpec(d),
		DockerImageManifestMediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
		DockerImageManifests: []imagev1.ImageManifest{{Digest: child, MediaType: "application/vnd.docker.distribution.manifest.v2+json",
			ManifestSize: 500, Architecture: "amd64", OS: "linux"}},
	}
	if err := r.env.Client.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	return d
}

// listWorld is a manifest list and its only child, both unreferenced and planned for deletion
// together, and a fenced pruner that reads manifest lists through a ListReader (as serve does)
// and counts the fences it makes.
type listWorld struct {
	list, child string
	plan        *pruner.Plan
	pruner      *pruner.FencedPruner
	fences      int
}

func newListWorld(t *testing.T, r *rig) *listWorld {
	t.Helper()
	ctx := context.Background()
	seed := fmt.Sprintf("list-%s-%d", t.Name(), time.Now().UnixNano())
	w := &listWorld{}
	var err error
	if w.child, err = createImage(ctx, r.env.Client, seed+"-child"); err != nil {
		t.Fatal(err)
	}
	w.list = createList(ctx, t, r, seed, w.child)
	waitIndexed(t, r, w.list, w.child)

	lists := pruner.NewListReader(r.srv.Index())
	pl := pruner.NewPlanner(lists, listPolicy())
	w.plan = &pruner.Plan{}
	for _, d := range []string{w.list, w.child} {
		ip, del, err := pl.PlanImage(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if !del {
			t.Fatalf("image %s is not planned for deletion: %+v", d, ip.Reason)
		}
		w.plan.Images = append(w.plan.Images, ip)
	}
	opts := r.opts
	opts.Reader = lists
	opts.Hook = func(s pruner.Step) error {
		if s == pruner.StepFenced {
			w.fences++
		}
		return nil
	}
	w.pruner = pruner.NewFencedPruner(opts)
	return w
}

func planDigests(p *pruner.Plan) []string {
	var out []string
	for _, ip := range p.Images {
		out = append(out, ip.Digest)
	}
	sort.Strings(out)
	return out
}

// A manifest list and its only child pruned in one fence both go: the re-check does not keep
// the child for a list that the same fence deletes.
func TestFenceDeletesAManifestListAndItsOnlyChildInOneFence(t *testing.T) {
	r := startRig(t, rigOptions{})
	t.Cleanup(func() { liftAll(t, r.client) })
	ctx := context.Background()
	w := newListWorld(t, r)

	out, err := w.pruner.Prune(ctx, w.plan, listPolicy())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{w.child, w.list}
	sort.Strings(want)
	if got := planDigests(out.Plan); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("deleted %v, want the list and its child %v", got, want)
	}
	if w.fences != 1 {
		t.Errorf("the prune made %d fences, want 1", w.fences)
	}
	for _, d := range want {
		if ok, err := fencedImageExists(ctx, r.env.Client, d); err != nil || ok {
			t.Errorf("image %s still exists (err %v)", d, err)
		}
	}
	if left := remainingFences(t, r.client); len(left) > 0 {
		t.Fatalf("fences left: %v", left)
	}
}

// A list that gains a referrer between the plan and the fence is kept by the re-check, and its
// child with it, although both are fenced.
func TestFenceKeepsTheChildOfAManifestListTheRecheckKeeps(t *testing.T) {
	r := startRig(t, rigOptions{})
	t.Cleanup(func() { liftAll(t, r.client) })
	ctx := context.Background()
	w := newListWorld(t, r)
	ns := fenceNamespace(t, r, "list-kept")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "late"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: pullSpec(w.list)}}}}
	if err := r.env.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}

	out, err := w.pruner.Prune(ctx, w.plan, listPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if got := planDigests(out.Plan); len(got) > 0 {
		t.Fatalf("deleted %v, want nothing: the list is referenced and holds the child", got)
	}
	if w.fences != 1 {
		t.Errorf("the prune made %d fences, want 1", w.fences)
	}
	for _, d := range []string{w.list, w.child} {
		if ok, err := fencedImageExists(ctx, r.env.Client, d); err != nil || !ok {
			t.Errorf("image %s is gone (err %v)", d, err)
		}
	}
	if left := remainingFences(t, r.client); len(left) > 0 {
		t.Fatalf("fences left: %v", left)
	}
}
