package fence_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/fence"
	"github.com/pruneguard/pruneguard/pkg/model"
)

const replica = "pruneguard-7d9f-0"

func TestDenialRecordNamesTheUserAndTheDeniedObject(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		req       fence.Request
		wantActor string
		wantKey   model.ObjectKey
		wantRef   model.Ref
		wantMsg   string
	}{
		{"a pod refused for a fenced digest names the user who sent it, the pod and the reference",
			fence.Request{Operation: "CREATE", Kind: "Pod", Namespace: "team", Name: "p", User: "system:serviceaccount:team:deployer",
				New: pod(digestRef(dA))},
			"system:serviceaccount:team:deployer", model.ObjectKey{Kind: model.KindPod, Namespace: "team", Name: "p"}, digestRef(dA),
			"create Pod team/p refused: pruneguard: image " + dA + " is being pruned"},
		{"an image stream mapping, which is no referrer, is named by its kind, namespace and name",
			fence.Request{Operation: "CREATE", Kind: "ImageStreamMapping", Namespace: "team", Name: "web", User: "alice",
				Raw: []byte(`{"kind":"ImageStreamMapping","apiVersion":"image.openshift.io/v1","tag":"v3","image":{"metadata":{"name":"` + dA + `"}}}`)},
			"alice", model.ObjectKey{Kind: "ImageStreamMapping", Namespace: "team", Name: "web"}, model.Ref{},
			"create ImageStreamMapping team/web refused"},
		{"a request without a user leaves the actor to the recorder",
			fence.Request{Operation: "UPDATE", Kind: "Pod", New: pod(tagRef("v1"))},
			"", model.ObjectKey{Kind: model.KindPod, Namespace: "team", Name: "p"}, tagRef("v1"),
			"update Pod team/p refused: pruneguard: image stream tag team/web:v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []audit.Record
			c := &fence.Checker{Source: staticSource{fence.NewSet(fences())},
				OnDeny: func(_ context.Context, r fence.Request, d fence.Denial) {
					got = append(got, fence.DenialRecord(r, d, now))
				}}
			if c.Check(context.Background(), tc.req) == "" {
				t.Fatal("allowed")
			}
			if len(got) != 1 {
				t.Fatalf("%d records", len(got))
			}
			rec := got[0]
			if rec.Action != audit.ActionDenied || rec.Image != dA || rec.Rule != "fence prune-live" || !rec.Time.Equal(now) {
				t.Errorf("record %+v", rec)
			}
			if rec.Actor != tc.wantActor {
				t.Errorf("actor %q, want %q", rec.Actor, tc.wantActor)
			}
			if len(rec.Referrers) != 1 || rec.Referrers[0].Object != tc.wantKey || rec.Referrers[0].Ref != tc.wantRef {
				t.Errorf("referrers %+v, want %v with %+v", rec.Referrers, tc.wantKey, tc.wantRef)
			}
			if !strings.HasPrefix(rec.Message, tc.wantMsg) {
				t.Errorf("message %q, want prefix %q", rec.Message, tc.wantMsg)
			}
		})
	}
}

// TestDenialAuditorStoresTheUserAsActor runs the checker's denial through the real recorder
// into a trail on disk: the stored record names the user, and the replica apart.
func TestDenialAuditorStoresTheUserAsActor(t *testing.T) {
	trail, err := audit.OpenTrail(audit.TrailOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = trail.Close() })
	a := &fence.DenialAuditor{Recorder: audit.NewRecorder(audit.RecorderOptions{Trail: trail, Actor: replica}), Logger: logr.Discard()}
	c := &fence.Checker{Source: staticSource{fence.NewSet(fences())}, OnDeny: a.OnDeny}
	ctx := context.Background()
	for _, user := range []string{"alice", ""} {
		req := fence.Request{Operation: "CREATE", Kind: "Pod", Namespace: "team", Name: "p", User: user, New: pod(digestRef(dA))}
		if c.Check(ctx, req) == "" {
			t.Fatal("allowed")
		}
	}
	recs := waitRecords(t, trail, dA, 2)
	actors := map[string]string{}
	for _, r := range recs {
		actors[r.Actor] = r.Replica
	}
	if len(actors) != 2 || actors["alice"] != replica || actors[replica] != replica {
		t.Errorf("actor → replica of the stored records: %v; want alice and, for the request without a user, the replica", actors)
	}
}

// waitRecords polls the trail until it holds n records of image (the auditor writes in the
// background) and returns them.
func waitRecords(t *testing.T, trail *audit.Trail, image string, n int) []audit.Record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		recs, _, err := trail.Records(context.Background(), image, "", 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the trail holds %d records of %s after 30s, want %d", len(recs), image, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
