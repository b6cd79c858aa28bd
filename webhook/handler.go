package webhook

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	jsoniter "github.com/json-iterator/go"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/pruneguard/pruneguard/pkg/extract"
	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// Defaults of Options.
const (
	// DefaultPendingTTL is how long a pending record waits for its object to appear in a
	// watch. An admitted object is normally persisted and watched within a second; two minutes
	// cover a slow API server and a tracker catching up, and a reference whose object was
	// refused by a later admission plugin stops protecting its image after that long.
	DefaultPendingTTL = 2 * time.Minute
	// DefaultWriteTimeout bounds how long a request waits for its pending record to commit.
	// A group commit takes well under a millisecond; the bound only matters when the index
	// stalls, and then admission goes on without the record (the watch still confirms it).
	DefaultWriteTimeout = 100 * time.Millisecond
	// maxWarnings bounds the invalid-reference warnings of one response.
	maxWarnings = 5
)

// Recorder queues a pending-record op and waits for its commit. *Committer implements it.
type Recorder interface {
	Submit(ctx context.Context, op index.Op) error
}

var _ Recorder = (*Committer)(nil)

// Options configure a Handler. Recorder and Metrics are required.
type Options struct {
	Recorder Recorder
	Metrics  *Metrics
	// Fence is consulted before anything is recorded; nil means AllowAll.
	Fence Fence
	// PendingTTL is how long a pending record lives without its object appearing in a watch;
	// 0 means DefaultPendingTTL.
	PendingTTL time.Duration
	// WriteTimeout bounds the wait for a pending record's commit; 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Now is the clock of expiries; nil means time.Now.
	Now    func() time.Time
	Logger logr.Logger
}

// Handler answers AdmissionReviews: it records the references of admitted referrers as
// pending and asks the Fence whether to admit. It is an http.Handler, safe for concurrent use.
type Handler struct {
	o        Options
	json     jsoniter.API
	problems *problems
}

// NewHandler returns a Handler with o's defaults filled in.
func NewHandler(o Options) *Handler {
	if o.Fence == nil {
		o.Fence = AllowAll{}
	}
	if o.PendingTTL <= 0 {
		o.PendingTTL = DefaultPendingTTL
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{o: o, json: newJSON(), problems: newProblems(o.Logger, o.Metrics, o.Now)}
}

// ServeHTTP answers one review. Whatever goes wrong, the answer is a well-formed review that
// allows the request, unless the Fence denies it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	review, reason, err := readReview(r, h.json)
	var resp *admissionv1.AdmissionResponse
	if err != nil {
		h.problems.report(reason, err)
		resp = allowed()
	} else {
		resp = h.admit(r.Context(), review.Request)
	}
	decision := "allowed"
	if !resp.Allowed {
		decision = "denied"
	}
	if err := writeResponse(w, h.json, review, resp); err != nil {
		h.o.Logger.V(1).Info("failed to write admission response", "error", err.Error())
	}
	h.o.Metrics.Requests.WithLabelValues(decision).Inc()
	h.o.Metrics.Latency.Observe(time.Since(start).Seconds())
}

// admit decides one request and records its references.
func (h *Handler) admit(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return allowed()
	}
	a := Admission{
		Operation: string(req.Operation), Resource: req.Resource.Resource, SubResource: req.SubResource,
		Key:    model.ObjectKey{Kind: req.Kind.Kind, Namespace: req.Namespace, Name: req.Name},
		DryRun: req.DryRun != nil && *req.DryRun,
		User:   req.UserInfo.Username,
	}
	if fenceOnlyKinds[req.Kind.Kind] {
		a.Raw = req.Object.Raw
		return h.fenceOnly(ctx, a)
	}
	res, ok := h.extract(req, req.Object.Raw)
	if !ok {
		return allowed()
	}
	a.Result = res
	if res.Referrer != nil {
		a.Key = res.Referrer.Key
	}
	old := &oldVersion{req: req}
	if msg := h.deny(ctx, old, a); msg != "" {
		return denied(msg)
	}
	warnings := h.invalidWarnings(res)
	if res.Referrer != nil && !a.DryRun && h.adds(old, res.Referrer) {
		h.record(ctx, *res.Referrer)
	}
	return allowed(warnings...)
}

// oldVersion is the previous version of an UPDATE's object, decoded at most once and only
// when an answer needs it.
type oldVersion struct {
	req     *admissionv1.AdmissionRequest
	decoded bool
	res     extract.Result
	ok      bool
}

// get returns what the old version contributes; ok is false for a CREATE, for an UPDATE
// without the old object, and when it does not decode.
func (o *oldVersion) get(h *Handler) (extract.Result, bool) {
	if !o.decoded {
		o.decoded = true
		if o.req.Operation == admissionv1.Update && len(o.req.OldObject.Raw) > 0 {
			o.res, o.ok = h.extract(o.req, o.req.OldObject.Raw)
		}
	}
	return o.res, o.ok
}

// deny asks the Fence. A denied UPDATE is asked again with what the old version referenced,
// so that an update that keeps a reference (a kubelet's status update of a pod) is not refused
// for it; the old object is decoded only then, which keeps allowed updates cheap.
func (h *Handler) deny(ctx context.Context, old *oldVersion, a Admission) string {
	msg := h.o.Fence.Deny(ctx, a)
	if msg == "" || old.req.Operation != admissionv1.Update {
		return msg
	}
	res, ok := old.get(h)
	if !ok {
		return msg
	}
	a.Old = &res
	return h.o.Fence.Deny(ctx, a)
}

// fenceOnly answers a kind sent for the fence alone: nothing is recorded for it.
func (h *Handler) fenceOnly(ctx context.Context, a Admission) *admissionv1.AdmissionResponse {
	if msg := h.o.Fence.Deny(ctx, a); msg != "" {
		return denied(msg)
	}
	return allowed()
}

// fenceOnlyKinds are sent to the webhook for the fence alone: they reference images but are
// not stored (the ImageStream they change is, through the watch).
var fenceOnlyKinds = map[string]bool{"ImageStreamTag": true, "ImageStreamMapping": true, "ImageStreamImport": true}

// extract decodes raw as the request's kind and extracts what it contributes; ok is false (and
// the problem reported) when it cannot. A kind the webhook rules do not send is reported as
// unexpected without being read.
func (h *Handler) extract(req *admissionv1.AdmissionRequest, raw []byte) (extract.Result, bool) {
	if len(raw) == 0 {
		h.problems.report(reasonDecode, errors.New("the request carries no object"), "kind", req.Kind.Kind)
		return extract.Result{}, false
	}
	obj, err := decodeObject(h.json, req.Kind, raw)
	if errors.Is(err, errNotSent) {
		h.problems.report(reasonUnknownKind, err, "group", req.Kind.Group, "kind", req.Kind.Kind)
		return extract.Result{}, false
	}
	if err != nil {
		h.problems.report(reasonDecode, err, "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name)
		return extract.Result{}, false
	}
	res, err := extract.Object(obj)
	if err != nil {
		h.problems.report(reasonExtract, err, "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name)
		return extract.Result{}, false
	}
	return res, true
}

// invalidWarnings tells the user which references protect nothing because they do not parse.
func (h *Handler) invalidWarnings(res extract.Result) []string {
	if len(res.Invalid) == 0 {
		return nil
	}
	h.o.Metrics.Problems.WithLabelValues(reasonInvalidRef).Add(float64(len(res.Invalid)))
	var out []string
	for i, e := range res.Invalid {
		if i == maxWarnings {
			break
		}
		out = append(out, "pruneguard: "+e.Error()+"; this reference protects no image")
	}
	return out
}

// adds reports whether the admitted object names something its old version did not: a
// CREATE always does; an UPDATE that keeps its references (labels, replicas, status through
// the main resource) needs no pending record, because the old version's references are
// already recorded, confirmed or pending. An object without valid references adds nothing
// whatever its old version held, so the old object is not decoded for it.
func (h *Handler) adds(old *oldVersion, obj *model.Object) bool {
	if !hasValidRef(obj.Refs) {
		return old.req.Operation == admissionv1.Create
	}
	prev, ok := old.get(h)
	if !ok || prev.Referrer == nil {
		return true
	}
	return !coversRefs(prev.Referrer.Refs, obj.Refs)
}

func hasValidRef(refs []model.Ref) bool {
	for _, r := range refs {
		if r.Invalid == "" {
			return true
		}
	}
	return false
}

// coversRefs reports whether every valid reference of want has the same match key in have.
func coversRefs(have, want []model.Ref) bool {
	for _, w := range want {
		if w.Invalid != "" {
			continue
		}
		found := false
		for _, h := range have {
			if h.Repo == w.Repo && h.Tag == w.Tag && h.Digest == w.Digest && h.Invalid == "" {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// record writes obj's pending record and waits for the commit, at most WriteTimeout.
func (h *Handler) record(ctx context.Context, obj model.Object) {
	ctx, cancel := context.WithTimeout(ctx, h.o.WriteTimeout)
	defer cancel()
	start := time.Now()
	err := h.o.Recorder.Submit(ctx, index.PutPending(obj, h.o.Now().Add(h.o.PendingTTL)))
	h.o.Metrics.RecordWait.Observe(time.Since(start).Seconds())
	switch {
	case err == nil:
		h.o.Metrics.Pending.Inc()
	case errors.Is(err, ErrQueueFull):
		h.problems.report(reasonQueueFull, err, "object", obj.Key.String())
	case errors.Is(err, context.DeadlineExceeded):
		h.problems.report(reasonWriteSlow, err, "object", obj.Key.String())
	default:
		h.problems.report(reasonWrite, err, "object", obj.Key.String())
	}
}
