package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	imagev1 "github.com/openshift/api/image/v1"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/webhook"
)

func TestDryRunCreateLeavesNoTrace(t *testing.T) {
	r := startServer(t, t.TempDir())
	createNamespace(t, "dry")
	ctx := context.Background()
	d := digestOf("dry-run")
	before := counter(t, r.registry, "pruneguard_webhook_requests_total")
	p := &corev1.Pod{ObjectMeta: meta("dry", "ghost"), Spec: podSpec(registryHost+"/dry/app@"+d, "")}
	mustCreate(t, p, client.DryRunAll)
	if got := counter(t, r.registry, "pruneguard_webhook_requests_total"); got != before+1 {
		t.Fatalf("webhook answered %v reviews for the dry-run create, want 1 (is it registered?)", got-before)
	}
	// Give a stray write time to land before looking.
	time.Sleep(500 * time.Millisecond)
	refs, err := r.srv.Index().ReferrersOfDigest(ctx, "", d)
	if err != nil {
		t.Fatal(err)
	}
	pending := 0
	_ = r.srv.Index().PendingObjects(ctx, func(p index.PendingObject) error {
		if p.Object.Key.Namespace == "dry" {
			pending++
		}
		return nil
	})
	if len(refs) != 0 || pending != 0 {
		t.Errorf("dry-run create left %d references and %d pending records", len(refs), pending)
	}
}

// probe is a second validating webhook, registered next to pruneguard's. The API server calls
// both while the create is in admission and persists the object only after both answer, so
// what probe sees in the index happens before the object exists and before Create returns.
type probe struct {
	ix *index.Index
	mu sync.Mutex
	// seen maps a pod name to what the index held while its create was in admission.
	seen map[string]string
}

func (p *probe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	review := admissionv1.AdmissionReview{}
	_ = json.Unmarshal(body, &review)
	key := model.ObjectKey{Kind: model.KindPod, Namespace: review.Request.Namespace, Name: review.Request.Name}
	state := "nothing"
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, confirmed, _ := p.ix.Object(r.Context(), key); confirmed {
			state = "confirmed"
			break
		}
		pending := false
		_ = p.ix.PendingObjects(r.Context(), func(po index.PendingObject) error {
			pending = pending || po.Object.Key == key
			return nil
		})
		if pending {
			state = "pending"
			break
		}
	}
	p.mu.Lock()
	p.seen[key.Name] = state
	p.mu.Unlock()
	review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	review.Request = nil
	_ = json.NewEncoder(w).Encode(review)
}

func TestPodIsPendingBeforeCreateReturnsAndConfirmedAfter(t *testing.T) {
	r := startServer(t, t.TempDir())
	createNamespace(t, "probe")
	ctx := context.Background()
	p := &probe{ix: r.srv.Index(), seen: map[string]string{}}
	port := freePort(t)
	srv := webhook.NewServer(webhook.ServerOptions{Host: webhookHost, Port: port, CertDir: env.Control.WebhookInstallOptions.LocalServingCertDir, Path: "/probe"}, p)
	sctx, cancel := context.WithCancel(ctx)
	go func() { _ = srv.Start(sctx) }()
	defer cancel()
	url := fmt.Sprintf("https://%s:%d/probe", webhookHost, port)
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "pending-probe"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "probe.pruneguard.io", AdmissionReviewVersions: []string{"v1"},
			SideEffects:    ptr.To(admissionregistrationv1.SideEffectClassNone),
			FailurePolicy:  ptr.To(admissionregistrationv1.Fail),
			TimeoutSeconds: ptr.To[int32](10),
			ClientConfig:   admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: env.Control.WebhookInstallOptions.LocalServingCAData},
			Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "probe"}},
		}},
	}
	mustCreate(t, vwc)
	defer func() { _ = env.Client.Delete(ctx, vwc) }()

	// The API server picks up a new webhook configuration asynchronously: retry until the
	// probe has seen a create.
	d := digestOf("probe")
	var name string
	waitFor(t, 30*time.Second, "the probe webhook to be called", func() (bool, error) {
		name = fmt.Sprintf("web-%d", time.Now().UnixNano())
		pod := &corev1.Pod{ObjectMeta: meta("probe", name), Spec: podSpec(registryHost+"/probe/app@"+d, "")}
		if err := env.Client.Create(ctx, pod); err != nil {
			return false, nil
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		_, called := p.seen[name]
		return called, nil
	})
	p.mu.Lock()
	state := p.seen[name]
	p.mu.Unlock()
	if state != "pending" {
		t.Fatalf("while pod %s was in admission the index held %s, want its pending record", name, state)
	}
	waitFor(t, 10*time.Second, "the pod's reference to be confirmed", func() (bool, error) {
		refs, err := r.srv.Index().ReferrersOfDigest(ctx, "probe/app", d)
		if err != nil {
			return false, err
		}
		for _, ref := range refs {
			if ref.Object.Name == name && ref.Pending {
				return false, nil
			}
		}
		for _, ref := range refs {
			if ref.Object.Name == name && !ref.Pending {
				return true, nil
			}
		}
		return false, nil
	})
}

func TestRandomisedSequenceThenVerifyIsClean(t *testing.T) {
	r := startServer(t, t.TempDir())
	createNamespace(t, "rand")
	ctx := context.Background()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	fx := fixtures()
	type live struct {
		fx  kindFixture
		obj client.Object
	}
	var objs []live
	var images []client.Object
	imageRef := func() string {
		n := rng.Intn(6)
		switch rng.Intn(4) {
		case 0:
			return fmt.Sprintf("%s/rand/app-%d:v%d", registryHost, n, rng.Intn(3))
		case 1:
			return fmt.Sprintf("%s/rand/app-%d@%s", registryHost, n, digestOf(fmt.Sprint("img-", rng.Intn(8))))
		case 2:
			return "docker.io/library/nginx:1.25"
		}
		return fmt.Sprintf("quay.io/org/tool-%d@%s", n, digestOf(fmt.Sprint("img-", rng.Intn(8))))
	}
	counts := map[string]int{}
	for step := range 120 {
		switch op := rng.Intn(10); {
		case op < 4 || len(objs) == 0:
			f := fx[rng.Intn(len(fx))]
			obj := f.build("rand", fmt.Sprintf("%s-%d", strings.ToLower(f.kind), step), imageRef())
			mustCreate(t, obj)
			objs = append(objs, live{f, obj})
			counts["create"]++
		case op < 6:
			l := objs[rng.Intn(len(objs))]
			if l.fx.setImage == nil {
				continue
			}
			img := imageRef()
			if err := update(ctx, l.obj, func(o client.Object) { l.fx.setImage(o, img) }); err != nil {
				t.Fatalf("step %d: update %s %s: %v", step, l.fx.kind, l.obj.GetName(), err)
			}
			counts["update"]++
		case op < 7:
			l := objs[rng.Intn(len(objs))]
			if l.fx.scaleToZero == nil {
				continue
			}
			if err := update(ctx, l.obj, l.fx.scaleToZero); err != nil {
				t.Fatalf("step %d: scale %s %s to zero: %v", step, l.fx.kind, l.obj.GetName(), err)
			}
			counts["scale-to-zero"]++
		case op < 9:
			i := rng.Intn(len(objs))
			if err := env.Client.Delete(ctx, objs[i].obj); err != nil {
				t.Fatalf("step %d: delete %s %s: %v", step, objs[i].fx.kind, objs[i].obj.GetName(), err)
			}
			objs = append(objs[:i], objs[i+1:]...)
			counts["delete"]++
		default:
			// The image API: push an image, tag it into a stream, or delete an image.
			if len(images) > 0 && rng.Intn(3) == 0 {
				i := rng.Intn(len(images))
				if err := env.Client.Delete(ctx, images[i]); err != nil {
					t.Fatal(err)
				}
				images = append(images[:i], images[i+1:]...)
				counts["image-delete"]++
				continue
			}
			img := newImage(fmt.Sprint("img-", step))
			mustCreate(t, img)
			images = append(images, img)
			for _, l := range objs {
				if is, ok := l.obj.(*imagev1.ImageStream); ok {
					if err := tagStream(ctx, is, digestOf(fmt.Sprint("img-", step))); err != nil {
						t.Fatal(err)
					}
					break
				}
			}
			counts["image-push"]++
		}
	}
	t.Logf("operations: %v", counts)
	waitVerified(t, r)

	// And the CLI says so too, on the stopped server's directory.
	dir := r.dataDir
	r.stop()
	lines, err := server.VerifyDataDir(ctx, env.Config, dir, 50, logr.Discard())
	if err != nil || len(lines) != 0 {
		t.Fatalf("pruneguard index verify on the stopped server's directory: %v\n%s", err, joinLines(lines))
	}
}

func TestRestartCatchesUpWithoutRebuild(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "index")
	ctx := context.Background()
	createNamespace(t, "restart")
	fx := fixtures()
	var objs []client.Object
	for i, f := range fx {
		o := f.build("restart", fmt.Sprintf("%s-a", strings.ToLower(f.kind)), fmt.Sprintf("%s/restart/app:v%d", registryHost, i))
		mustCreate(t, o)
		objs = append(objs, o)
	}
	// Objects that do not change while serve is down, so that a rebuild would show.
	const unchanged = 150
	for i := range unchanged {
		mustCreate(t, &corev1.Pod{ObjectMeta: meta("restart", fmt.Sprintf("steady-%d", i)), Spec: podSpec(registryHost+"/restart/steady:v1", "")})
	}
	first := startServer(t, dir)
	if st := first.srv.Index().Status(); st != index.StatusNew {
		t.Fatalf("first start found index status %s, want new", st)
	}
	waitVerified(t, first)
	first.stop()

	// While serve is down (the webhook's failurePolicy is Ignore): create, change, delete.
	changed := 0
	for i, f := range fx {
		mustCreate(t, f.build("restart", fmt.Sprintf("%s-b", strings.ToLower(f.kind)), fmt.Sprintf("%s/restart/new:v%d", registryHost, i)))
		changed++
		if f.setImage != nil {
			if err := update(ctx, objs[i], func(o client.Object) { f.setImage(o, registryHost+"/restart/changed:v1") }); err != nil {
				t.Fatal(err)
			}
			changed++
		}
	}
	for _, o := range objs[:3] {
		if err := env.Client.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
		changed++
	}

	// The stopped server's index is stale now, and verify says so, naming the changes.
	stale, err := server.VerifyDataDir(ctx, env.Config, dir, 0, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) < changed/2 || !strings.Contains(strings.Join(stale, "\n"), "Pod/restart/pod-b") {
		t.Fatalf("verify of the stale index found %d differences, want about %d including Pod/restart/pod-b:\n%s", len(stale), changed, joinLines(stale))
	}

	second := startServer(t, dir)
	if st := second.srv.Index().Status(); st != index.StatusReady {
		t.Fatalf("restart found index status %s, want ready (a persisted index, caught up, not rebuilt)", st)
	}
	waitVerified(t, second)
	// A catch-up writes the differences, not the cluster: far fewer writes than objects.
	total := 0
	_ = second.srv.Index().Objects(ctx, func(model.Object) error { total++; return nil })
	applied := counter(t, second.registry, "pruneguard_index_events_applied_total")
	if applied < float64(changed)/2 || applied > float64(changed)+10 || total < unchanged {
		t.Errorf("catch-up applied %v writes for %d changes in an index of %d objects; want about the changes", applied, changed, total)
	}
	t.Logf("catch-up applied %v writes for %d changes in an index of %d objects", applied, changed, total)
}
