package pruner_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/fence"
	"github.com/pruneguard/pruneguard/pruner"
)

// registryPolicy prunes every stream item past the newest revision, with registry pruning: its
// Now is an hour ahead, so everything the test created is old.
func registryPolicy() pruner.Policy {
	return pruner.Policy{Now: time.Now().Add(time.Hour), KeepTagRevisions: 1, KeepYoungerThan: time.Minute,
		AllImages: true, PruneRegistry: true}
}

// linkLog is the registry side of the executor: it records each deletion, "layer REPO D",
// "manifest REPO D" or "blob D". The fence env has no registry; what is under test here is
// the fence (webhook, probe, re-check), and the API objects are real.
type linkLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *linkLog) add(s string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
	return nil
}

func (l *linkLog) DeleteLayerLink(_ context.Context, repo, d string) error {
	return l.add("layer " + repo + " " + d)
}

func (l *linkLog) DeleteManifestLink(_ context.Context, repo, d string) error {
	return l.add("manifest " + repo + " " + d)
}
func (l *linkLog) DeleteBlob(_ context.Context, d string) error { return l.add("blob " + d) }

func (l *linkLog) sorted() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]string(nil), l.calls...)
	sort.Strings(out)
	return out
}

// createStream creates ns/name with one status tag "t" holding digests, newest first, each
// item a minute older than the one before.
func createStream(ctx context.Context, t *testing.T, r *rig, ns, name string, digests ...string) {
	t.Helper()
	is := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := r.env.Client.Create(ctx, is); err != nil {
		t.Fatal(err)
	}
	tag := imagev1.NamedTagEventList{Tag: "t"}
	for i, d := range digests {
		tag.Items = append(tag.Items, imagev1.TagEvent{
			Created:              metav1.NewTime(time.Now().Add(-time.Duration(i+1) * time.Minute)),
			DockerImageReference: registryHost + "/" + ns + "/" + name + "@" + d, Image: d,
		})
	}
	is.Status.Tags = []imagev1.NamedTagEventList{tag}
	if err := r.env.Client.Status().Update(ctx, is); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "image stream "+ns+"/"+name+" to be indexed", func() bool {
		s, ok, err := r.srv.Index().Stream(ctx, ns, name)
		return err == nil && ok && len(s.Tags) == 1 && len(s.Tags[0].Items) == len(digests)
	})
}

// statusItems returns the images of tag t of ns/name in the API, newest first.
func statusItems(ctx context.Context, t *testing.T, r *rig, ns, name string) []string {
	t.Helper()
	var is imagev1.ImageStream
	if err := r.env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &is); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tag := range is.Status.Tags {
		for _, it := range tag.Items {
			out = append(out, it.Image)
		}
	}
	return out
}

// blobsOnlyWorld is ns/app:t = [x, y] and ns/other:t = [y]: keeping one revision removes item
// 1 of ns/app, whose image y stays (ns/other holds it), so the prune frees only y's layer link
// and manifest link in ns/app. plan is that prune; spec the fence it makes.
type blobsOnlyWorld struct {
	ns, x, y, layerY string
	plan             *pruner.Plan
	log              *linkLog
	pruner           *pruner.FencedPruner
	specs            []fence.Spec // the fence of each Prune, read at StepFenced
}

func newBlobsOnlyWorld(t *testing.T, r *rig) *blobsOnlyWorld {
	t.Helper()
	ctx := context.Background()
	w := &blobsOnlyWorld{ns: fenceNamespace(t, r, "blobs"), log: &linkLog{}}
	seed := fmt.Sprintf("blobs-%s-%d", t.Name(), time.Now().UnixNano())
	var err error
	if w.x, err = createImage(ctx, r.env.Client, seed+"-x"); err != nil {
		t.Fatal(err)
	}
	if w.y, err = createImage(ctx, r.env.Client, seed+"-y"); err != nil {
		t.Fatal(err)
	}
	w.layerY = seedDigest(seed + "-y-layer")
	waitIndexed(t, r, w.x, w.y)
	createStream(ctx, t, r, w.ns, "app", w.x, w.y)
	createStream(ctx, t, r, w.ns, "other", w.y)

	s, _, err := r.srv.Index().Stream(ctx, w.ns, "app")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := pruner.NewPlanner(r.srv.Index(), registryPolicy()).PlanStream(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.Deleted) != 1 || sp.Deleted[0].Image != w.y || !reflect.DeepEqual(sp.LayerLinks, []string{w.layerY}) {
		t.Fatalf("planned %+v with layer links %v; want item 1 (%s) and the link of %s", sp.Deleted, sp.LayerLinks, w.y, w.layerY)
	}
	w.plan = &pruner.Plan{Streams: []pruner.StreamPlan{sp}}

	opts := r.opts
	exec := *opts.Executor
	exec.Deleters.LayerLinks, exec.Deleters.ManifestLinks, exec.Deleters.Blobs = w.log, w.log, w.log
	opts.Executor = &exec
	opts.Hook = func(s pruner.Step) error {
		if s == pruner.StepFenced {
			var list fence.FenceList
			if err := r.client.List(ctx, &list); err != nil {
				return err
			}
			for _, f := range list.Items {
				w.specs = append(w.specs, f.Spec)
			}
		}
		return nil
	}
	w.pruner = pruner.NewFencedPruner(opts)
	return w
}

// A prune whose only deletion is a stream item below item 0 whose image another stream still
// holds fences blobs alone; the probe proves that fence with a dry-run Image using the blob,
// and the item and its links go while both Images stay.
func TestFenceOfBlobsAloneIsVerifiedAndPrunes(t *testing.T) {
	r := startRig(t, rigOptions{})
	t.Cleanup(func() { liftAll(t, r.client) })
	ctx := context.Background()
	w := newBlobsOnlyWorld(t, r)

	out, err := w.pruner.Prune(ctx, w.plan, registryPolicy())
	if err != nil {
		t.Fatalf("Prune: %v%s", err, clusterScopedHint())
	}
	if len(w.specs) != 1 {
		t.Fatalf("%d fences stood during the prune, want 1", len(w.specs))
	}
	if s := w.specs[0]; len(s.Images) != 0 || len(s.Tags) != 0 || !reflect.DeepEqual(s.Blobs, []string{w.layerY}) {
		t.Fatalf("the fence was %+v; want blob %s alone", s, w.layerY)
	}
	if len(out.Plan.Streams) != 1 || len(out.Plan.Streams[0].Deleted) != 1 {
		t.Fatalf("deleted %+v, want the one item", out.Plan.Streams)
	}
	if got := statusItems(ctx, t, r, w.ns, "app"); !reflect.DeepEqual(got, []string{w.x}) {
		t.Errorf("%s/app holds %v after the prune, want only %s", w.ns, got, w.x)
	}
	if got := statusItems(ctx, t, r, w.ns, "other"); !reflect.DeepEqual(got, []string{w.y}) {
		t.Errorf("%s/other holds %v after the prune, want %s untouched", w.ns, got, w.y)
	}
	for _, d := range []string{w.x, w.y} {
		if ok, err := fencedImageExists(ctx, r.env.Client, d); err != nil || !ok {
			t.Errorf("image %s is gone (err %v) although a stream item holds it", d, err)
		}
	}
	want := []string{"layer " + w.ns + "/app " + w.layerY, "manifest " + w.ns + "/app " + w.y}
	if got := w.log.sorted(); !reflect.DeepEqual(got, want) {
		t.Errorf("registry deletions %v, want %v", got, want)
	}
	if left := remainingFences(t, r.client); len(left) > 0 {
		t.Fatalf("fences left: %v", left)
	}
}

// With the webhook unregistered, the dry-run Image that uses the fenced blob is admitted: the
// blobs-only fence is reported as not enforced and nothing is deleted.
func TestFenceOfBlobsAloneIsNotEnforcedWithoutTheWebhook(t *testing.T) {
	r := startRig(t, rigOptions{})
	t.Cleanup(func() { liftAll(t, r.client) })
	ctx := context.Background()
	w := newBlobsOnlyWorld(t, r)
	unregisterWebhook(ctx, t, r)

	_, err := w.pruner.Prune(ctx, w.plan, registryPolicy())
	if !errors.Is(err, pruner.ErrNotEnforced) {
		t.Fatalf("Prune returned %v, want ErrNotEnforced", err)
	}
	if !strings.Contains(err.Error(), "Image with layer "+w.layerY) || !strings.Contains(err.Error(), "admitted") {
		t.Errorf("the error does not say the Image probe of the blob was admitted: %v", err)
	}
	if got := statusItems(ctx, t, r, w.ns, "app"); !reflect.DeepEqual(got, []string{w.x, w.y}) {
		t.Errorf("%s/app holds %v, want both items kept", w.ns, got)
	}
	if got := w.log.sorted(); len(got) > 0 {
		t.Errorf("registry deletions %v although the fence was not enforced", got)
	}
	if left := remainingFences(t, r.client); len(left) > 0 {
		t.Fatalf("fences left: %v", left)
	}
}

// clusterScopedHint explains a probe of an Image that was admitted although the webhook is
// registered: a match condition that reads request.namespace fails on a cluster-scoped
// request (the key is absent), and with failurePolicy Ignore the Image is never sent.
func clusterScopedHint() string {
	vwc := fenceEnv.vwc.(*admissionregistrationv1.ValidatingWebhookConfiguration)
	for _, w := range vwc.Webhooks {
		for _, c := range w.MatchConditions {
			if strings.Contains(c.Expression, "request.namespace") && !strings.Contains(c.Expression, "has(request.namespace)") {
				return fmt.Sprintf("\nthe chart's match condition %s reads request.namespace without has(request.namespace): "+
					"it errors on cluster-scoped requests (Images), so they never reach the webhook", c.Name)
			}
		}
	}
	return ""
}

// unregisterWebhook removes the chart's webhook configuration until the test ends.
func unregisterWebhook(ctx context.Context, t *testing.T, r *rig) {
	t.Helper()
	if err := r.env.Client.Delete(ctx, fenceEnv.vwc.DeepCopyObject().(clientObject)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		reg := fenceEnv.vwc.DeepCopyObject().(clientObject)
		reg.SetResourceVersion("")
		if err := r.env.Client.Create(ctx, reg); err != nil {
			t.Errorf("failed to register the webhook again: %v", err)
		}
	})
	time.Sleep(time.Second) // the API server's webhook configuration informer
}
