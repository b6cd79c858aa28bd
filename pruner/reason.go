package pruner

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Rule names one keep or drop rule of the policy. The values are stable: explain prints them
// and the audit trail stores them.
type Rule string

// Stage 1 rules, for one image stream item, in the order oc applies them.
const (
	// RuleOutsideNamespace keeps the items of streams outside --namespace (not considered).
	RuleOutsideNamespace Rule = "outside-namespace"
	// RuleStreamYoung keeps every item of a stream created after the cutoff.
	RuleStreamYoung Rule = "stream-younger-than"
	// RuleItemYoung keeps an item created after the cutoff.
	RuleItemYoung Rule = "item-younger-than"
	// RuleTagReferenced keeps revision 1 of a tag that a counted referrer names.
	RuleTagReferenced Rule = "tag-referenced"
	// RuleImageMissing drops an item whose Image object does not exist.
	RuleImageMissing Rule = "image-missing"
	// RuleTagRevisions keeps the newest --keep-tag-revisions revisions of a tag.
	RuleTagRevisions Rule = "keep-tag-revisions"
	// RuleWithinSizeLimit keeps, in over-size mode, an item whose image is within the limit.
	RuleWithinSizeLimit Rule = "within-size-limit"
	// RuleDigestReferenced keeps an item whose ns/is@digest a counted referrer names.
	RuleDigestReferenced Rule = "digest-referenced"
	// RuleItemPrunable drops an item no rule keeps.
	RuleItemPrunable Rule = "item-prunable"
)

// Stage 2 rules, for one Image, in the order pruneguard applies them.
const (
	// RuleNamespaceMode keeps every Image when --namespace is set: stage 2 does not run.
	RuleNamespaceMode Rule = "namespace-mode"
	// RuleHeldByStream keeps an Image that an image stream item still holds after stage 1.
	RuleHeldByStream Rule = "held-by-stream"
	// RuleChildOfHeldList keeps a child of a manifest list that is held or referenced.
	RuleChildOfHeldList Rule = "child-of-held-manifest-list"
	// RuleUnmanaged keeps, with --all=false, an Image not annotated as managed by OpenShift.
	RuleUnmanaged Rule = "unmanaged-image"
	// RuleImageYoung keeps an Image created after the cutoff (not in over-size mode).
	RuleImageYoung Rule = "image-younger-than"
	// RuleDigestNamed keeps an Image whose digest a counted referrer names under any
	// repository or none. pruneguard only: oc deletes such an image once no item holds it.
	RuleDigestNamed Rule = "digest-named"
	// RuleImageUnused drops an Image no rule keeps.
	RuleImageUnused Rule = "image-unused"
)

// Reason is one decision about a stream item or an Image: the rule, whether it keeps, and
// what the message needs (the referrers that protect, the sizes, the times). Reasons are
// built for every decision; the message text is only made when someone reads it.
type Reason struct {
	Rule Rule
	Keep bool
	// Stage is 1 for a decision about a stream item, 2 for one about an Image.
	Stage int
	// Stream is "NAMESPACE/NAME", Tag and Revision (1-based, as oc logs it) locate an item;
	// they are empty for an image decision unless Holder names the item that keeps it.
	Stream   string
	Tag      string
	Revision int
	// Image is the digest decided about.
	Image string
	// Created is the creation time compared with the cutoff by the age rules.
	Created time.Time
	// Size and Limit are the image size and the max.storage of the size rule.
	Size, Limit int64
	// List is the manifest list whose child the image is.
	List string
	// Referrers are the counted referrers that made a referenced rule keep.
	Referrers []model.Referrer
	// policy carries the flag values the message names.
	policy Policy
}

// PruneguardOnly is true when the decision keeps something that oc would not keep for this
// reason: the rule is pruneguard's own, or every referrer it names is one oc does not count.
func (r Reason) PruneguardOnly() bool {
	if !r.Keep {
		return false
	}
	if r.Rule == RuleDigestNamed {
		return true
	}
	if len(r.Referrers) == 0 {
		return false
	}
	for _, ref := range r.Referrers {
		if !ref.Ref.Extra {
			return false
		}
	}
	return true
}

// String is the decision as explain prints it: "kept: ..." or "pruned: ...".
func (r Reason) String() string {
	verb := "pruned: "
	if r.Keep {
		verb = "kept: "
	}
	return verb + r.Message()
}

// Message says why, without the verb.
func (r Reason) Message() string {
	item := fmt.Sprintf("revision %d of %s:%s", r.Revision, r.Stream, r.Tag)
	p := r.policy
	switch r.Rule {
	case RuleOutsideNamespace:
		return fmt.Sprintf("image stream %s is outside --namespace=%s", r.Stream, p.Namespace)
	case RuleStreamYoung:
		return fmt.Sprintf("image stream %s was created at %s, within --keep-younger-than=%s", r.Stream, stamp(r.Created), p.KeepYoungerThan)
	case RuleItemYoung:
		return fmt.Sprintf("%s was created at %s, within --keep-younger-than=%s", item, stamp(r.Created), p.KeepYoungerThan)
	case RuleTagReferenced:
		return fmt.Sprintf("%s is the current image of the tag, and the tag is used by %s", item, sample(r.Referrers))
	case RuleImageMissing:
		return fmt.Sprintf("%s names image %s, which does not exist", item, r.Image)
	case RuleTagRevisions:
		return fmt.Sprintf("%s is within --keep-tag-revisions=%d", item, p.KeepTagRevisions)
	case RuleWithinSizeLimit:
		return fmt.Sprintf("%s: image size %d does not exceed the openshift.io/Image limit of its namespace (--prune-over-size-limit)", item, r.Size)
	case RuleDigestReferenced:
		return fmt.Sprintf("%s: %s@%s is used by %s", item, r.Stream, r.Image, sample(r.Referrers))
	case RuleItemPrunable:
		return r.prunableItemMessage(item)
	case RuleNamespaceMode:
		return fmt.Sprintf("image %s: with --namespace=%s no Image object is deleted", r.Image, p.Namespace)
	case RuleHeldByStream:
		return fmt.Sprintf("image %s is held by %s after pruning the image streams", r.Image, item)
	case RuleChildOfHeldList:
		return r.childMessage(item)
	case RuleUnmanaged:
		return fmt.Sprintf("image %s is not managed by OpenShift (openshift.io/image.managed) and --all=false", r.Image)
	case RuleImageYoung:
		return fmt.Sprintf("image %s was created at %s, within --keep-younger-than=%s", r.Image, stamp(r.Created), p.KeepYoungerThan)
	case RuleDigestNamed:
		return fmt.Sprintf("image %s is used by %s (pruneguard rule: oc would delete it)", r.Image, sample(r.Referrers))
	case RuleImageUnused:
		return fmt.Sprintf("image %s: no image stream item holds it and nothing references it", r.Image)
	}
	return string(r.Rule)
}

func (r Reason) prunableItemMessage(item string) string {
	if r.policy.PruneOverSizeLimit {
		return fmt.Sprintf("%s: image size %d exceeds the openshift.io/Image limit %d of its namespace, and nothing references %s@%s",
			item, r.Size, r.Limit, r.Stream, r.Image)
	}
	return fmt.Sprintf("%s is older than --keep-younger-than=%s, beyond --keep-tag-revisions=%d, and nothing references %s@%s",
		item, r.policy.KeepYoungerThan, r.policy.KeepTagRevisions, r.Stream, r.Image)
}

func (r Reason) childMessage(item string) string {
	if r.Stream != "" {
		return fmt.Sprintf("image %s is a child of manifest list %s, which %s holds", r.Image, r.List, item)
	}
	return fmt.Sprintf("image %s is a child of manifest list %s, which is used by %s", r.Image, r.List, sample(r.Referrers))
}

// MarshalJSON writes the rule, the decision, the message and the referrers.
func (r Reason) MarshalJSON() ([]byte, error) {
	decision := "prune"
	if r.Keep {
		decision = "keep"
	}
	return json.Marshal(struct {
		Rule           Rule             `json:"rule"`
		Decision       string           `json:"decision"`
		Message        string           `json:"message"`
		PruneguardOnly bool             `json:"pruneguardOnly,omitempty"`
		Referrers      []model.Referrer `json:"referrers,omitempty"`
	}{r.Rule, decision, r.Message(), r.PruneguardOnly(), r.Referrers})
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// sample names up to three referrers, then how many more, as oc's log lines do.
func sample(refs []model.Referrer) string {
	limit := len(refs)
	if limit >= 5 {
		limit = 3
	}
	parts := make([]string, 0, limit)
	for _, r := range refs[:limit] {
		parts = append(parts, DescribeReferrer(r))
	}
	s := strings.Join(parts, ", ")
	if limit < len(refs) {
		s += fmt.Sprintf(", and %d more", len(refs)-limit)
	}
	return s
}

// DescribeReferrer names a referrer as explain prints it: "Pod ns/web-1 container app",
// "BuildConfig ns/app field spec.strategy.sourceStrategy.from", with a note for references
// oc does not count and for references recorded at admission and not yet confirmed.
func DescribeReferrer(r model.Referrer) string {
	var b strings.Builder
	b.WriteString(r.Object.Kind)
	b.WriteByte(' ')
	if r.Object.Namespace != "" {
		b.WriteString(r.Object.Namespace + "/")
	}
	b.WriteString(r.Object.Name)
	switch {
	case r.Ref.Container != "":
		b.WriteString(" container " + r.Ref.Container)
	case r.Ref.FieldPath != "":
		b.WriteString(" field " + r.Ref.FieldPath)
	}
	if r.Ref.Extra {
		b.WriteString(" (counted by pruneguard, not by oc)")
	}
	if r.Pending {
		b.WriteString(" (pending admission)")
	}
	return b.String()
}
