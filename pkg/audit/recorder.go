package audit

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// EventRecorder publishes Kubernetes Events. Its method is that of client-go's
// k8s.io/client-go/tools/events.EventRecorder (events.k8s.io/v1), so serve passes the
// recorder of an events.EventBroadcaster as is; regarding is a *corev1.ObjectReference.
type EventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...interface{})
}

// RecorderOptions configure NewRecorder. Every field is optional: a Recorder without a Trail
// only logs and sends Events.
type RecorderOptions struct {
	Trail  *Trail
	Events EventRecorder
	Logger logr.Logger
	// Actor is this replica's identity (e.g. its pod name): stamped as Replica on every
	// record, and as Actor on records that name none (the pruner's own actions).
	Actor string
	// Now stamps records without a time; nil means time.Now.
	Now func() time.Time
}

// Recorder writes the audit trail: each Record is stored, logged as one structured line and
// published as an Event. Callers record decisions about prune candidates and actions (a
// fence raised or lifted, a delete, a denial), not every "kept" of every planning pass: the
// trail is history, not a copy of the plan.
type Recorder struct {
	o RecorderOptions
}

// NewRecorder returns a Recorder.
func NewRecorder(o RecorderOptions) *Recorder {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Recorder{o: o}
}

// Log keys of an audit line, defined once.
const (
	logAction    = "action"
	logImage     = "image"
	logStream    = "imageStream"
	logTag       = "tag"
	logPosition  = "position"
	logRule      = "rule"
	logReferrers = "referrers"
	logActor     = "actor"
	logReplica   = "replica"
	logMessage   = "message"
)

// Record stores rec (filling Time, Actor and Replica when unset), then logs it and sends its
// Event.
// Only storing can fail; the line and the Event are emitted even then, so that a broken trail
// database never hides what happened.
func (r *Recorder) Record(ctx context.Context, rec Record) error {
	if rec.Time.IsZero() {
		rec.Time = r.o.Now().UTC()
	}
	if rec.Actor == "" {
		rec.Actor = r.o.Actor
	}
	if rec.Replica == "" {
		rec.Replica = r.o.Actor
	}
	if err := rec.validate(); err != nil {
		return err
	}
	var err error
	if r.o.Trail != nil {
		err = r.o.Trail.Append(ctx, rec)
	}
	r.log(rec)
	if r.o.Events != nil {
		r.event(rec)
	}
	return err
}

func (r *Recorder) log(rec Record) {
	kv := []any{logAction, string(rec.Action), logImage, rec.Image}
	if it := rec.StreamItem; it != nil {
		kv = append(kv, logStream, it.Repo, logTag, it.Tag, logPosition, it.Position)
	}
	if rec.Rule != "" {
		kv = append(kv, logRule, rec.Rule)
	}
	if len(rec.Referrers) > 0 {
		kv = append(kv, logReferrers, describeReferrers(rec.Referrers))
	}
	kv = append(kv, logActor, rec.Actor, logReplica, rec.Replica, logMessage, rec.Message)
	r.o.Logger.Info("image audit record", kv...)
}

// describeReferrers names referrers as "Kind/ns/name field" for log lines.
func describeReferrers(refs []model.Referrer) []string {
	out := make([]string, 0, len(refs))
	for _, ref := range refs {
		s := ref.Object.String() + " " + ref.Ref.FieldPath
		if ref.Pending {
			s += " (pending)"
		}
		out = append(out, s)
	}
	return out
}

// Event reasons, one per action (CamelCase, as Kubernetes reasons are).
var eventReasons = map[Action]string{
	ActionFenced:  "ImageFenced",
	ActionDenied:  "ReferenceDenied",
	ActionDeleted: "ImagePruned",
	ActionKept:    "ImageKept",
	ActionLifted:  "FenceLifted",
}

// maxEventNote is the limit of events.k8s.io/v1 Event.note (1 kB).
const maxEventNote = 1024

func (r *Recorder) event(rec Record) {
	eventType := corev1.EventTypeNormal
	if rec.Action == ActionDenied {
		eventType = corev1.EventTypeWarning
	}
	note := rec.Message
	if note == "" {
		note = fmt.Sprintf("image %s %s", rec.Image, rec.Action)
	}
	if rec.Rule != "" {
		note += " (rule " + rec.Rule + ")"
	}
	if len(note) > maxEventNote {
		note = note[:maxEventNote-3] + "..."
	}
	// The note is passed as an argument, never as the format: messages contain '%' freely.
	r.o.Events.Eventf(regarding(rec), nil, eventType, eventReasons[rec.Action], string(rec.Action), "%s", note)
}

// regarding is the object an Event is about: the ImageStream of a stream-item decision, else
// the (cluster-scoped) Image.
func regarding(rec Record) *corev1.ObjectReference {
	if it := rec.StreamItem; it != nil {
		ns, name, _ := strings.Cut(it.Repo, "/")
		return &corev1.ObjectReference{APIVersion: "image.openshift.io/v1", Kind: model.KindImageStream,
			Namespace: ns, Name: name}
	}
	name := rec.ImageName
	if name == "" {
		name = rec.Image
	}
	return &corev1.ObjectReference{APIVersion: "image.openshift.io/v1", Kind: model.KindImage, Name: name}
}
