package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

const (
	testNS   = "shop"
	registry = "image-registry.openshift-image-registry.svc:5000"
	digestA  = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB  = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

var testNow = time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)

// pod builds a pod named name whose containers run images.
func pod(name string, images ...string) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name, UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(testNow)},
		Status:     corev1.PodStatus{Phase: corev1.PodPending},
	}
	for i, img := range images {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c" + string(rune('0'+i)), Image: img})
	}
	return p
}

// reviewOf is a v1 AdmissionReview of op on obj (and old, for an UPDATE).
func reviewOf(t testing.TB, op admissionv1.Operation, obj, old runtime.Object, dryRun bool) []byte {
	t.Helper()
	req := &admissionv1.AdmissionRequest{
		UID:       types.UID("req-1"),
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Namespace: testNS,
		Operation: op,
		DryRun:    &dryRun,
	}
	if obj != nil {
		req.Object = runtime.RawExtension{Raw: mustJSON(t, obj)}
		if m, ok := obj.(metav1.Object); ok {
			req.Name = m.GetName()
		}
	}
	if old != nil {
		req.OldObject = runtime.RawExtension{Raw: mustJSON(t, old)}
	}
	return mustJSON(t, admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: reviewV1, Kind: reviewKind}, Request: req,
	})
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fixture is a handler writing to a real Badger index through a running committer.
type fixture struct {
	ix      *index.Index
	handler *Handler
	metrics *Metrics
}

func newFixture(t testing.TB, fence Fence) *fixture {
	t.Helper()
	ix, err := index.Open(index.Options{Dir: t.TempDir(), Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	c := NewCommitter(ix, logr.Discard(), nil)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := ix.Close(); err != nil {
			t.Error(err)
		}
	})
	h := NewHandler(Options{Recorder: c, Metrics: m, Fence: fence, Now: func() time.Time { return testNow }, Logger: logr.Discard()})
	return &fixture{ix: ix, handler: h, metrics: m}
}

// post sends body to the handler and decodes the answer, failing on anything not well formed.
func (f *fixture) post(t testing.TB, body []byte) *admissionv1.AdmissionReview {
	t.Helper()
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200", rec.Code)
	}
	out := &admissionv1.AdmissionReview{}
	if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
		t.Fatalf("answer is not an AdmissionReview: %v: %s", err, rec.Body.String())
	}
	if out.Kind != reviewKind || out.Response == nil {
		t.Fatalf("answer %s lacks kind or response", rec.Body.String())
	}
	return out
}

// pendingKeys lists the keys of the index's pending records.
func (f *fixture) pendingKeys(t testing.TB) map[model.ObjectKey][]model.Ref {
	t.Helper()
	out := map[model.ObjectKey][]model.Ref{}
	err := f.ix.PendingObjects(context.Background(), func(p index.PendingObject) error {
		out[p.Object.Key] = p.Object.Refs
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
