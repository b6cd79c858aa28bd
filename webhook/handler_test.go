package webhook

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

func TestBadInputIsAllowed(t *testing.T) {
	huge := pod("huge", registry+"/shop/app:v1")
	huge.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "BLOB", Value: strings.Repeat("x", 3<<20)}}
	configMap := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: testNS}}
	for _, tc := range []struct {
		name string
		body []byte
		// wantUID is the request UID the answer must echo ("" when the body has none).
		wantUID     string
		wantVersion string
		wantPending []string
		wantWarning string
		wantProblem string
	}{
		{name: "malformed JSON is allowed", body: []byte(`{"apiVersion":"admission.k8s.io/v1","request":{`),
			wantVersion: reviewV1, wantProblem: reasonMalformed},
		{name: "an empty body is allowed", body: nil, wantVersion: reviewV1, wantProblem: reasonMalformed},
		{name: "a review without a request is allowed", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`),
			wantVersion: reviewV1, wantProblem: reasonNoRequest},
		{name: "a v1beta1 review is answered in v1beta1",
			body:    []byte(strings.Replace(string(reviewOf(t, admissionv1.Create, pod("beta", registry+"/shop/app:v1"), nil, false)), reviewV1, reviewV1beta1, 1)),
			wantUID: "req-1", wantVersion: reviewV1beta1, wantPending: []string{"Pod/shop/beta"}},
		{name: "an object of another kind than the request says is allowed and records nothing",
			body: reviewOf(t, admissionv1.Create, configMap, nil, false), wantUID: "req-1", wantVersion: reviewV1, wantProblem: reasonUnknownKind},
		{name: "a request of a kind the webhook is not registered for is allowed and records nothing",
			body:    []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u4","operation":"CREATE","kind":{"version":"v1","kind":"ConfigMap"},"object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"shop"}}}}`),
			wantUID: "u4", wantVersion: reviewV1, wantProblem: reasonUnknownKind},
		{name: "a review of an unknown apiVersion is answered in v1",
			body:    []byte(strings.Replace(string(reviewOf(t, admissionv1.Create, pod("v9", registry+"/shop/app:v1"), nil, false)), reviewV1, "admission.k8s.io/v9", 1)),
			wantUID: "req-1", wantVersion: reviewV1, wantPending: []string{"Pod/shop/v9"}},
		{name: "an object whose field has the wrong JSON type is allowed",
			body:    []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u5","operation":"CREATE","kind":{"version":"v1","kind":"Pod"},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":7}}}}`),
			wantUID: "u5", wantVersion: reviewV1, wantProblem: reasonDecode},
		{name: "an object that is not JSON inside a well-formed review is allowed",
			body:        []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u6","operation":"CREATE","kind":{"version":"v1","kind":"Pod"},"object":{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"image":}]}}}}`),
			wantVersion: reviewV1, wantProblem: reasonMalformed},
		{name: "an object of a kind no scheme knows is allowed",
			body:    []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u2","operation":"CREATE","kind":{"group":"x.io","version":"v1","kind":"Widget"},"object":{"apiVersion":"x.io/v1","kind":"Widget","metadata":{"name":"w"}}}}`),
			wantUID: "u2", wantVersion: reviewV1, wantProblem: reasonUnknownKind},
		{name: "an object that does not decode is allowed",
			body:    []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u3","operation":"CREATE","kind":{"version":"v1","kind":"Pod"},"object":{"apiVersion":"v1","kind":"Pod","spec":{"containers":"not-a-list"}}}}`),
			wantUID: "u3", wantVersion: reviewV1, wantProblem: reasonDecode},
		{name: "a 3 MiB pod is allowed and recorded",
			body: reviewOf(t, admissionv1.Create, huge, nil, false), wantUID: "req-1", wantVersion: reviewV1, wantPending: []string{"Pod/shop/huge"}},
		{name: "an invalid image string is allowed with a warning and recorded",
			body:    reviewOf(t, admissionv1.Create, pod("bad", "Registry.Example.com/NS/App:Tag", registry+"/shop/app:v1"), nil, false),
			wantUID: "req-1", wantVersion: reviewV1, wantPending: []string{"Pod/shop/bad"}, wantWarning: "Registry.Example.com/NS/App:Tag", wantProblem: reasonInvalidRef},
		{name: "a body over the size limit is allowed unread",
			body: append([]byte(`{"x":"`), make([]byte, maxReviewSize)...), wantVersion: reviewV1, wantProblem: reasonRead},
		{name: "a DELETE is allowed and records nothing",
			body: reviewOf(t, admissionv1.Delete, nil, pod("gone", registry+"/shop/app:v1"), false), wantUID: "req-1", wantVersion: reviewV1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			out := f.post(t, tc.body)
			if !out.Response.Allowed {
				t.Errorf("denied: %+v", out.Response.Result)
			}
			if string(out.Response.UID) != tc.wantUID || out.APIVersion != tc.wantVersion {
				t.Errorf("answer uid %q version %q, want %q %q", out.Response.UID, out.APIVersion, tc.wantUID, tc.wantVersion)
			}
			got := f.pendingKeys(t)
			if len(got) != len(tc.wantPending) {
				t.Errorf("pending %v, want %v", got, tc.wantPending)
			}
			for _, k := range tc.wantPending {
				found := false
				for key := range got {
					found = found || key.String() == k
				}
				if !found {
					t.Errorf("pending %v lacks %s", got, k)
				}
			}
			warned := strings.Join(out.Response.Warnings, "\n")
			if (tc.wantWarning == "") != (warned == "") || !strings.Contains(warned, tc.wantWarning) {
				t.Errorf("warnings %q, want one containing %q", warned, tc.wantWarning)
			}
			if tc.wantProblem != "" && testutil.ToFloat64(f.metrics.Problems.WithLabelValues(tc.wantProblem)) == 0 {
				t.Errorf("problem %s not counted", tc.wantProblem)
			}
		})
	}
}

func TestCreateRecordsPendingWithExpiry(t *testing.T) {
	f := newFixture(t, nil)
	f.post(t, reviewOf(t, admissionv1.Create, pod("web", registry+"/shop/app@"+digestA), nil, false))
	var got []index.PendingObject
	if err := f.ix.PendingObjects(context.Background(), func(p index.PendingObject) error { got = append(got, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Object.Key.String() != "Pod/shop/web" || !got[0].Expires.Equal(testNow.Add(DefaultPendingTTL)) {
		t.Fatalf("pending %+v, want Pod/shop/web expiring at %s", got, testNow.Add(DefaultPendingTTL))
	}
	refs, err := f.ix.ReferrersOfDigest(context.Background(), "shop/app", digestA)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || !refs[0].Pending || refs[0].Object.Name != "web" || refs[0].Phase != "Pending" {
		t.Errorf("referrers of %s = %+v, want one pending ref from the pod", digestA, refs)
	}
}

func TestWhatIsNotRecorded(t *testing.T) {
	old := pod("web", registry+"/shop/app:v1")
	relabelled := pod("web", registry+"/shop/app:v1")
	relabelled.Labels = map[string]string{"tier": "front"}
	for _, tc := range []struct {
		name string
		body func(t *testing.T) []byte
		want int
	}{
		{"a dry-run create writes nothing", func(t *testing.T) []byte {
			return reviewOf(t, admissionv1.Create, pod("dry", registry+"/shop/app:v1"), nil, true)
		}, 0},
		{"an update that keeps the references writes nothing", func(t *testing.T) []byte {
			return reviewOf(t, admissionv1.Update, relabelled, old, false)
		}, 0},
		{"an update that changes an image writes a pending record", func(t *testing.T) []byte {
			return reviewOf(t, admissionv1.Update, pod("web", registry+"/shop/app:v2"), old, false)
		}, 1},
		{"a dry-run update that changes an image writes nothing", func(t *testing.T) []byte {
			return reviewOf(t, admissionv1.Update, pod("web", registry+"/shop/app:v2"), old, true)
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			if out := f.post(t, tc.body(t)); !out.Response.Allowed {
				t.Fatalf("denied: %+v", out.Response.Result)
			}
			if got := f.pendingKeys(t); len(got) != tc.want {
				t.Errorf("pending records %v, want %d", got, tc.want)
			}
		})
	}
}

// denyDigest fences one digest, recording what it was asked.
type denyDigest struct {
	digest string
	asked  []Admission
}

func (d *denyDigest) Deny(_ context.Context, a Admission) string {
	d.asked = append(d.asked, a)
	if a.Result.Referrer == nil {
		return ""
	}
	for _, r := range a.Result.Referrer.Refs {
		if r.Digest == d.digest {
			return "image " + d.digest + " is being pruned"
		}
	}
	return ""
}

func TestFenceDeniesBeforeAnythingIsRecorded(t *testing.T) {
	fence := &denyDigest{digest: digestA}
	f := newFixture(t, fence)
	out := f.post(t, reviewOf(t, admissionv1.Create, pod("web", registry+"/shop/app@"+digestA), nil, true))
	if out.Response.Allowed || out.Response.Result == nil || out.Response.Result.Code != 403 ||
		!strings.Contains(out.Response.Result.Message, digestA) {
		t.Fatalf("response %+v, want 403 naming %s", out.Response, digestA)
	}
	if len(fence.asked) != 1 || !fence.asked[0].DryRun || fence.asked[0].Key != (model.ObjectKey{Kind: "Pod", Namespace: testNS, Name: "web"}) {
		t.Errorf("fence asked %+v, want one dry-run admission of Pod/shop/web", fence.asked)
	}
	f.post(t, reviewOf(t, admissionv1.Create, pod("web", registry+"/shop/app@"+digestA), nil, false))
	if got := f.pendingKeys(t); len(got) != 0 {
		t.Errorf("denied object recorded: %v", got)
	}
	if out := f.post(t, reviewOf(t, admissionv1.Create, pod("other", registry+"/shop/app@"+digestB), nil, false)); !out.Response.Allowed {
		t.Errorf("object not referencing the fenced image denied: %+v", out.Response.Result)
	}
}

// failingRecorder fails or stalls every write.
type failingRecorder struct {
	err   error
	stall bool
}

func (r failingRecorder) Submit(ctx context.Context, _ index.Op) error {
	if r.stall {
		<-ctx.Done()
		return ctx.Err()
	}
	return r.err
}

func TestIndexTroubleNeverBlocksAdmission(t *testing.T) {
	for _, tc := range []struct {
		name     string
		recorder Recorder
		reason   string
	}{
		{"a failing write is allowed and counted", failingRecorder{err: errors.New("disk full")}, reasonWrite},
		{"a full queue is allowed and counted", failingRecorder{err: ErrQueueFull}, reasonQueueFull},
		{"a stalled write is allowed after the write timeout", failingRecorder{stall: true}, reasonWriteSlow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMetrics(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			h := NewHandler(Options{Recorder: tc.recorder, Metrics: m, WriteTimeout: 20 * time.Millisecond, Logger: logr.Discard()})
			f := &fixture{handler: h, metrics: m}
			start := time.Now()
			out := f.post(t, reviewOf(t, admissionv1.Create, pod("web", registry+"/shop/app:v1"), nil, false))
			if !out.Response.Allowed {
				t.Fatalf("denied: %+v", out.Response.Result)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("answer took %s", took)
			}
			if got := testutil.ToFloat64(m.Problems.WithLabelValues(tc.reason)); got != 1 {
				t.Errorf("problem %s counted %v times, want 1", tc.reason, got)
			}
		})
	}
}

func TestProblemsAreLoggedOncePerInterval(t *testing.T) {
	var lines []string
	log := funcr.New(func(_, args string) { lines = append(lines, args) }, funcr.Options{})
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	now := testNow
	p := newProblems(log, m, func() time.Time { return now })
	for range 5 {
		p.report(reasonMalformed, errors.New("bad"))
	}
	p.report(reasonDecode, errors.New("bad"))
	if len(lines) != 2 {
		t.Fatalf("logged %d lines for 5+1 problems of 2 reasons, want 2: %v", len(lines), lines)
	}
	now = now.Add(problemLogInterval)
	p.report(reasonMalformed, errors.New("bad"))
	if len(lines) != 3 || !strings.Contains(lines[2], `"suppressedSinceLast"=4`) {
		t.Fatalf("after the interval got %v, want a third line saying 4 were suppressed", lines)
	}
	if got := testutil.ToFloat64(m.Problems.WithLabelValues(reasonMalformed)); got != 6 {
		t.Errorf("counted %v malformed, want 6", got)
	}
}
