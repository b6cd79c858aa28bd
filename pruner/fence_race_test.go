package pruner_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	kappsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// raceDuration is how long the creators race the pruner; short, because the machine is small.
const raceDuration = 8 * time.Second

var digestInMessage = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// raceResult counts what happened in a race.
type raceResult struct {
	creates, denials, deletions int
	// violations are objects that reference an image that no longer exists.
	violations []string
	// badDenials are denials that named no image the pruner fenced.
	badDenials []string
}

// pool is the set of images the creators pick from; the pruner adds new ones and removes
// the ones it deleted.
type pool struct {
	mu     sync.Mutex
	live   []string
	fenced map[string]bool
}

func (p *pool) pick(r *rand.Rand) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.live) == 0 {
		return ""
	}
	return p.live[r.IntN(len(p.live))]
}

// race runs creators of pods, deployments and builds referencing random images of a pool
// while the fenced pruner prunes the pool in a loop, then checks every object left in the
// cluster.
func race(t *testing.T, r *rig) raceResult {
	ctx := context.Background()
	ns := fenceNamespace(t, r, "race")
	p := &pool{fenced: map[string]bool{}}
	var res raceResult
	var creates, denials atomic.Int64
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				d := p.pick(rnd)
				if d == "" {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				obj := raceObject(ns, fmt.Sprintf("w%d-%d", w, i), i%3, pullSpec(d))
				err := r.env.Client.Create(ctx, obj)
				switch {
				case err == nil:
					creates.Add(1)
				case apierrors.IsForbidden(err):
					denials.Add(1)
					named := digestInMessage.FindString(err.Error())
					mu.Lock()
					res.badDenials = append(res.badDenials, named+"|"+err.Error())
					mu.Unlock()
					continue
				default:
					t.Errorf("create failed: %v", err)
					continue
				}
				// The object lives a moment, so that images become unreferenced again; if its
				// image was deleted meanwhile, the object referenced a deleted image.
				time.Sleep(time.Duration(100+rnd.IntN(200)) * time.Millisecond)
				exists, err := fencedImageExists(ctx, r.env.Client, d)
				if err != nil {
					t.Error(err)
				}
				if !exists {
					mu.Lock()
					res.violations = append(res.violations, fmt.Sprintf("%s %s referenced deleted image %s", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), d))
					mu.Unlock()
				}
				if err := r.env.Client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop); wg.Wait() }) }
	defer halt()
	deadline := time.Now().Add(raceDuration)
	for round := 0; time.Now().Before(deadline); round++ {
		res.deletions += pruneRound(ctx, t, r, p, round)
	}
	halt()
	res.creates, res.denials = int(creates.Load()), int(denials.Load())
	res.badDenials = keepBad(res.badDenials, p.fenced)
	res.violations = append(res.violations, violations(ctx, t, r, ns)...)
	return res
}

// pruneRound adds images to the pool, lets them age past keep-younger-than, and prunes every
// pool image the index says is unreferenced, through the fence.
func pruneRound(ctx context.Context, t *testing.T, r *rig, p *pool, round int) int {
	for i := range 4 {
		d, err := createImage(ctx, r.env.Client, fmt.Sprintf("race-%d-%d-%d", time.Now().UnixNano(), round, i))
		if err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		p.live = append(p.live, d)
		p.mu.Unlock()
	}
	time.Sleep(1500 * time.Millisecond) // keep-younger-than is a second; creators reference meanwhile
	p.mu.Lock()
	live := append([]string(nil), p.live...)
	p.mu.Unlock()
	plan := r.planImages(ctx, t, live)
	if len(plan.Images) == 0 {
		return 0
	}
	p.mu.Lock()
	for _, ip := range plan.Images {
		p.fenced[ip.Digest] = true
	}
	p.mu.Unlock()
	out, err := r.pruner.Prune(ctx, plan, policyNow())
	if err != nil {
		t.Fatalf("prune round %d: %v", round, err)
	}
	gone := map[string]bool{}
	for _, ip := range out.Plan.Images {
		gone[ip.Digest] = true
	}
	p.mu.Lock()
	kept := p.live[:0]
	for _, d := range p.live {
		if !gone[d] {
			kept = append(kept, d)
		}
	}
	p.live = kept
	p.mu.Unlock()
	return len(gone)
}

// raceObject is a pod, a deployment or a build referencing image.
func raceObject(ns, name string, kind int, image string) client.Object {
	meta := metav1.ObjectMeta{Namespace: ns, Name: name}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}
	switch kind {
	case 0:
		return &corev1.Pod{ObjectMeta: meta, Spec: spec}
	case 1:
		labels := map[string]string{"app": name}
		return &kappsv1.Deployment{ObjectMeta: meta, Spec: kappsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}}}
	default:
		return &buildv1.Build{ObjectMeta: meta, Spec: buildv1.BuildSpec{CommonSpec: buildv1.CommonSpec{
			Source: buildv1.BuildSource{Type: buildv1.BuildSourceGit, Git: &buildv1.GitBuildSource{URI: "https://example.com/app.git"}},
			Strategy: buildv1.BuildStrategy{Type: buildv1.SourceBuildStrategyType, SourceStrategy: &buildv1.SourceBuildStrategy{
				From: corev1.ObjectReference{Kind: "DockerImage", Name: image}}}}}}
	}
}

// keepBad returns the denials that named no fenced image.
func keepBad(denials []string, fenced map[string]bool) []string {
	var bad []string
	for _, d := range denials {
		named, msg, _ := cutPipe(d)
		if named == "" || !fenced[named] {
			bad = append(bad, msg)
		}
	}
	return bad
}

func cutPipe(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '|' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}

// violations lists the objects of ns that reference an image that does not exist.
func violations(ctx context.Context, t *testing.T, r *rig, ns string) []string {
	images := map[string][]string{}
	var pods corev1.PodList
	var deps kappsv1.DeploymentList
	var builds buildv1.BuildList
	for _, l := range []client.ObjectList{&pods, &deps, &builds} {
		if err := r.env.Client.List(ctx, l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pods.Items {
		images[p.Spec.Containers[0].Image] = append(images[p.Spec.Containers[0].Image], "pod "+p.Name)
	}
	for _, d := range deps.Items {
		img := d.Spec.Template.Spec.Containers[0].Image
		images[img] = append(images[img], "deployment "+d.Name)
	}
	for _, b := range builds.Items {
		img := b.Spec.Strategy.SourceStrategy.From.Name
		images[img] = append(images[img], "build "+b.Name)
	}
	var out []string
	for img, objs := range images {
		d := digestInMessage.FindString(img)
		ok, err := fencedImageExists(ctx, r.env.Client, d)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			out = append(out, fmt.Sprintf("%s reference deleted image %s", objs, d))
		}
	}
	return out
}

// The fence closes the gap: while creators keep referencing random images of a pool that the
// pruner prunes in a loop, no object ends up referencing a deleted image, and every refusal
// names an image the pruner fenced. Without the fence the gap is there every time: objects
// created between the plan and the delete are admitted, the index records them before the
// delete, and the delete still leaves them referencing a deleted image.
func TestFenceRaceClosesTheGap(t *testing.T) {
	t.Run("fenced", func(t *testing.T) {
		r := startRig(t, rigOptions{tombstone: time.Hour})
		t.Cleanup(func() { liftAll(t, r.client) })
		res := race(t, r)
		t.Logf("fenced: %d creates, %d denials, %d images deleted, %d objects referencing deleted images",
			res.creates, res.denials, res.deletions, len(res.violations))
		if len(res.violations) > 0 {
			t.Errorf("objects reference deleted images: %v", res.violations)
		}
		if len(res.badDenials) > 0 {
			t.Errorf("denials that name no fenced image: %v", res.badDenials)
		}
		if res.deletions == 0 || res.creates == 0 {
			t.Errorf("the race did not race: %d creates, %d deletions", res.creates, res.deletions)
		}
	})
	t.Run("unfenced", func(t *testing.T) {
		r := startRig(t, rigOptions{noFence: true})
		gapWithoutFence(t, r)
	})
}

// gapWithoutFence is the negative control, made deterministic: it holds a prune without a
// fence between its plan and its delete, creates a pod, a deployment and a build referencing
// the planned image in that window, waits until the index records all three (a plan made now
// keeps the image), then lets the delete go, and checks that the three objects are left
// referencing the deleted image.
func gapWithoutFence(t *testing.T, r *rig) {
	ctx := context.Background()
	ns := fenceNamespace(t, r, "gap")
	d, err := createImage(ctx, r.env.Client, fmt.Sprintf("gap-%d", time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, r, d)
	time.Sleep(2 * time.Second) // past keep-younger-than
	plan := r.planImages(ctx, t, []string{d})
	if len(plan.Images) != 1 || plan.Images[0].Digest != d {
		t.Fatalf("planned %v, want the unreferenced image %s", plan.Images, d)
	}
	// The window: the prune is held here, between its plan and its delete.
	var names []string
	for kind := range 3 {
		obj := raceObject(ns, fmt.Sprintf("gap-%d", kind), kind, pullSpec(d))
		if err := r.env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("create %T in the window: %v (without a fence nothing may be refused)", obj, err)
		}
		names = append(names, obj.GetName())
	}
	waitUntil(t, 30*time.Second, "the index to record the three references", func() bool {
		refs, err := r.srv.Index().ReferrersOfDigest(ctx, "", d)
		return err == nil && len(refs) >= 3
	})
	if again := r.planImages(ctx, t, []string{d}); len(again.Images) != 0 {
		t.Fatalf("a plan made after the creates still deletes %s: the index does not see the references", d)
	}
	out, err := r.opts.Executor.Execute(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Plan.Images) != 1 {
		t.Fatalf("the held delete deleted %v, want %s", out.Plan.Images, d)
	}
	if ok, err := fencedImageExists(ctx, r.env.Client, d); err != nil || ok {
		t.Fatalf("image %s exists after the delete (err %v)", d, err)
	}
	left := violations(ctx, t, r, ns)
	t.Logf("unfenced: created %v in the window; %v", names, left)
	if len(left) != 1 || len(digestInMessage.FindAllString(left[0], -1)) != 1 {
		t.Fatalf("violations %v: want the three objects referencing deleted image %s", left, d)
	}
	for _, n := range names {
		if !strings.Contains(left[0], n) {
			t.Errorf("object %s does not reference the deleted image: %v", n, left)
		}
	}
}
