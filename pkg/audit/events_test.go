package audit_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"

	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/scheme"
	"github.com/pruneguard/pruneguard/pkg/testenv"
)

// checkTrailEvents records through a Recorder wired to client-go's events.k8s.io recorder and
// waits for the Events to appear in the API server, on the Image and on the ImageStream.
func checkTrailEvents(t *testing.T, c *cluster) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := newEventRecorder(ctx, t, c.cs)
	trail, err := audit.OpenTrail(audit.TrailOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = trail.Close() })
	rec := audit.NewRecorder(audit.RecorderOptions{Trail: trail, Events: events, Actor: "pruneguard"})
	item := c.unused.Digest
	modelItem := model.StreamItem{Repo: "shop/old", Tag: "v1", Position: 0}
	records := []audit.Record{
		{Action: audit.ActionFenced, Image: item, ImageName: testenv.ImageObjectName(item), Message: "fenced for deletion"},
		{Action: audit.ActionDeleted, Image: item, StreamItem: &modelItem, Rule: "item-prunable", Message: "revision 1 of shop/old:v1 pruned"},
	}
	for _, r := range records {
		if err := rec.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{"ImageFenced": "default/Image/" + testenv.ImageObjectName(item), "ImagePruned": "shop/ImageStream/old"}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		got := map[string]string{}
		for _, ns := range []string{"default", "shop"} {
			list, err := c.cs.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range list.Items {
				got[e.Reason] = e.Namespace + "/" + e.Regarding.Kind + "/" + e.Regarding.Name
			}
		}
		if got["ImageFenced"] == want["ImageFenced"] && got["ImagePruned"] == want["ImagePruned"] {
			stored, _, err := trail.Records(ctx, item, "", 0, nil)
			if err != nil || len(stored) != 2 {
				t.Errorf("trail holds %d records (%v), want 2", len(stored), err)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("events by reason never became %v", want)
}

// client-go's events.k8s.io recorder is what serve passes as the Recorder's Events.
var _ audit.EventRecorder = events.EventRecorder(nil)

// newEventRecorder returns an events.k8s.io/v1 recorder writing to the API server until ctx ends.
func newEventRecorder(ctx context.Context, t *testing.T, cs *kubernetes.Clientset) audit.EventRecorder {
	t.Helper()
	b := events.NewBroadcaster(&events.EventSinkImpl{Interface: cs.EventsV1()})
	if err := b.StartRecordingToSinkWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Shutdown)
	return b.NewRecorder(scheme.New(), "pruneguard")
}
