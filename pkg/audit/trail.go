package audit

import (
	"errors"
	"fmt"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Action is what happened to an image. The values are stable: they are stored in the trail,
// printed by `pruneguard history`, and used as the action of the Kubernetes Event.
type Action string

const (
	// ActionFenced means the pruner fenced the image before deleting it.
	ActionFenced Action = "fenced"
	// ActionDenied means the webhook denied an object (Referrers) that referenced the fenced or
	// recently pruned image; Actor is the user who asked.
	ActionDenied Action = "denied"
	// ActionDeleted means the image (or, with StreamItem set, one stream item naming it) was
	// deleted; Rule is the rule that let it go.
	ActionDeleted Action = "deleted"
	// ActionKept means a prune candidate was kept; Rule says why and Referrers name who protects it.
	ActionKept Action = "kept"
	// ActionLifted means the fence of the image was lifted (after the delete, or because a
	// re-check found a reference, or because the fence could not be verified).
	ActionLifted Action = "lifted"
)

func (a Action) valid() bool {
	switch a {
	case ActionFenced, ActionDenied, ActionDeleted, ActionKept, ActionLifted:
		return true
	}
	return false
}

// Record is one entry of the audit trail: what happened to which image, when, by which rule,
// because of (or affecting) which referrers, and who did it.
//
// Rule is a pruner rule name (pruner.Rule, e.g. "digest-referenced") kept as a string so this
// package does not depend on the pruner.
type Record struct {
	Time   time.Time `json:"time"`
	Action Action    `json:"action"`
	// Image is the image digest; ImageName the Image object's name when it is not the digest
	// (see model.Image.Name), used to address the Event.
	Image     string `json:"image"`
	ImageName string `json:"imageName,omitempty"`
	// StreamItem is set for a decision about one image stream item; the Event then goes to
	// that ImageStream instead of the Image.
	StreamItem *model.StreamItem `json:"streamItem,omitempty"`
	Rule       string            `json:"rule,omitempty"`
	Referrers  []model.Referrer  `json:"referrers,omitempty"`
	// Actor is who acted: the pruner's identity (pod or service account), or, for
	// ActionDenied, the user whose request was refused (the admission review's username).
	Actor string `json:"actor,omitempty"`
	// Replica is the pruneguard replica that wrote the record (RecorderOptions.Actor). It
	// equals Actor for the pruner's own records and tells, for a denial, which replica's
	// webhook refused the request.
	Replica string `json:"replica,omitempty"`
	Message string `json:"message,omitempty"`
}

// ErrInvalidRecord is returned for a record without an image, a time or a known action.
var ErrInvalidRecord = errors.New("invalid audit record")

func (r Record) validate() error {
	switch {
	case r.Image == "":
		return fmt.Errorf("record without image: %w", ErrInvalidRecord)
	case !r.Action.valid():
		return fmt.Errorf("record of image %s: unknown action %q: %w", r.Image, r.Action, ErrInvalidRecord)
	case r.Time.IsZero():
		return fmt.Errorf("record of image %s: no time: %w", r.Image, ErrInvalidRecord)
	}
	return nil
}

// inNamespace reports whether a namespace-scoped caller may see the record: it concerns a
// stream item of the namespace, or a referrer in it. Records about the Image object alone
// (cluster-scoped) need the cluster scope.
func (r Record) inNamespace(ns string) bool {
	if r.StreamItem != nil && repoNamespace(r.StreamItem.Repo) == ns {
		return true
	}
	for _, ref := range r.Referrers {
		if ref.Object.Namespace == ns {
			return true
		}
	}
	return false
}

// narrowed returns the record with only the referrers of namespace ns.
func (r Record) narrowed(ns string) Record {
	var refs []model.Referrer
	for _, ref := range r.Referrers {
		if ref.Object.Namespace == ns {
			refs = append(refs, ref)
		}
	}
	r.Referrers = refs
	return r
}
