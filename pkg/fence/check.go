package fence

import (
	"context"
	"encoding/json"
	"time"

	imagev1 "github.com/openshift/api/image/v1"

	"github.com/pruneguard/pruneguard/pkg/extract"
	"github.com/pruneguard/pruneguard/pkg/imageref"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/webhook"
)

// Kinds the webhook is sent only for the fence: they are not stored, so extract does not read
// them, and the check decodes them itself.
const (
	kindImageStreamTag     = "ImageStreamTag"
	kindImageStreamMapping = "ImageStreamMapping"
)

// Request is one admission as the check sees it.
type Request struct {
	// Operation is CREATE or UPDATE; Kind the object's kind; Namespace and Name its namespace
	// and name (Name may be "" for a create with generateName).
	Operation, Kind, Namespace, Name string
	// User is who sent the request (the admission review's username); a denial is recorded
	// against this user, not against the replica that answered.
	User string
	// New is what the admitted object contributes; Old what its previous version did (nil
	// for a CREATE, or when unknown: then every reference of New counts as new).
	New extract.Result
	Old *extract.Result
	// Raw is the object's JSON, read for the kinds extract does not know (ImageStreamTag,
	// ImageStreamMapping).
	Raw []byte
}

// Denial is why a request is refused.
type Denial struct {
	Entry
	// What names what hit the fence: "image D", "image stream tag ns/is:tag", "blob B".
	What string
	// Message is the text the user sees.
	Message string
	// Ref is the reference of the object that hit the fence; zero when the hit was not a
	// reference (an image stream's status, an Image push, a blob).
	Ref model.Ref
}

// Source gives the set of fences a check reads; *Watcher implements it.
type Source interface {
	Fences() *Set
}

// Checker is the admission check of the fence: it refuses a new reference to a fenced image
// (by digest, or by a tag whose current item is fenced), and a write of the image API that
// would re-reference a fenced image or link a blob being freed. It reads only memory, so it
// answers within the webhook's budget, and it never refuses a request that names nothing
// fenced. Dry-run requests are checked like any other: the verify step is one.
type Checker struct {
	Source Source
	// RetryAfter is how long the message tells the user to wait: about how long a fence
	// stands (propagation, verification, re-check and deletion). 0 means DefaultRetryAfter.
	RetryAfter time.Duration
	// OnDeny, when set, is called with every denial (metrics, audit).
	OnDeny func(context.Context, Request, Denial)
}

// DefaultRetryAfter is the wait a denial suggests: a fence normally stands for seconds; half
// a minute also covers a slow re-check.
const DefaultRetryAfter = 30 * time.Second

var _ webhook.Fence = (*Checker)(nil)

// Deny implements webhook.Fence.
func (c *Checker) Deny(ctx context.Context, a webhook.Admission) string {
	return c.Check(ctx, Request{Operation: a.Operation, Kind: a.Key.Kind, Namespace: a.Key.Namespace, Name: a.Key.Name,
		User: a.User, New: a.Result, Old: a.Old, Raw: a.Raw})
}

// Check returns the denial message for r, or "" to allow it.
func (c *Checker) Check(ctx context.Context, r Request) string {
	s := c.Source.Fences()
	if s.Len() == 0 {
		return ""
	}
	d, ok := c.find(s, r)
	if !ok {
		return ""
	}
	d.Message = c.message(d)
	if c.OnDeny != nil {
		c.OnDeny(ctx, r, d)
	}
	return d.Message
}

// find returns the first fenced thing r adds.
func (c *Checker) find(s *Set, r Request) (Denial, bool) {
	if ref := r.New.Referrer; ref != nil {
		var old []model.Ref
		if r.Old != nil && r.Old.Referrer != nil {
			old = r.Old.Referrer.Refs
		}
		if d, ok := checkRefs(s, ref.Refs, old); ok {
			return d, true
		}
	}
	if st := r.New.Stream; st != nil {
		var old *model.Stream
		if r.Old != nil {
			old = r.Old.Stream
		}
		if d, ok := checkStream(s, *st, old); ok {
			return d, true
		}
	}
	if img := r.New.Image; img != nil && r.Operation == "CREATE" {
		if d, ok := checkImage(s, *img); ok {
			return d, true
		}
	}
	switch r.Kind {
	case kindImageStreamMapping:
		return checkMapping(s, r.Raw)
	case kindImageStreamTag:
		return checkStreamTag(s, r.Namespace, r.Raw)
	}
	return Denial{}, false
}

// checkRefs checks the references of refs that old does not have. A digest hits a standing
// fence or a tombstone; a tag hits only a standing fence (once pruned, the tag names whatever
// is current, which is no concern of the fence).
func checkRefs(s *Set, refs, old []model.Ref) (Denial, bool) {
	for _, r := range refs {
		if r.Invalid != "" || hasRef(old, r) {
			continue
		}
		if r.Digest != "" {
			if e, ok := s.Image(r.Digest); ok {
				return Denial{Entry: e, What: "image " + r.Digest, Ref: r}, true
			}
			continue
		}
		if r.Repo == "" {
			continue
		}
		if e, ok := s.Tag(r.Repo, r.Tag); ok && !e.Tombstone() {
			return Denial{Entry: e, What: "image stream tag " + r.Repo + ":" + r.Tag, Ref: r}, true
		}
	}
	return Denial{}, false
}

func hasRef(refs []model.Ref, r model.Ref) bool {
	for _, o := range refs {
		if o.Repo == r.Repo && o.Tag == r.Tag && o.Digest == r.Digest && o.Invalid == "" {
			return true
		}
	}
	return false
}

// checkStream refuses a stream whose status names a fenced image its old status did not. A
// tombstone does not refuse pushes: pushing a pruned image again is how it comes back.
func checkStream(s *Set, st model.Stream, old *model.Stream) (Denial, bool) {
	had := map[string]bool{}
	if old != nil {
		for _, t := range old.Tags {
			for _, it := range t.Items {
				had[it.Image] = true
			}
		}
	}
	for _, t := range st.Tags {
		for _, it := range t.Items {
			if had[it.Image] {
				continue
			}
			if e, ok := s.Image(it.Image); ok && !e.Tombstone() {
				return Denial{Entry: e, What: "image " + it.Image}, true
			}
		}
	}
	return Denial{}, false
}

// checkImage refuses an Image create of a fenced image, or one that uses a blob being freed.
func checkImage(s *Set, img model.Image) (Denial, bool) {
	if e, ok := s.Image(img.Digest); ok && !e.Tombstone() {
		return Denial{Entry: e, What: "image " + img.Digest}, true
	}
	blobs := make([]string, 0, len(img.Layers)+1)
	for _, l := range img.Layers {
		blobs = append(blobs, l.Digest)
	}
	if img.Config != "" {
		blobs = append(blobs, img.Config)
	}
	for _, b := range blobs {
		if e, ok := s.Blob(b); ok && !e.Tombstone() {
			return Denial{Entry: e, What: "blob " + b}, true
		}
	}
	return Denial{}, false
}

// checkMapping checks the image an ImageStreamMapping (a push) tags into a stream.
func checkMapping(s *Set, raw []byte) (Denial, bool) {
	var m imagev1.ImageStreamMapping
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return Denial{}, false
	}
	img, err := extract.Image(&m.Image)
	if err != nil {
		img = model.Image{Digest: extract.ImageDigest(&m.Image)}
	}
	return checkImage(s, img)
}

// checkStreamTag checks what an ImageStreamTag write makes the tag name: its image, or the
// reference its tag.from follows.
func checkStreamTag(s *Set, namespace string, raw []byte) (Denial, bool) {
	var ist imagev1.ImageStreamTag
	if len(raw) == 0 || json.Unmarshal(raw, &ist) != nil {
		return Denial{}, false
	}
	if d := extract.ImageDigest(&ist.Image); d != "" {
		if e, ok := s.Image(d); ok && !e.Tombstone() {
			return Denial{Entry: e, What: "image " + d}, true
		}
	}
	if ist.Tag == nil || ist.Tag.From == nil {
		return Denial{}, false
	}
	ref, ok, err := imageref.ObjectReference(*ist.Tag.From, namespace)
	if !ok || err != nil {
		return Denial{}, false
	}
	return checkRefs(s, []model.Ref{ref}, nil)
}
