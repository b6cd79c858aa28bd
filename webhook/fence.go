package webhook

import (
	"context"

	"github.com/pruneguard/pruneguard/pkg/extract"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// Admission is what the handler knows of one request when it consults the Fence.
type Admission struct {
	// Operation is CREATE or UPDATE.
	Operation string
	// Resource and SubResource are the request's resource, e.g. "pods" and "ephemeralcontainers".
	Resource, SubResource string
	// Key identifies the object: its kind, namespace and name.
	Key model.ObjectKey
	// DryRun is true for a dry-run request; the fence's end-to-end check is one.
	DryRun bool
	// User is the name of the user who sent the request (userInfo.username of the review), so
	// that a denial is recorded against whoever asked, not the replica that answered; "" when
	// the review carries none.
	User string
	// Result is what the object contributes to the model: the references of a referrer, the
	// Image of an image push, the Stream of an image stream.
	Result extract.Result
	// Old is what the previous version of an UPDATE contributed, so that only references the
	// update adds are refused. The handler sets it only when it asks again after a denial
	// (decoding the old object costs time on every update); nil means unknown.
	Old *extract.Result
	// Raw is the object's JSON for the kinds sent to the webhook for the fence alone
	// (ImageStreamTag, ImageStreamMapping), which extract does not read; else nil.
	Raw []byte
}

// Fence decides whether an admission may proceed while images are being deleted (DESIGN.md,
// "The fence"). It is consulted before anything is recorded. Deny returns a message for the
// user, or "" to allow. Implementations must answer from memory (the handler's budget is well
// under a millisecond) and must never deny an object that references no fenced image.
type Fence interface {
	Deny(ctx context.Context, a Admission) string
}

// AllowAll is the Fence that fences nothing: the default until the pruner's fence is wired in.
type AllowAll struct{}

var _ Fence = AllowAll{}

// Deny implements Fence: it allows everything.
func (AllowAll) Deny(context.Context, Admission) string { return "" }
