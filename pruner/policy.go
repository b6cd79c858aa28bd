package pruner

import (
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Pod phases in which oc counts a pod's references whatever its age.
const (
	podRunning = "Running"
	podPending = "Pending"
)

// Policy is what the rules read: the flags that decide, resolved, and the time they are
// evaluated at. Build it with Options.Policy.
//
// In over-size mode oc applies neither keep flag. The age rules of streams and images do not
// apply in that mode; those of stream items and pods are evaluated with a cutoff of Now (as
// with --keep-younger-than=0), which is what oc's conformance plans show: an item created
// exactly at Now is pruned when its image exceeds the limit.
type Policy struct {
	// Now is the time the policy is evaluated at (--now, or the clock of the caller).
	Now time.Time
	// KeepTagRevisions is the number of newest revisions kept per tag.
	KeepTagRevisions int
	// KeepYoungerThan protects what was created less than this long before Now.
	KeepYoungerThan time.Duration
	// PruneOverSizeLimit replaces the keep rules by the LimitRange size rule.
	PruneOverSizeLimit bool
	// AllImages false keeps every Image not annotated openshift.io/image.managed=true.
	AllImages bool
	// Namespace, when set, limits stage 1 to its streams and skips stage 2.
	Namespace string
	// PruneRegistry false plans no layer link, manifest link or blob deletion.
	PruneRegistry bool
	// IgnoreInvalidRefs makes invalid references protect nothing instead of aborting.
	IgnoreInvalidRefs bool
}

// Cutoff is the instant before which things are old enough to prune.
func (p Policy) Cutoff() time.Time { return p.Now.Add(-p.KeepYoungerThan) }

// young reports whether t is after the cutoff, oc's "younger than" test (strictly after).
func (p Policy) young(t time.Time) bool { return t.After(p.Cutoff()) }

// counts reports whether a reference is counted at all. oc ignores the references of a pod
// that is neither Running nor Pending unless it was created after the cutoff (a pod created
// exactly at the cutoff still counts). A pending reference, recorded at admission before any
// watch saw its object, always counts: its object may be starting right now.
func (p Policy) counts(kind, phase string, created time.Time, pending bool) bool {
	if pending || kind != model.KindPod {
		return true
	}
	if phase == podRunning || phase == podPending {
		return true
	}
	return !created.Before(p.Cutoff())
}

// countsReferrer applies counts to a referrer seen from the image side.
func (p Policy) countsReferrer(r model.Referrer) bool {
	return p.counts(r.Object.Kind, r.Phase, r.Created, r.Pending)
}

// countsObject applies counts to a referrer object.
func (p Policy) countsObject(o model.Object) bool {
	return p.counts(o.Key.Kind, o.Phase, o.Created, false)
}

// counted returns the referrers that count, in their order. It returns refs itself when all
// count, which is the common case and avoids a copy.
func (p Policy) counted(refs []model.Referrer) []model.Referrer {
	for i, r := range refs {
		if p.countsReferrer(r) {
			continue
		}
		out := append([]model.Referrer(nil), refs[:i]...)
		for _, r := range refs[i+1:] {
			if p.countsReferrer(r) {
				out = append(out, r)
			}
		}
		return out
	}
	return refs
}

// exceedsLimit reports whether img is larger than the smallest max.storage of the
// openshift.io/Image LimitRanges of a namespace, and the limit it exceeds. A LimitRange
// without max.storage (MaxImageSize 0) limits nothing, as in oc.
func exceedsLimit(img model.Image, limits []model.LimitRange) (bool, int64) {
	for _, l := range limits {
		if l.MaxImageSize > 0 && l.MaxImageSize < img.Size {
			return true, l.MaxImageSize
		}
	}
	return false, 0
}
