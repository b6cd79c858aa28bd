package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// recordedEvent is one call of fakeEvents.Eventf.
type recordedEvent struct {
	regarding         *corev1.ObjectReference
	eventType, reason string
	action, note      string
	related           runtime.Object
}

type fakeEvents struct {
	mu     sync.Mutex
	events []recordedEvent
}

func (f *fakeEvents) Eventf(regarding, related runtime.Object, eventType, reason, action, note string, args ...interface{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ref, _ := regarding.(*corev1.ObjectReference)
	f.events = append(f.events, recordedEvent{regarding: ref, related: related, eventType: eventType,
		reason: reason, action: action, note: fmt.Sprintf(note, args...)})
}

// jsonLines returns a JSON logger and the lines it wrote.
func jsonLines() (func() []map[string]any, func(string)) {
	var mu sync.Mutex
	var lines []string
	write := func(obj string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, obj)
	}
	read := func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		var out []map[string]any
		for _, l := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				panic(fmt.Sprintf("log line %q is not JSON: %v", l, err))
			}
			out = append(out, m)
		}
		return out
	}
	return read, write
}

func TestRecorderStoresLogsAndSendsEvents(t *testing.T) {
	tr := openTrail(t, t.TempDir())
	ev := &fakeEvents{}
	read, write := jsonLines()
	now := t0.Add(5 * time.Minute)
	r := NewRecorder(RecorderOptions{Trail: tr, Events: ev, Logger: funcr.NewJSON(write, funcr.Options{}),
		Actor: "system:serviceaccount:pruneguard:pruneguard", Now: func() time.Time { return now }})
	ctx := context.Background()
	ref := model.Referrer{Object: model.ObjectKey{Kind: model.KindPod, Namespace: "shop", Name: "web-1"},
		Ref: model.Ref{FieldPath: "spec.containers[app].image"}}
	recs := []Record{
		{Action: ActionKept, Image: imgA, StreamItem: &model.StreamItem{Repo: "shop/web", Tag: "v1"},
			Rule: "tag-referenced", Referrers: []model.Referrer{ref}, Message: "kept: used by Pod shop/web-1 (100%)"},
		{Action: ActionDenied, Image: imgA, ImageName: "sha256." + imgA[7:], Actor: "alice", Referrers: []model.Referrer{ref}},
		{Action: ActionDeleted, Image: imgB, Rule: "image-unused", Message: strings.Repeat("x", 2000)},
	}
	for _, rec := range recs {
		if err := r.Record(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("records are stored with the time and actor filled in", func(t *testing.T) {
		got, _, err := tr.Records(ctx, imgA, "", 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !got[0].Time.Equal(now) || got[0].Actor != "system:serviceaccount:pruneguard:pruneguard" ||
			got[1].Actor != "alice" || got[0].Rule != "tag-referenced" || got[0].StreamItem.Repo != "shop/web" {
			t.Errorf("stored %+v", got)
		}
	})
	t.Run("a record naming its actor (a denied user) keeps it, and the replica that wrote it is stamped apart", func(t *testing.T) {
		got, _, err := tr.Records(ctx, imgA, "", 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		const replica = "system:serviceaccount:pruneguard:pruneguard"
		if len(got) != 2 || got[0].Replica != replica || got[1].Actor != "alice" || got[1].Replica != replica {
			t.Errorf("stored %+v", got)
		}
		if l := read(); len(l) < 2 || l[1]["actor"] != "alice" || l[1]["replica"] != replica {
			t.Errorf("log line of the denial: %v", l)
		}
	})
	t.Run("each record is one JSON log line with its fields", func(t *testing.T) {
		lines := read()
		if len(lines) != 3 {
			t.Fatalf("%d lines, want 3", len(lines))
		}
		l := lines[0]
		want := map[string]any{"msg": "image audit record", "action": "kept", "image": imgA, "imageStream": "shop/web",
			"tag": "v1", "rule": "tag-referenced", "actor": "system:serviceaccount:pruneguard:pruneguard"}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("line[%s] = %v, want %v", k, l[k], v)
			}
		}
		if refs, _ := l["referrers"].([]any); len(refs) != 1 || refs[0] != "Pod/shop/web-1 spec.containers[app].image" {
			t.Errorf("line referrers = %v", l["referrers"])
		}
	})
	t.Run("events go to the ImageStream of an item decision, else to the Image by its object name", func(t *testing.T) {
		if len(ev.events) != 3 {
			t.Fatalf("%d events, want 3", len(ev.events))
		}
		kept, denied, deleted := ev.events[0], ev.events[1], ev.events[2]
		if r := kept.regarding; r.Kind != "ImageStream" || r.Namespace != "shop" || r.Name != "web" || r.APIVersion != "image.openshift.io/v1" {
			t.Errorf("kept regarding %+v", r)
		}
		if kept.reason != "ImageKept" || kept.eventType != corev1.EventTypeNormal || kept.action != "kept" ||
			kept.note != "kept: used by Pod shop/web-1 (100%) (rule tag-referenced)" {
			t.Errorf("kept event %+v", kept)
		}
		if r := denied.regarding; r.Kind != "Image" || r.Namespace != "" || r.Name != "sha256."+imgA[7:] {
			t.Errorf("denied regarding %+v", r)
		}
		if denied.eventType != corev1.EventTypeWarning || denied.reason != "ReferenceDenied" {
			t.Errorf("denied event %+v", denied)
		}
		if deleted.regarding.Name != imgB || len(deleted.note) != maxEventNote || !strings.HasSuffix(deleted.note, "...") {
			t.Errorf("deleted event: regarding %s, note of %d bytes", deleted.regarding.Name, len(deleted.note))
		}
	})
}

func TestRecorderLogsAndSendsEvenWhenStoringFails(t *testing.T) {
	tr, err := OpenTrail(TrailOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	ev := &fakeEvents{}
	read, write := jsonLines()
	r := NewRecorder(RecorderOptions{Trail: tr, Events: ev, Logger: funcr.NewJSON(write, funcr.Options{})})
	if err := r.Record(context.Background(), Record{Action: ActionDeleted, Image: imgA}); err == nil {
		t.Error("storing into a closed trail succeeded")
	}
	if len(read()) != 1 || len(ev.events) != 1 {
		t.Errorf("%d lines and %d events, want one each", len(read()), len(ev.events))
	}
}
