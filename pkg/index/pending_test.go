package index

import (
	"context"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

func TestPendingReferences(t *testing.T) {
	d, d2 := digestOf("a"), digestOf("b")
	admitted := podObject("web", "", digestRef("spec.containers[a].image", "ns/is", d))
	other := podObject("web", "Running", digestRef("spec.containers[a].image", "ns/is", d2))
	key := admitted.Key
	expires := t0.Add(time.Minute)
	tests := []struct {
		behaviour string
		ops       []Op
		digest    string
		want      []string
	}{
		{"a pending reference is returned with Pending", []Op{PutPending(admitted, expires)}, d,
			[]string{"Pod/ns/web spec.containers[a].image pending"}},
		{"a watch carrying the pending references confirms them",
			[]Op{PutPending(admitted, expires), PutObject(admitted)}, d,
			[]string{"Pod/ns/web spec.containers[a].image"}},
		{"a watch of an older version keeps the pending references",
			[]Op{PutPending(admitted, expires), PutObject(other)}, d,
			[]string{"Pod/ns/web spec.containers[a].image pending"}},
		{"confirm drops the pending references whatever the object holds",
			[]Op{PutPending(admitted, expires), Confirm(other)}, d, []string{}},
		{"confirm makes the object confirmed",
			[]Op{PutPending(admitted, expires), Confirm(other)}, d2, []string{"Pod/ns/web spec.containers[a].image"}},
		{"a confirmed and a pending version of one object are both returned",
			[]Op{PutObject(admitted), PutPending(admitted, expires)}, d,
			[]string{"Pod/ns/web spec.containers[a].image", "Pod/ns/web spec.containers[a].image pending"}},
		{"deleting the confirmed object keeps a pending re-creation",
			[]Op{PutObject(other), PutPending(admitted, expires), DeleteObject(key)}, d,
			[]string{"Pod/ns/web spec.containers[a].image pending"}},
		{"delete pending removes it", []Op{PutPending(admitted, expires), DeletePending(key)}, d, []string{}},
		{"a re-announced pending record replaces the earlier one",
			[]Op{PutPending(admitted, expires), PutPending(other, expires)}, d, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			ix, _ := openTest(t)
			mustApply(t, ix, tt.ops...)
			if got := referrersOfDigest(t, ix, "", tt.digest); !equalStrings(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			mustCheck(t, ix)
		})
	}
}

func TestConfirmedReferenceKeepsThePendingSince(t *testing.T) {
	ix, clock := openTest(t)
	o := podObject("web", "", digestRef("f", "ns/is", digestOf("a")))
	mustApply(t, ix, PutPending(o, t0.Add(time.Hour)))
	clock.Advance(10 * time.Minute)
	mustApply(t, ix, PutObject(o))
	rs, _ := ix.ReferrersOfDigest(context.Background(), "", digestOf("a"))
	if len(rs) != 1 || rs[0].Pending || !rs[0].Since.Equal(t0) {
		t.Fatalf("want one confirmed referrer recorded since the admission, got %+v", rs)
	}
}

func TestExpirePending(t *testing.T) {
	ix, clock := openTest(t)
	d := digestOf("a")
	obj := func(name string) model.Object { return podObject(name, "", digestRef("f", "ns/is", d)) }
	mustApply(t, ix,
		PutPending(obj("soon"), t0.Add(time.Minute)),
		PutPending(obj("later"), t0.Add(time.Hour)),
		PutPending(obj("renewed"), t0.Add(time.Minute)),
		PutPending(obj("renewed"), t0.Add(2*time.Hour)),
	)
	clock.Advance(30 * time.Minute)
	n, err := ix.ExpirePending(context.Background(), clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("expired %d records, want 1 (soon)", n)
	}
	want := []string{"Pod/ns/later f pending", "Pod/ns/renewed f pending"}
	if got := referrersOfDigest(t, ix, "", d); !equalStrings(got, want) {
		t.Errorf("got %v, want %v: a renewed record keeps its new expiry", got, want)
	}
	n, err = ix.ExpirePending(context.Background(), t0.Add(3*time.Hour))
	if err != nil || n != 2 {
		t.Errorf("expired %d, %v; want the remaining 2", n, err)
	}
	var left int
	_ = ix.PendingObjects(context.Background(), func(PendingObject) error { left++; return nil })
	if left != 0 {
		t.Errorf("%d pending records left", left)
	}
	mustCheck(t, ix)
}

func TestExpirePendingManyRecordsSpansBatches(t *testing.T) {
	ix, _ := openTest(t)
	var ops []Op
	for i := range expireBatch*2 + 5 {
		ops = append(ops, PutPending(podObject("p"+itoa(i), "", tagRef("f", "ns/is", "latest")), t0.Add(time.Duration(i)*time.Second)))
	}
	mustApply(t, ix, ops...)
	n, err := ix.ExpirePending(context.Background(), t0.Add(time.Duration(expireBatch*2)*time.Second))
	if err != nil || n != expireBatch*2+1 {
		t.Fatalf("expired %d, %v; want %d", n, err, expireBatch*2+1)
	}
	if got := referrersOfTag(t, ix, "ns/is", "latest"); len(got) != 4 {
		t.Fatalf("%d pending references left, want 4", len(got))
	}
}
