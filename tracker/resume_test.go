package tracker_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	kappsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/tracker"
)

// seed creates a few objects of several kinds in ns: pods p0..p3, a deployment and an image
// stream with a spec tag.
func seed(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	createNamespace(t, ns)
	for i, name := range []string{"p0", "p1", "p2", "p3"} {
		must(t, env.Client.Create(ctx, pod(ns, name, host+"/"+ns+"/app:v"+string(rune('1'+i)))))
	}
	labels := map[string]string{"app": "d"}
	must(t, env.Client.Create(ctx, &kappsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "d"},
		Spec: kappsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: host + "/" + ns + "/web:v1"}}}}}}))
	must(t, env.Client.Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "is"},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{Name: "mirror",
			From: &corev1.ObjectReference{Kind: "DockerImage", Name: host + "/" + ns + "/base:v1"}}}}}))
}

// changeWhileDown creates, updates and deletes objects of ns: a new pod, p1's image, the
// deployment's image, p2 and the image stream deleted, another image stream created.
func changeWhileDown(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	must(t, env.Client.Create(ctx, pod(ns, "p-new", host+"/"+ns+"/new:v1")))
	var p corev1.Pod
	must(t, env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "p1"}, &p))
	p.Spec.Containers[0].Image = host + "/" + ns + "/changed:v2"
	must(t, env.Client.Update(ctx, &p))
	var d kappsv1.Deployment
	must(t, env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "d"}, &d))
	d.Spec.Template.Spec.Containers[0].Image = host + "/" + ns + "/web:v2"
	must(t, env.Client.Update(ctx, &d))
	must(t, env.Client.Delete(ctx, pod(ns, "p2", "")))
	must(t, env.Client.Delete(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "is"}}))
	must(t, env.Client.Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "is-new"},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{Name: "mirror",
			From: &corev1.ObjectReference{Kind: "DockerImage", Name: host + "/" + ns + "/base:v2"}}}}}))
}

// checkChanges asserts that the index holds the changes of changeWhileDown.
func checkChanges(t *testing.T, ix *index.Index, ns string) {
	t.Helper()
	ctx := context.Background()
	key := func(kind, name string) model.ObjectKey { return model.ObjectKey{Kind: kind, Namespace: ns, Name: name} }
	if _, ok, _ := ix.Object(ctx, key(model.KindPod, "p-new")); !ok {
		t.Error("the pod created while the tracker was down is not in the index")
	}
	if _, ok, _ := ix.Object(ctx, key(model.KindPod, "p2")); ok {
		t.Error("the pod deleted while the tracker was down is still in the index")
	}
	if _, ok, _ := ix.Stream(ctx, ns, "is"); ok {
		t.Error("the image stream deleted while the tracker was down is still in the index")
	}
	if _, ok, _ := ix.Object(ctx, key(model.KindImageStream, "is-new")); !ok {
		t.Error("the image stream created while the tracker was down is not in the index")
	}
	p1, _, _ := ix.Object(ctx, key(model.KindPod, "p1"))
	if len(p1.Refs) != 1 || p1.Refs[0].Repo != ns+"/changed" {
		t.Errorf("pod p1 has references %+v, want its new image %s/changed:v2", p1.Refs, ns)
	}
}

func TestWarmRestartResumesFromWatermarksWithoutListing(t *testing.T) {
	const ns = "resume"
	seed(t, ns)
	dir := filepath.Join(t.TempDir(), "index")
	first := startTracker(t, env.Config, dir)
	if lists := metric(t, first.reg, "pruneguard_tracker_list_requests_total", nil); lists == 0 {
		t.Fatal("the cold start listed nothing")
	}
	waitVerified(t, first.ix)
	first.stop()

	changeWhileDown(t, ns)
	second := startTracker(t, env.Config, dir)
	served := metric(t, second.reg, "pruneguard_tracker_resumes_total", nil)
	if served < float64(len(tracker.Kinds())) {
		t.Errorf("%v kinds resumed from a watermark, want all %d", served, len(tracker.Kinds()))
	}
	if lists := metric(t, second.reg, "pruneguard_tracker_list_requests_total", nil); lists != 0 {
		t.Errorf("the warm restart sent %v list requests, want none", lists)
	}
	if relists := metric(t, second.reg, "pruneguard_tracker_relists_total", nil); relists != 0 {
		t.Errorf("the warm restart listed %v kinds in full, want none", relists)
	}
	checkChanges(t, second.ix, ns)
	waitVerified(t, second.ix)
}

func TestTooOldWatermarkFallsBackToAFullDiff(t *testing.T) {
	const ns = "expired"
	seed(t, ns)
	dir := filepath.Join(t.TempDir(), "index")
	first := startTracker(t, env.Config, dir)
	waitVerified(t, first.ix)
	first.stop()

	changeWhileDown(t, ns)
	// The events of the downtime are gone from etcd, and the image streams' watermark points
	// before the API server's watch cache of image streams begins (it began when the CRD was
	// installed): a watch from it is answered 410 Gone, "too old resource version".
	compactEtcd(t)
	setWatermark(t, dir, model.KindImageStream, "1")

	second := startTracker(t, env.Config, dir)
	if n := metric(t, second.reg, "pruneguard_tracker_relists_total", map[string]string{"reason": "expired"}); n != 1 {
		t.Errorf("%v kinds relisted because their watermark was too old, want 1 (image streams)", n)
	}
	if n := metric(t, second.reg, "pruneguard_tracker_resumes_total", nil); n < float64(len(tracker.Kinds())) {
		t.Errorf("%v kinds started from a watermark, want all %d", n, len(tracker.Kinds()))
	}
	checkChanges(t, second.ix, ns)
	waitVerified(t, second.ix)
	waitFor(t, 10*time.Second, "the image streams' watermark to move past the too old one", func() bool {
		marks, err := second.ix.Watermarks(context.Background(), model.KindImageStream)
		return err == nil && marks[model.KindImageStream] != "1" && marks[model.KindImageStream] != ""
	})
}

// compactEtcd compacts the control plane's etcd up to its current revision.
func compactEtcd(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{env.Control.ControlPlane.Etcd.URL.String()}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Get(ctx, "compact-probe")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
}

// setWatermark overwrites kind's watermark in the stopped tracker's index.
func setWatermark(t *testing.T, dir, kind, rv string) {
	t.Helper()
	ix, err := index.Open(index.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { must(t, ix.Close()) }()
	must(t, ix.Apply(context.Background(), index.SetWatermark(kind, rv)))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
