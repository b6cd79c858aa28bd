package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	jsoniter "github.com/json-iterator/go"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxReviewSize bounds the body read. The API server accepts objects up to etcd's 1.5 MiB
// request limit (3 MiB with the old object of an UPDATE), and a review carries the object
// and the old object, JSON-escaped; controller-runtime allows 7 MiB for the same reason. A
// larger body is not a review the API server sent: it is answered (allowed) without reading.
const maxReviewSize = 7 << 20

// Versions of AdmissionReview. The webhook is registered for v1 only; a v1beta1 review has the
// same JSON shape, so it is answered in its own version rather than refused.
const (
	reviewV1      = "admission.k8s.io/v1"
	reviewV1beta1 = "admission.k8s.io/v1beta1"
	reviewKind    = "AdmissionReview"
)

// errTooLarge is the read error of a body over maxReviewSize.
var errTooLarge = errors.New("admission review exceeds the maximum size")

// readReview reads and decodes the body. It returns the review even when its request part is
// missing; on error, reason is the problem reason for metrics. The objects stay raw JSON:
// the handler decodes them by the request's kind.
func readReview(r *http.Request, json jsoniter.API) (review *admissionv1.AdmissionReview, reason string, err error) {
	body, err := readBody(r)
	if err != nil {
		return nil, reasonRead, err
	}
	review = &admissionv1.AdmissionReview{}
	if err := json.Unmarshal(body, review); err != nil {
		return nil, reasonMalformed, fmt.Errorf("failed to decode the admission review: %w", err)
	}
	if review.Request == nil {
		return review, reasonNoRequest, errors.New("the admission review has no request")
	}
	return review, "", nil
}

// readBody reads at most maxReviewSize bytes, into a buffer sized by Content-Length when the
// client sent one (the API server does), so that a large review is not copied while it grows.
func readBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= maxReviewSize {
		buf.Grow(int(n) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, maxReviewSize+1)); err != nil {
		return nil, fmt.Errorf("failed to read the admission review: %w", err)
	}
	if buf.Len() > maxReviewSize {
		return nil, fmt.Errorf("%w (%d bytes)", errTooLarge, maxReviewSize)
	}
	return buf.Bytes(), nil
}

// writeResponse answers the review in the request's version (v1 unless it was v1beta1).
func writeResponse(w http.ResponseWriter, json jsoniter.API, req *admissionv1.AdmissionReview, resp *admissionv1.AdmissionResponse) error {
	out := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: reviewV1, Kind: reviewKind},
		Response: resp,
	}
	if req != nil {
		if req.APIVersion == reviewV1beta1 {
			out.APIVersion = reviewV1beta1
		}
		if req.Request != nil {
			resp.UID = req.Request.UID
		}
	}
	data, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("failed to encode the admission response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(data)
	return err
}

// allowed is an allowing response with warnings for the user.
func allowed(warnings ...string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Allowed: true, Warnings: warnings}
}

// denied refuses the request with message (the fence's refusal), as 403 Forbidden.
func denied(message string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{
		Allowed: false,
		Result: &metav1.Status{
			Status:  metav1.StatusFailure,
			Code:    http.StatusForbidden,
			Reason:  metav1.StatusReasonForbidden,
			Message: message,
		},
	}
}
