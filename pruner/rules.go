package pruner

import (
	"github.com/pruneguard/pruneguard/pkg/model"
)

// The rules are small functions of what one decision needs, so that the full plan, the plan
// of one stream and the plan of one image all apply the same code. Each returns the decision
// and whether it applies; the callers try them in oc's order and fetch from the index only
// what the next rule reads.

// item locates one stream item; rev is its 0-based position in the tag's history.
type item struct {
	stream model.Stream
	tag    string
	rev    int
	item   model.TagItem
}

// reason starts a decision about the item.
func (p Policy) reason(it item, rule Rule, keep bool) Reason {
	return Reason{
		Rule: rule, Keep: keep, Stage: 1, Stream: it.stream.Repo(), Tag: it.tag, Revision: it.rev + 1,
		Image: it.item.Image, Created: it.item.Created, policy: p,
	}
}

// ruleStreamYoung: outside over-size mode, a stream created after the cutoff keeps every item.
func (p Policy) ruleStreamYoung(s model.Stream) bool {
	return !p.PruneOverSizeLimit && p.young(s.Created)
}

// ruleItemYoung: an item created after the cutoff is kept.
func (p Policy) ruleItemYoung(it item) (Reason, bool) {
	return p.reason(it, RuleItemYoung, true), p.young(it.item.Created)
}

// ruleTagReferenced: revision 1 of a tag is kept while a counted referrer names the tag.
// tagRefs are the referrers of the tag, counted or not; only rev 0 consults them.
func (p Policy) ruleTagReferenced(it item, tagRefs []model.Referrer) (Reason, bool) {
	if it.rev != 0 {
		return Reason{}, false
	}
	used := p.counted(tagRefs)
	r := p.reason(it, RuleTagReferenced, true)
	r.Referrers = used
	return r, len(used) > 0
}

// ruleImageMissing: an item whose Image object does not exist is dropped.
func (p Policy) ruleImageMissing(it item, found bool) (Reason, bool) {
	return p.reason(it, RuleImageMissing, false), !found
}

// ruleRevisionsOrSize: outside over-size mode, the newest KeepTagRevisions revisions are kept;
// in over-size mode, an item whose image does not exceed its namespace's limit is kept.
func (p Policy) ruleRevisionsOrSize(it item, img model.Image, limits []model.LimitRange) (Reason, bool) {
	if !p.PruneOverSizeLimit {
		return p.reason(it, RuleTagRevisions, true), it.rev < p.KeepTagRevisions
	}
	exceeds, limit := exceedsLimit(img, limits)
	r := p.reason(it, RuleWithinSizeLimit, true)
	r.Size, r.Limit = img.Size, limit
	return r, !exceeds
}

// ruleDigestReferenced: an item is kept while a counted referrer names NAMESPACE/STREAM@digest.
func (p Policy) ruleDigestReferenced(it item, digestRefs []model.Referrer) (Reason, bool) {
	used := p.counted(digestRefs)
	r := p.reason(it, RuleDigestReferenced, true)
	r.Referrers = used
	return r, len(used) > 0
}

// ruleItemPrunable: what no rule keeps is dropped.
func (p Policy) ruleItemPrunable(it item, img model.Image, limits []model.LimitRange) Reason {
	r := p.reason(it, RuleItemPrunable, false)
	if p.PruneOverSizeLimit {
		_, r.Limit = exceedsLimit(img, limits)
		r.Size = img.Size
	}
	return r
}

// imageReason starts a decision about an image.
func (p Policy) imageReason(img model.Image, rule Rule, keep bool) Reason {
	return Reason{Rule: rule, Keep: keep, Stage: 2, Image: img.Digest, Created: img.Created, policy: p}
}

// holder is what keeps an image in stage 2: a stream item, or (for a manifest list) the
// referrers that name it; list is set when the image is kept as a child of that list.
type holder struct {
	stream, tag string
	rev         int
	list        string
	referrers   []model.Referrer
}

// ruleHeld: an image held by a stream item after stage 1, or a child of a manifest list that
// is held or named by a referrer, is kept.
func (p Policy) ruleHeld(img model.Image, h holder, ok bool) (Reason, bool) {
	if !ok {
		return Reason{}, false
	}
	rule := RuleHeldByStream
	if h.list != "" {
		rule = RuleChildOfHeldList
	}
	r := p.imageReason(img, rule, true)
	r.Stream, r.Tag, r.Revision, r.List, r.Referrers = h.stream, h.tag, h.rev+1, h.list, h.referrers
	return r, true
}

// ruleUnmanaged: with --all=false an image not managed by OpenShift is kept.
func (p Policy) ruleUnmanaged(img model.Image) (Reason, bool) {
	return p.imageReason(img, RuleUnmanaged, true), !p.AllImages && !img.Managed
}

// ruleImageYoung: outside over-size mode an image created after the cutoff is kept.
func (p Policy) ruleImageYoung(img model.Image) (Reason, bool) {
	return p.imageReason(img, RuleImageYoung, true), !p.PruneOverSizeLimit && p.young(img.Created)
}

// ruleDigestNamed (pruneguard): an image whose digest a counted referrer names is kept.
func (p Policy) ruleDigestNamed(img model.Image, refs []model.Referrer) (Reason, bool) {
	used := p.counted(refs)
	r := p.imageReason(img, RuleDigestNamed, true)
	r.Referrers = used
	return r, len(used) > 0
}

// Manifest media types whose config blob oc counts (schema 2 and OCI image manifests).
const (
	mediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
)

// imageBlobs lists the blobs of an image as oc counts them: its layers in order (a layer
// listed twice counts twice), then its config blob when the manifest type has one. The
// manifest blob, named by the image digest, is not included.
func imageBlobs(img model.Image) []string {
	blobs := make([]string, 0, len(img.Layers)+1)
	for _, l := range img.Layers {
		blobs = append(blobs, l.Digest)
	}
	hasConfig := img.ManifestMediaType == mediaTypeDockerManifest || img.ManifestMediaType == mediaTypeOCIManifest
	if hasConfig && img.Config != "" {
		blobs = append(blobs, img.Config)
	}
	return blobs
}
