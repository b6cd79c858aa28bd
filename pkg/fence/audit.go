package fence

import (
	"context"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// DenialRecord is the audit record of one denial. Actor is the user whose request was
// refused (r.User), so that "who tried to use the image while it was pruned" is answered by
// the trail; the replica that refused it is stamped as Replica by the audit.Recorder. An
// empty r.User leaves Actor empty, and the Recorder then names the replica. The denied
// object is the record's referrer, with the reference that hit the fence, so a namespace's
// history shows the denials of its own objects.
func DenialRecord(r Request, d Denial, now time.Time) audit.Record {
	key := model.ObjectKey{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
	if ref := r.New.Referrer; ref != nil {
		key = ref.Key
	}
	name := key.Name
	if name == "" {
		name = "(generated name)"
	}
	where := name
	if key.Namespace != "" {
		where = key.Namespace + "/" + name
	}
	return audit.Record{
		Time: now, Action: audit.ActionDenied, Image: d.Image, Rule: "fence " + d.Fence, Actor: r.User,
		Referrers: []model.Referrer{{Object: key, Ref: d.Ref}},
		Message:   strings.ToLower(r.Operation) + " " + r.Kind + " " + where + " refused: " + d.Message,
	}
}

// DenialAuditor counts denials and writes them to the audit trail. Its OnDeny is meant for
// Checker.OnDeny: it runs on the admission path, so the record is written in the background
// (denials are rare: a fence stands for seconds).
type DenialAuditor struct {
	// Recorder writes the trail, the log line and the Event; nil records nothing.
	Recorder *audit.Recorder
	// Metrics counts the denial by reason; nil counts nothing.
	Metrics *audit.Metrics
	Logger  logr.Logger
	// Now stamps the record; nil means time.Now.
	Now func() time.Time
}

// OnDeny records one denial. See DenialRecord for what the record says.
func (a *DenialAuditor) OnDeny(_ context.Context, r Request, d Denial) {
	if a.Metrics != nil {
		reason := audit.DeniedFenced
		if d.Tombstone() {
			reason = audit.DeniedPruned
		}
		a.Metrics.AdmissionDenied(reason)
	}
	if a.Recorder == nil || d.Image == "" {
		return
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	rec := DenialRecord(r, d, now().UTC())
	go func() {
		if err := a.Recorder.Record(context.Background(), rec); err != nil {
			a.Logger.Error(err, "failed to record a denial in the audit trail", "image", d.Image, "user", r.User)
		}
	}()
}
